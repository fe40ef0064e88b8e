"""The labels part3d gives, as one digest per model, to compare machines.

The issue asks for identical labels for identical input and options on any machine. One
machine can only vary the vector kernels numpy and OpenBLAS pick (see tests/test_segment.py);
this script records what the packaged boundary model and the default options give on every
PSB model of ``../shared/data/psb`` and every model of ``../shared/data/real``, so that the
next machine can check it gives the same:

    python bench/label_digests.py --write tests/label_digests.json   # after a segmentation change
    python bench/label_digests.py --check tests/label_digests.json   # on another machine

``--check`` prints each model whose labels differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
SHARED = ROOT.parent / "shared" / "data"


def _digest(item: tuple[str, str]) -> tuple[str, str, int]:
    """(name, sha1 of every mesh's labels, part count) for one model (in a worker)."""
    from part3d.model import Scene
    from part3d.segment import segment

    name, path = item
    if path.endswith(".npz"):
        from psb_metrics import psb_mesh

        scene = Scene([psb_mesh(np.load(path))])
    else:
        from part3d.io import load

        scene = load(path)
    seg = segment(scene)
    h = hashlib.sha1()
    for labels in seg.labels:
        h.update(np.ascontiguousarray(labels, dtype="<i4").tobytes())
        h.update(b"|")
    return name, h.hexdigest()[:16], seg.part_count


def models() -> list[tuple[str, str]]:
    psb = sorted((SHARED / "psb").glob("*.npz"), key=lambda p: int(p.stem))
    manifest = json.loads((SHARED / "real" / "manifest.json").read_text())
    return [(f"psb/{p.stem}", str(p)) for p in psb] + [
        (f"real/{m['file']}", str(SHARED / "real" / m["file"])) for m in manifest
    ]


def digests(jobs: int) -> dict[str, dict]:
    with ProcessPoolExecutor(jobs) as pool:
        rows = list(pool.map(_digest, models()))
    return {name: {"labels": d, "parts": parts} for name, d, parts in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the digests in this file")
    group.add_argument("--check", type=Path, help="compare with the digests in this file")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    now = digests(args.jobs)
    if args.write:
        record = {
            "machine": f"{platform.machine()} {_cpu_name()}",
            "boundary_model": _model_digest(),
            "models": now,
        }
        args.write.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(now)} digests to {args.write}")
        return
    record = json.loads(args.check.read_text())
    if record["boundary_model"] != _model_digest():
        sys.exit(
            f"{args.check} was written with boundary model {record['boundary_model']}, the "
            f"packaged one is {_model_digest()}: write it again (--write)"
        )
    differ = [
        f"{name}: {want['parts']} parts recorded on {record['machine']}, "
        f"{now.get(name, {}).get('parts')} here"
        + ("" if now.get(name, {}).get("parts") != want["parts"] else " (other faces)")
        for name, want in sorted(record["models"].items())
        if now.get(name, {}).get("labels") != want["labels"]
    ]
    for line in differ:
        print(line)
    print(f"{len(record['models']) - len(differ)} of {len(record['models'])} models the same")
    sys.exit(1 if differ else 0)


def _model_digest() -> str:
    path = ROOT / "src" / "part3d" / "segment" / "boundary_model.txt"
    return hashlib.sha1(path.read_bytes()).hexdigest()[:8]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
