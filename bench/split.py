"""`part3d split` end to end: seconds per stage and peak memory, per model.

Runs the pipeline (all outputs: OBJ, FBX, GLB, preview PNG, segmentation JSON) in a fresh
process per model on every sample model of ../shared/data/models, on a 100k- and a
1.5M-face binary FBX made here (WusonOBJ.obj subdivided, first N triangles kept) and on a GLB of
3,000 separate box meshes (a scene of many props: every stage runs once per part). Figures go
to docs/BENCHMARKS.md ("Split (end to end)").

    python bench/split.py [--sizes 100000,1500000] [--meshes 3000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "data" / "models"
sys.path.insert(0, str(ROOT / "bench"))
from report import write_section  # noqa: E402
from synthetic import boxes, wuson  # noqa: E402

CHILD = """
import json, sys, time
from part3d.pipeline import run
t = time.perf_counter()
result = run(sys.argv[1], sys.argv[2])
total = time.perf_counter() - t
peak = 0
with open('/proc/self/status') as f:
    for line in f:
        if line.startswith('VmHWM:'):
            peak = int(line.split()[1]) * 1024
print(json.dumps({**result.summary(), 'total': total, 'peak_bytes': peak}))
"""


def make_model(size: int, folder: Path) -> Path:
    from part3d.io import save

    return save(wuson(size), folder / f"wuson_{size}.fbx")


def make_scene(meshes: int, folder: Path) -> Path:
    from part3d.io import save

    return save(boxes(meshes), folder / f"boxes_{meshes}.glb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1500000")
    parser.add_argument("--meshes", type=int, default=3000, help="0: no many-mesh scene")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        inputs = sorted(p for p in MODELS.iterdir() if p.suffix.lower() in (".fbx", ".glb", ".obj"))
        inputs += [make_model(int(s), folder) for s in args.sizes.split(",") if s]
        if args.meshes:
            inputs.append(make_scene(args.meshes, folder))
        rows = []
        for path in inputs:
            out = folder / f"out_{path.stem}"
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(out)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if proc.returncode != 0:
                rows.append({"model": path.name, "error": proc.stderr.strip().splitlines()[-1]})
                print(path.name, "error", rows[-1]["error"], flush=True)
                continue
            r = json.loads(proc.stdout)
            r["model"] = path.name
            rows.append(r)
            print(
                f"{path.name}: {r['faces']} faces, {len(r['parts'])} parts, "
                f"{r['total']:.2f} s, peak {r['peak_bytes'] / 1e6:.0f} MB  {r['seconds']}",
                flush=True,
            )
    write_section("Split (end to end)", render(rows))


def render(rows: list[dict]) -> str:
    stages = [
        "load",
        "segment",
        "split",
        "write obj",
        "write fbx",
        "write glb",
        "write png",
        "write json",
    ]
    lines = [
        f"Measured by `python bench/split.py` on {time.strftime('%Y-%m-%d')} "
        f"({platform.machine()}, {os.cpu_count()} cores): `pipeline.run` with every output, one "
        "fresh process per model; peak memory is the process's peak resident set (interpreter "
        "and libraries included).",
        "",
        "| model | faces | parts | " + " | ".join(stages) + " | total s | peak MB |",
        "|---|---:|---:|" + "---:|" * len(stages) + "---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | error: {r['error']} |")
            continue
        cells = " | ".join(f"{r['seconds'].get(s, 0):.2f}" for s in stages)
        lines.append(
            f"| {r['model']} | {r['faces']:,} | {len(r['parts'])} | {cells} | {r['total']:.2f} "
            f"| {r['peak_bytes'] / 1e6:.0f} |"
        )
    by = {r["model"]: r for r in rows if "error" not in r}
    lines += ["", "Targets:", ""]
    for name, limit_s, limit_mb in (
        ("wuson_100000.fbx", 3.0, None),
        ("wuson_1500000.fbx", 30.0, 2000),
    ):
        r = by.get(name)
        if r is None:
            continue
        ok = r["total"] <= limit_s and (limit_mb is None or r["peak_bytes"] / 1e6 <= limit_mb)
        mem = f", peak {r['peak_bytes'] / 1e6:.0f} MB (≤ {limit_mb} MB)" if limit_mb else ""
        lines.append(
            f"- {name}: {r['total']:.2f} s (≤ {limit_s:.0f} s){mem} — {'met' if ok else 'not met'}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
