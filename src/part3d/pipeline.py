"""The one data path: load -> segment -> split -> save (+ preview, + segmentation JSON).

``run(input_path, out_dir, options, progress)`` is what the CLI and the workers call. Each stage
is timed, and ``progress(stage, done, total)`` is called as stages start and finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from part3d.errors import LimitExceededError, Part3DError
from part3d.io import load, save, write_atomic
from part3d.parts import (
    check_info,
    clean,
    dumps_info,
    from_info,
    marked,
    merge_specks,
    painted,
    split,
    to_info,
)
from part3d.preview import render
from part3d.segment import SegmentOptions, segment

FORMATS = ("obj", "fbx", "glb", "png", "json")
#: ``parts``: one mesh per part. ``segment`` (staged generation, stage 1): the input model
#: carrying the segmentation as one material per part, to be edited and sent back.
STAGES = ("parts", "segment")
#: What stage 1 writes (no OBJ: it cannot carry one material per part in face order).
SEGMENT_FORMATS = ("fbx", "glb", "png", "json")
#: What post-processing writes: one model (FBX), its preview and the segmentation.
POST_PROCESS_FORMATS = ("fbx", "png", "json")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PipelineOptions:
    """What to produce: ``formats`` among obj, fbx, glb, png, json; ``segment`` the
    segmentation options; ``preview_size`` in pixels; ``preview_backend`` auto/egl/numpy."""

    formats: tuple[str, ...] = FORMATS
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    preview_size: int = 1024
    preview_backend: str = "auto"
    #: Refuse models with more faces than this (None: no limit).
    max_faces: int | None = None
    #: ``parts`` or ``segment`` (see STAGES); stage 1 writes no OBJ.
    stage: str = "parts"
    #: Cap the openings each cut makes, so that parts of closed models are closed.
    close: bool = True
    #: ``auto`` (the input's materials and textures where it has them, else the palette),
    #: ``original`` or ``palette`` (every part in its colour); see ``parts.COLORS``.
    colors: str = "auto"
    #: One clean model: specks merged, parts closed, welded, degenerate and duplicate
    #: faces removed, consistent outward winding; FBX (and preview, JSON) only.
    post_process: bool = False


@dataclass
class JobResult:
    """What ``run`` made: output files by format, the parts, and seconds per stage."""

    outputs: dict[str, Path]
    parts: list[dict]
    timings: dict[str, float]
    meshes: int
    faces: int
    #: The part count asked for (None: automatic) and the reason it could not be met.
    requested: int | None = None
    warning: str | None = None
    granularity: str = "balanced"

    def summary(self) -> dict:
        return {
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "meshes": self.meshes,
            "faces": self.faces,
            "parts_requested": self.requested if self.requested is not None else "auto",
            "parts_achieved": len(self.parts),
            "granularity": self.granularity,
            "warning": self.warning,
            "parts": self.parts,
            "seconds": {k: round(v, 4) for k, v in self.timings.items()},
        }


def check_segmentation(info: dict | str) -> dict:
    """Check a PartSegmentationInfo for everything that needs no model (API.md §6.3): the one
    validator, also used by the service at Submit. Raises Part3DError naming the part."""
    return check_info(info)


def output_paths(
    input_path: Path, out_dir: Path, formats: tuple[str, ...], stage: str = "parts"
) -> dict[str, Path]:
    stem = input_path.stem
    kind = "parts" if stage == "parts" else "segmented"
    names = {
        "obj": f"{stem}_{kind}.obj",
        "fbx": f"{stem}_{kind}.fbx",
        "glb": f"{stem}_{kind}.glb",
        "png": f"{stem}_preview.png",
        "json": f"{stem}_segmentation.json",
    }
    return {f: out_dir / names[f] for f in formats}


def run(
    input_path: str | Path,
    out_dir: str | Path,
    options: PipelineOptions | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    segmentation: dict | str | None = None,
) -> JobResult:
    """Split the model at ``input_path`` into parts and write the outputs to ``out_dir``.

    ``warn`` is called with a one-line message when the asked part count cannot be met (the
    least or most possible count is used instead); the result carries it too.

    ``segmentation``: a PartSegmentationInfo (dict or JSON text, either key style of API.md
    §6.3) to use instead of segmenting; faces it does not list join their best-connected
    neighbour. A bad one raises Part3DError naming the part and the first offending face id."""
    options = options or PipelineOptions()
    input_path, out_dir = Path(input_path), Path(out_dir)
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown:
        raise Part3DError(
            f"unknown output format {unknown[0]!r} (choose from {', '.join(FORMATS)})"
        )
    if options.stage not in STAGES:
        raise Part3DError(f"unknown stage {options.stage!r} (choose from {', '.join(STAGES)})")
    if options.stage == "segment":
        # Stage 1 writes the input model marked: no parts are closed or cleaned.
        options = replace(
            options,
            formats=tuple(f for f in options.formats if f in SEGMENT_FORMATS),
            close=False,
            post_process=False,
        )
    elif options.post_process:
        options = replace(
            options,
            close=True,
            formats=tuple(f for f in options.formats if f in POST_PROCESS_FORMATS),
        )
    if not options.formats:
        raise Part3DError("no output format asked for")
    if out_dir.exists() and not out_dir.is_dir():
        raise Part3DError(f"{out_dir}: is a file, not an output folder")
    created = not out_dir.exists()
    try:
        given = check_segmentation(segmentation) if segmentation is not None else None
        return _run(input_path, out_dir, options, progress, warn, given)
    except BaseException:
        # A failed run leaves no empty folder behind (only the one it made, only if empty).
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


def _run(
    input_path: Path,
    out_dir: Path,
    options: PipelineOptions,
    progress: Progress | None,
    warn: Callable[[str], None] | None,
    given: dict | None = None,
) -> JobResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = output_paths(input_path, out_dir, options.formats, options.stage)
    stages = ["load", "segment", "split", *[f"write {f}" for f in options.formats]]
    timings: dict[str, float] = {}
    step = 0

    def stage(name: str):
        nonlocal step
        if progress:
            progress(name, step, len(stages))
        step += 1
        return _Timer(timings, name)

    with stage("load"):
        scene = load(input_path, max_faces=options.max_faces)
        if options.max_faces is not None and scene.polygon_count > options.max_faces:
            raise LimitExceededError(
                f"{input_path.name}: {scene.polygon_count} faces, over the limit of "
                f"{options.max_faces}"
            )
    with stage("segment"):
        if given is not None:
            segmentation = from_info(scene, given)
        else:
            segmentation = segment(scene, options.segment)
        if segmentation.warning and warn:
            warn(segmentation.warning)
    with stage("split"):
        if options.post_process:
            segmentation = merge_specks(scene, segmentation)
        parts = split(scene, segmentation, close=options.close, colors=options.colors)
        if options.post_process:
            parts = clean(parts)
        info = to_info(scene, segmentation)
        # Stage 1 writes the input model carrying the parts; the preview shows the parts.
        models = marked(scene, segmentation) if options.stage == "segment" else parts
    for fmt in options.formats:
        with stage(f"write {fmt}"):
            if fmt == "png":
                render(
                    painted(parts),
                    paths[fmt],
                    size=options.preview_size,
                    backend=options.preview_backend,
                )
            elif fmt == "json":
                write_atomic(paths[fmt], dumps_info(info).encode("utf-8"))
            else:
                # Stage 1's model is edited by face id: its faces stay in their order.
                save(models, paths[fmt], face_order=options.stage == "segment")
    if progress:
        progress("done", len(stages), len(stages))
    if "obj" in paths:
        paths["mtl"] = paths["obj"].with_suffix(".mtl")
    part_list = [
        {"name": name, "faces": len(v["face_ids"]), "color": v["color"]} for name, v in info.items()
    ]
    return JobResult(
        paths,
        part_list,
        timings,
        len(scene.meshes),
        scene.polygon_count,
        requested=options.segment.parts if given is None else segmentation.part_count,
        warning=segmentation.warning,
        granularity=options.segment.granularity,
    )


class _Timer:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.timings[self.name] = time.perf_counter() - self.start


def warm_up() -> None:
    """Run the slow first-time work (OpenGL start-up, lazy imports, reading the learned
    boundary evidence) on a tiny model, so that a long-lived worker's first job does not pay
    for it. Failures are ignored: the job will report them."""
    import tempfile

    import numpy as np

    from part3d.io import build_mesh
    from part3d.model import Scene

    mesh = build_mesh("warm", np.eye(3), np.arange(3), np.array([0, 3]))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            render(Scene([mesh]), Path(tmp) / "warm.png", size=64)
    except Exception:  # noqa: BLE001 - warming up must never stop a worker
        pass
    try:
        from part3d.segment.learned import boundary_model

        boundary_model()  # five boosters, some 0.15 s to read
    except Exception:  # noqa: BLE001
        pass
