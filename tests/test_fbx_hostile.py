"""Hostile FBX files end in a Part3DError quickly, in a process with capped memory."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from fbx_reference import FBX_DIR, reference

from part3d.errors import CorruptFileError
from part3d.io import fbx
from part3d.io.fbx.nodes import BINARY_MAGIC, MAX_VALUES

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from part3d.errors import Part3DError
    from part3d.io import fbx
    out = {}
    for path in sys.argv[1:]:
        t = time.perf_counter()
        try:
            fbx.read(path)
            result = "ok"
        except Part3DError as exc:
            result = "error"
        out[path] = [result, time.perf_counter() - t]
    print(json.dumps(out))
    """
)


def test_every_malformed_file_answers_within_two_seconds_without_crashing() -> None:
    paths = [str(FBX_DIR / n) for n in reference() if n.startswith("bad/")]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *paths], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert set(results) == set(paths)
    slow = {p: t for p, (_, t) in results.items() if t > 2.0}
    assert slow == {}


def test_millions_of_tiny_records_are_refused_not_loaded(tmp_path) -> None:
    # A binary FBX of empty sibling records: each 13-byte header plus a 1-byte name.
    count = MAX_VALUES + 10
    header = BINARY_MAGIC + b"\x00" + struct.pack("<I", 7400)
    layout = np.dtype([("end", "<u4"), ("n", "<u4"), ("len", "<u4"), ("nl", "u1"), ("name", "S1")])
    records = np.zeros(count, dtype=layout)
    records["end"] = len(header) + 14 * np.arange(1, count + 1)
    records["nl"], records["name"] = 1, b"A"
    path = tmp_path / "flood.fbx"
    path.write_bytes(header + records.tobytes() + bytes(13))
    t = time.perf_counter()
    with pytest.raises(CorruptFileError, match="more than .* nodes and properties"):
        fbx.read(path)
    assert time.perf_counter() - t < 30


def test_ascii_flood_of_values_is_refused(tmp_path) -> None:
    path = tmp_path / "flood.fbx"
    path.write_bytes(b"; FBX 7.4.0 project file\nA: " + b'"x",' * (MAX_VALUES + 10) + b"\n")
    with pytest.raises(CorruptFileError, match="more than .* nodes and properties"):
        fbx.read(path)


def test_arrays_are_refused_past_the_total_budget(monkeypatch) -> None:
    from part3d.io.fbx import nodes

    # The real budget is 3 GiB; a small one shows the check without inflating gigabytes.
    monkeypatch.setattr(nodes, "MAX_TOTAL_ARRAY_BYTES", 10_000)
    with pytest.raises(CorruptFileError, match="arrays would take more than 10000 bytes in all"):
        fbx.read(FBX_DIR.parent / "models" / "blender_293_barbarian_7400_binary.fbx")
