"""Fuzzing: every crash the fuzzers found stays fixed, and a short deterministic run of each
target (bench/fuzz.py --smoke: 2,000 inputs, seed 1) finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
#: Inputs that crashed a target once, named ``<target>__<what>``.
FOUND = sorted((Path(__file__).resolve().parent / "data" / "fuzz").iterdir())


@pytest.mark.parametrize("path", FOUND, ids=[p.name for p in FOUND])
def test_each_input_the_fuzzers_found_ends_in_a_result_or_an_error(path: Path) -> None:
    """The target's own function: anything but a result or a Part3DError/TencentError
    raises here."""
    from fuzz import _target

    _target(path.name.split("__")[0])(path.read_bytes())


def test_a_short_fuzzing_run_of_every_target_finds_no_crash(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert proc.stdout.count("crashes: 0") == 5
