"""Coverage-guided fuzzing (atheris / libFuzzer) of the parsers that read untrusted input.

Targets: ``fbx_binary`` and ``fbx_ascii`` (the FBX byte layer and scene layer), ``obj`` (the
OBJ reader), ``segmentation`` (PartSegmentationInfo: the submit-time check and the core's
``parts.from_info`` against a real model) and ``params`` (the front door's flattened and JSON
parameter parsing and Submit/Query validation). Each input must end in a result or a
``Part3DError`` (``TencentError`` for the service); anything else is a crash, saved under the
output folder as ``crash-*`` by libFuzzer.

    python bench/fuzz.py [--targets a,b] [--runs N | --seconds S] [--out DIR] [--no-doc]
    python bench/fuzz.py --smoke      # every target, a fixed 2,000 runs with seed 1 (tests)

Seeds: the real files of ../shared/data (small FBX and OBJ files) and hand-written requests.
Figures (executions, seconds, crashes) go to docs/BENCHMARKS.md ("Fuzzing").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TARGETS = ("fbx_binary", "fbx_ascii", "obj", "segmentation", "params")
MAX_LEN = {"fbx_binary": 65536, "fbx_ascii": 8192, "obj": 16384, "segmentation": 4096,
           "params": 4096}  # fmt: skip


def _seeds(target: str, folder: Path) -> None:
    """Write the seed corpus of ``target`` to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if target in ("fbx_binary", "fbx_ascii"):
        for p in sorted((DATA / "fbx").glob("*.fbx")):
            head = p.read_bytes()[:20]
            binary = head.startswith(b"Kaydara FBX Binary")
            if (target == "fbx_binary") == binary and p.stat().st_size <= MAX_LEN[target]:
                files.append(p)
    elif target == "obj":
        files = [p for p in sorted((DATA / "models").glob("*.obj")) if p.stat().st_size < 400_000]
        (folder / "tiny.obj").write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1\n")
    elif target == "segmentation":
        (folder / "a.json").write_text('{"m_rifle_part_1": {"face_ids": [0, 1, 2]}}')
        (folder / "b.json").write_text('{"0": {"face_ids": [3, 4], "color": "#FF0000"}}')
    else:
        (folder / "a.json").write_text('{"File": {"Url": "http://x/a.fbx", "Type": "FBX"}}')
        (folder / "b.txt").write_text("File.Url=http%3A%2F%2Fx%2Fa.fbx&File.Type=FBX&Model=1.5")
        (folder / "c.json").write_text('{"JobId": "1376862528873414656"}')
    for p in files[:40]:
        shutil.copy(p, folder / p.name)


# --------------------------------------------------------------------------- the targets


def _target(name: str):
    """The one-input function of a target (runs inside the fuzzing process)."""
    from part3d.errors import Part3DError

    if name in ("fbx_binary", "fbx_ascii"):
        from part3d.io.fbx.nodes import parse
        from part3d.io.fbx.scene import read_scene

        prefix = b"Kaydara FBX Binary  \x00\x1a\x00" if name == "fbx_binary" else b""

        def one(data: bytes) -> None:
            if name == "fbx_binary" and not data.startswith(prefix):
                data = prefix + data
            with contextlib.suppress(Part3DError):
                read_scene(parse(data, "fuzz.fbx"), "fuzz.fbx")

        return one
    if name == "obj":
        from part3d.io.meshes import _obj_scene, _parse_obj_fast, _parse_obj_lines

        path = Path(tempfile.gettempdir()) / "fuzz.obj"

        def one(data: bytes) -> None:
            try:
                parsed = _parse_obj_fast(data, "fuzz")
                if parsed is None:
                    parsed = _parse_obj_lines(data.decode("utf-8", "replace"), path)
                _obj_scene(parsed, path)
            except Part3DError:
                pass

        return one
    if name == "segmentation":
        from part3d.io import load
        from part3d.parts import from_info
        from part3d.service.tencent.errors import TencentError
        from part3d.service.tencent.params import check_part_segmentation_info

        scene = load(DATA / "models" / "mar_rifle.fbx")

        def one(data: bytes) -> None:
            text = data.decode("utf-8", "replace")
            with contextlib.suppress(TencentError):
                check_part_segmentation_info(text)
            with contextlib.suppress(Part3DError):
                from_info(scene, text)

        return one
    if name == "params":
        from urllib.parse import parse_qsl

        from part3d.service.tencent.errors import TencentError
        from part3d.service.tencent.frontdoor import MAX_DEPTH, _nesting
        from part3d.service.tencent.params import unflatten, validate_query, validate_submit

        def one(data: bytes) -> None:
            try:
                if data[:1] in (b"{", b"["):
                    if _nesting(data) > MAX_DEPTH:
                        return
                    try:
                        params = json.loads(data)
                    except ValueError:
                        return
                    flattened = False
                else:
                    text = data.decode("utf-8", "replace")
                    params = unflatten(dict(parse_qsl(text, keep_blank_values=True)))
                    flattened = True
                if not isinstance(params, dict):
                    return
                with contextlib.suppress(TencentError):
                    validate_submit(params, flattened=flattened)
                validate_query(params)
            except TencentError:
                pass

        return one
    raise ValueError(f"unknown target {name!r}")


def _child(name: str, argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["part3d"]):
        one = _target(name)
    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()


# --------------------------------------------------------------------------- driving


def fuzz(name: str, out: Path, runs: int | None, seconds: float | None, seed: int | None):
    """Fuzz one target in a child process; returns (executions, seconds, crash files)."""
    work = out / name
    corpus = work / "corpus"
    _seeds(name, corpus)
    artifacts = work / "crashes"
    artifacts.mkdir(parents=True, exist_ok=True)
    args = [f"-max_len={MAX_LEN[name]}", f"-artifact_prefix={artifacts}/", "-rss_limit_mb=3072",
            "-timeout=20", "-print_final_stats=1"]  # fmt: skip
    if runs is not None:
        args.append(f"-runs={runs}")
    if seconds is not None:
        args.append(f"-max_total_time={int(seconds)}")
    if seed is not None:
        args.append(f"-seed={seed}")
    args.append(str(corpus))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, "--", *args],
        capture_output=True, text=True, cwd=work,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (work / "fuzz.log").write_text(log)
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    executions = int(m[1]) if m else 0
    crashes = sorted(str(p) for p in artifacts.iterdir())
    if proc.returncode not in (0,) and not crashes:
        crashes = [f"exit {proc.returncode}: {log.strip().splitlines()[-1] if log.strip() else ''}"]
    return executions, elapsed, crashes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out", type=Path,
                    default=Path(os.environ.get("PART3D_CACHE", Path.home() / ".cache" / "part3d"))
                    / "fuzz")  # fmt: skip
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--child")
    ap.add_argument("rest", nargs="*")
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.rest)
        return
    if args.smoke:
        args.runs, args.seed, args.no_doc = 2000, 1, True
    if args.runs is None and args.seconds is None:
        args.seconds = 60
    unknown = [t for t in args.targets.split(",") if t not in TARGETS]
    if unknown:
        ap.error(f"unknown target {unknown[0]!r} (choose from {', '.join(TARGETS)})")
    rows = []
    failed = False
    for name in args.targets.split(","):
        executions, elapsed, crashes = fuzz(name, args.out, args.runs, args.seconds, args.seed)
        failed |= bool(crashes)
        rows.append((name, executions, elapsed, crashes))
        print(
            f"{name:13s} {executions:>10,} executions {elapsed:8.1f} s "
            f"({executions / max(elapsed, 1e-9):,.0f}/s) crashes: {len(crashes)}",
            flush=True,
        )
        for c in crashes:
            print(f"    {c}")
    if not args.no_doc:
        sys.path.insert(0, str(ROOT / "bench"))
        from report import write_section

        budget = f"{args.runs} runs" if args.runs else f"{args.seconds:.0f} s"
        lines = [
            f"`python bench/fuzz.py` ({budget} per target), atheris on libFuzzer, one core "
            "per target, seeds from ../shared/data."
            " An input must end in a result or a Part3DError / TencentError.",
            "",
            "| target | executions | seconds | executions/s | crashes |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, executions, elapsed, crashes in rows:
            lines.append(f"| {name} | {executions:,} | {elapsed:.0f} | "
                         f"{executions / max(elapsed, 1e-9):,.0f} | {len(crashes)} |")  # fmt: skip
        write_section("Fuzzing", "\n".join(lines))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
