"""Time and size of each mode of `pipeline.run` on textured and multi-mesh models and on the
100k- and 1.5 M-face test models.

For each model: the unsplit model written as OBJ (+MTL, textures), FBX and GLB (the size
reference), then the pipeline in each mode: shells (``--open --colors palette``, as v1 wrote
them), the default (closed parts keeping the input's materials and textures), ``--colors
palette``, stage 1 (``--stage segment``) and ``--post-process``. Reports seconds (whole run)
and the size of each model format next to the unsplit one. Figures go to docs/BENCHMARKS.md
("Split modes").

    python bench/modes.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
from report import write_section  # noqa: E402
from synthetic import wuson  # noqa: E402

from part3d.io import load, save  # noqa: E402
from part3d.pipeline import PipelineOptions, run  # noqa: E402

MODELS = [
    DATA / "real" / "spot.obj",
    DATA / "real" / "trellis_uanu2002_sample.glb",
    DATA / "models" / "mar_rifle.fbx",
    DATA / "real" / "LittlestTokyo.glb",
]
BASE = PipelineOptions(formats=("obj", "fbx", "glb", "png", "json"))
MODES = {
    "open shells, palette": replace(BASE, close=False, colors="palette"),
    "default (closed, materials kept)": BASE,
    "closed, palette": replace(BASE, colors="palette"),
    "stage 1 (segment)": replace(BASE, stage="segment"),
    "post-process": replace(BASE, post_process=True),
}


#: The modes that write parts (stage 1 writes the input model marked; post-processing one
#: cleaned, triangulated model).
PARTS_MODES = list(MODES)[:3]


def size(path: Path) -> int:
    """A model file with what it brings along (an OBJ's MTL and textures)."""
    total = path.stat().st_size
    if path.suffix == ".obj":
        total += path.with_suffix(".mtl").stat().st_size
        total += sum(p.stat().st_size for p in path.parent.glob(f"{path.stem}_*"))
    return total


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = list(MODELS)
        for faces in (100_000, 1_500_000):  # the 100k and 1.5 M-face test models of split.py
            models.append(save(wuson(faces), tmp / f"wuson_{faces}.fbx"))
        for model in models:
            scene = load(model)
            whole = {}
            for fmt in ("obj", "fbx", "glb"):
                path = tmp / f"whole_{model.stem}" / f"{model.stem}.{fmt}"
                path.parent.mkdir(exist_ok=True)
                save(scene, path)
                whole[fmt] = size(path)
            for mode, options in MODES.items():
                # The fastest of three runs (one for the largest model): one run is noisy.
                seconds = float("inf")
                for attempt in range(3 if scene.polygon_count < 500_000 else 1):
                    out = tmp / f"{model.stem}_{len(rows)}_{attempt}"
                    t = time.perf_counter()
                    result = run(model, out, options)
                    seconds = min(seconds, time.perf_counter() - t)
                sizes = {f: size(p) for f, p in result.outputs.items() if f in whole}
                rows.append((model.name, mode, seconds, len(result.parts), sizes, whole))
                ratios = "  ".join(f"{f} {sizes[f] / whole[f]:.2f}x" for f in sizes)
                print(f"{model.name:32s} {mode:34s} {seconds:6.2f} s  {ratios}", flush=True)
    write_section("Split modes", render(rows))


def render(rows) -> str:
    lines = [
        f"Measured by `python bench/modes.py` on {time.strftime('%Y-%m-%d')} "
        f"({platform.machine()}, {os.cpu_count()} cores): `pipeline.run` in one process, all "
        "outputs of the mode, the fastest of three runs (one for 1.5 M faces); sizes in MB "
        "with the ratio to the unsplit model written in the same format (an OBJ counted with "
        "its MTL and textures). Target: the parts' OBJ/FBX/GLB within 1.5x.",
        "",
        "| model | mode | parts | s | OBJ MB (x) | FBX MB (x) | GLB MB (x) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for model, mode, seconds, parts, sizes, whole in rows:
        cells = []
        for fmt in ("obj", "fbx", "glb"):
            if fmt in sizes:
                ratio = sizes[fmt] / whole[fmt]
                if mode in PARTS_MODES:
                    worst = max(worst, ratio)
                cells.append(f"{sizes[fmt] / 1e6:.2f} ({ratio:.2f})")
            else:
                cells.append("—")
        lines.append(f"| {model} | {mode} | {parts} | {seconds:.2f} | " + " | ".join(cells) + " |")
    # Capping's cost: closed vs open parts, both in the palette (the same writers).
    seconds = {(m, mode): sec for m, mode, sec, *_ in rows}
    lines += ["", "Capping adds (closed, palette vs open shells, palette; target ≤ 20 %):", ""]
    for model in dict.fromkeys(m for m, *_ in rows):
        opened = seconds[(model, "open shells, palette")]
        closed = seconds[(model, "closed, palette")]
        extra = closed / opened - 1
        lines.append(
            f"- {model}: {opened:.2f} s -> {closed:.2f} s ({100 * extra:+.0f} %, "
            f"{'met' if extra <= 0.2 else 'not met'})"
        )
    verdict = "met" if worst <= 1.5 else "not met"
    lines += ["", f"Largest ratio of the parts' files (the first three modes): {worst:.2f}x "
              f"(≤ 1.5x: {verdict})."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
