"""Read/write speed and peak memory of part3d's formats, beside what a user would otherwise use.

Makes a 100k- and a 1.6M-triangle model from a sample model (subdivision of WusonOBJ.obj, with
smooth per-corner normals as exporters write them), writes them as binary FBX, ASCII FBX, OBJ
and GLB, then times (median of N runs in one process) and measures peak memory (in a fresh
process each) for:

- FBX read: part3d, assimp-py, ufbx (C);  FBX write: part3d (binary and ASCII)
- OBJ and GLB read and write: part3d, trimesh

Writes the figures into docs/BENCHMARKS.md (the "Formats" section) and prints them.

    python bench/formats.py [--runs 5] [--sizes 100000,1600000] [--keep DIR]
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
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "bench"))
from report import write_section  # noqa: E402
from synthetic import SOURCE, wuson  # noqa: E402

# One operation per (tool, action, format): the code run in the child process.
OPS = {
    ("part3d", "read", "fbx"): "from part3d.io import fbx\ndef op(p, o): fbx.read(p)",
    ("part3d", "read", "fbx_ascii"): "from part3d.io import fbx\ndef op(p, o): fbx.read(p)",
    ("assimp-py", "read", "fbx"): (
        "import assimp_py\ndef op(p, o): assimp_py.import_file(p, assimp_py.Process_Triangulate)"
    ),
    ("ufbx", "read", "fbx"): (
        "import gc, ufbx\ngc.disable()\nKEEP = []\ndef op(p, o): KEEP.append(ufbx.load_file(p))"
    ),
    ("part3d", "write", "fbx"): (
        "from part3d.io import fbx, save\nS = {}\n"
        "def setup(p): S['s'] = fbx.read(p)\n"
        "def op(p, o): save(S['s'], o + '.fbx')"
    ),
    ("part3d", "write", "fbx_ascii"): (
        "from part3d.io import fbx, save\nS = {}\n"
        "def setup(p): S['s'] = fbx.read(p)\n"
        "def op(p, o): save(S['s'], o + '.fbx', ascii=True)"
    ),
    ("part3d", "read", "obj"): "from part3d.io import load\ndef op(p, o): load(p)",
    ("trimesh", "read", "obj"): (
        "import trimesh\ndef op(p, o): trimesh.load(p, process=False, maintain_order=True)"
    ),
    ("part3d", "write", "obj"): (
        "from part3d.io import load, save\nS = {}\n"
        "def setup(p): S['s'] = load(p)\n"
        "def op(p, o): save(S['s'], o + '.obj')"
    ),
    ("trimesh", "write", "obj"): (
        "import trimesh\nS = {}\n"
        "def setup(p): S['m'] = trimesh.load(p, process=False, maintain_order=True)\n"
        "def op(p, o): S['m'].export(o + '.obj')"
    ),
    ("part3d", "read", "glb"): "from part3d.io import load\ndef op(p, o): load(p)",
    ("trimesh", "read", "glb"): "import trimesh\ndef op(p, o): trimesh.load(p, process=False)",
    ("part3d", "write", "glb"): (
        "from part3d.io import load, save\nS = {}\n"
        "def setup(p): S['s'] = load(p)\n"
        "def op(p, o): save(S['s'], o + '.glb')"
    ),
    ("trimesh", "write", "glb"): (
        "import trimesh\nS = {}\n"
        "def setup(p): S['m'] = trimesh.load(p, process=False)\n"
        "def op(p, o): S['m'].export(o + '.glb')"
    ),
}

CHILD = """
import json, os, statistics, sys, time
path, out, runs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
{code}
# Import what the operation loads lazily, so that import time and memory are not counted.
if 'part3d' in sys.modules:
    import part3d.io.fbx.writer, part3d.io.meshes  # noqa: E401, F401
if 'setup' in globals():
    setup(path)
def status(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
if mode == 'memory':
    before = status('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the peak (VmHWM) to the current RSS
    op(path, out)
    print(json.dumps({{'peak_bytes': max(0, status('VmHWM') - before)}}))
else:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        op(path, out)
        times.append(time.perf_counter() - t)
    print(json.dumps({{'median_s': statistics.median(times), 'times': times}}))
sys.stdout.flush()
os._exit(0)
"""


def make_models(folder: Path, sizes: list[int]) -> dict[int, dict[str, Path]]:
    """Each size's model in every format compared."""
    from part3d.io import save

    out: dict[int, dict[str, Path]] = {}
    for size in sizes:
        scene = wuson(size)
        out[size] = {
            "fbx": save(scene, folder / f"model_{size}.fbx"),
            "fbx_ascii": save(scene, folder / f"model_{size}_ascii.fbx", ascii=True),
            "obj": save(scene, folder / f"model_{size}.obj"),
            "glb": save(scene, folder / f"model_{size}.glb"),
        }
    return out


def run_child(code: str, path: Path, out: str, runs: int, mode: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(code=code), str(path), out, str(runs), mode],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        return {"error": lines[-1]}
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="100000,1600000")
    parser.add_argument("--keep", type=Path, help="keep the generated models in this folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"making models {sizes} from {SOURCE.name} ...", flush=True)
        models = make_models(folder, sizes)
        rows = []
        for size in sizes:
            for (tool, action, fmt), code in OPS.items():
                path = models[size][fmt]
                out = str(folder / f"out_{tool}_{size}")
                timing = run_child(code, path, out, args.runs, "time")
                memory = run_child(code, path, out, 1, "memory")
                row = {
                    "triangles": size,
                    "tool": tool,
                    "action": action,
                    "format": fmt,
                    "file_mb": path.stat().st_size / 1e6,
                    **timing,
                    **memory,
                }
                rows.append(row)
                shown = (
                    f"{row['median_s']:.3f} s, peak +{row.get('peak_bytes', 0) / 1e6:.0f} MB"
                    if "median_s" in row
                    else row["error"]
                )
                print(f"{size:>9} {action:5} {fmt:9} {tool:9} {shown}", flush=True)
        for f in folder.glob("out_*"):
            f.unlink()

    write_section("Formats", render(rows, args.runs))


def render(rows: list[dict], runs: int) -> str:
    lines = [
        f"Measured by `python bench/formats.py` on {time.strftime('%Y-%m-%d')} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
        f"Time: median of {runs} runs in one process. Peak memory: the rise of the process's "
        "peak RSS over the operation, in a fresh process. Models: WusonOBJ.obj subdivided, first N "
        "triangles kept, smooth per-corner normals.",
        "",
        "| triangles | action | format | tool | file MB | median s | peak MB | peak / file |",
        "|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['triangles']:,} | {r['action']} | {r['format']} | {r['tool']} | "
                f"{r['file_mb']:.1f} | error: {r['error']} | | |"
            )
            continue
        peak = r.get("peak_bytes", 0) / 1e6
        lines.append(
            f"| {r['triangles']:,} | {r['action']} | {r['format']} | {r['tool']} | "
            f"{r['file_mb']:.1f} | {r['median_s']:.3f} | {peak:.0f} | {peak / r['file_mb']:.1f} |"
        )
    by = {(r["triangles"], r["tool"], r["action"], r["format"]): r for r in rows}
    big = max(r["triangles"] for r in rows)
    lines += ["", f"Targets for the {big:,}-triangle binary FBX:", ""]

    def get(tool, action, fmt):
        return by.get((big, tool, action, fmt), {})

    read, assimp = get("part3d", "read", "fbx"), get("assimp-py", "read", "fbx")
    write, ascii_read = get("part3d", "write", "fbx"), get("part3d", "read", "fbx_ascii")
    if "median_s" in read:
        ok = read["median_s"] <= 0.5 and read["median_s"] < assimp.get("median_s", float("inf"))
        lines.append(
            f"- read ≤ 0.5 s and faster than assimp-py: {read['median_s']:.3f} s vs "
            f"{assimp.get('median_s', float('nan')):.3f} s — {'met' if ok else 'not met'}"
        )
        ratio = read.get("peak_bytes", 0) / 1e6 / read["file_mb"]
        lines.append(
            f"- peak memory ≤ 5× the file size: {ratio:.1f}× — {'met' if ratio <= 5 else 'not met'}"
        )
    if "median_s" in write:
        ok = write["median_s"] <= 1.0
        lines.append(f"- write ≤ 1 s: {write['median_s']:.3f} s — {'met' if ok else 'not met'}")
    if "median_s" in ascii_read and "median_s" in read:
        ratio = ascii_read["median_s"] / read["median_s"]
        lines.append(
            f"- ASCII read ≤ 4× binary read: {ratio:.1f}× — {'met' if ratio <= 4 else 'not met'}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
