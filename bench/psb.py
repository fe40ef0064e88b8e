"""Score part3d's segmentation on the Princeton Segmentation Benchmark (PSB).

Segments every model with an automatic part count and scores it against every human
segmentation of that model with the benchmark's metrics (Rand Index error, Hamming distance
Rm/Rf, GCE, LCE, Cut Discrepancy), averaged over the model's human segmentations, then per
category and over all models. The same table is computed for three references: the whole mesh
as one part, k-means on face centroids with each human segmentation's part count, and humans
scored against each other. Figures go to docs/BENCHMARKS.md ("Segmentation (PSB)").

    python bench/psb.py [--data DIR] [--labels OUT] [--json FILE] [--subset all|tune|holdout]
                        [--set name=value ...] [--jobs N] [--no-doc]

``--subset tune`` / ``holdout`` split the models by id (id % 4 == 1 / == 3) for tuning without
looking at the held-out half; ``--set`` overrides a SegmentOptions field.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from options import segment_overrides  # noqa: E402
from psb_metrics import (  # noqa: E402
    MeshGeometry,
    consistency_errors,
    cut_discrepancy,
    hamming,
    psb_mesh,
    rand_index_error,
)
from report import write_section  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "psb"
METRICS = ("ri", "gce", "lce", "rm", "rf", "hamming", "cd")


def label_scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Every metric of ``pred`` against one human segmentation ``truth`` but Cut Discrepancy
    (which needs distance fields on the mesh)."""
    gce, lce = consistency_errors(pred, truth)
    rm, rf, ham = hamming(pred, truth)
    ri = rand_index_error(pred, truth)
    return {"ri": ri, "gce": gce, "lce": lce, "rm": rm, "rf": rf, "hamming": ham,
            "cd": float("nan")}  # fmt: skip


def scores(geom: MeshGeometry, pred: np.ndarray, truth: np.ndarray, fields_cache: dict) -> dict:
    """Every metric of ``pred`` against one human segmentation ``truth``."""
    cut_p, field_p = fields_cache["pred"]
    cut_t, field_t = fields_cache[id(truth)]
    return {
        **label_scores(pred, truth),
        "cd": cut_discrepancy(geom, cut_p, field_p, cut_t, field_t),
    }


def _cut_field(geom: MeshGeometry, labels: np.ndarray):
    cut = geom.cut_vertices(labels)
    return cut, (geom.distance_to(cut) if len(cut) else None)


def _mean(rows: list[dict]) -> dict:
    out = {}
    for m in METRICS:
        vals = [r[m] for r in rows if np.isfinite(r[m])]
        out[m] = float(np.mean(vals)) if vals else float("nan")
    return out


def score_against_humans(geom, labels, segs, cache) -> dict:
    cache = dict(cache)
    cache["pred"] = _cut_field(geom, labels)
    return _mean([scores(geom, labels, seg, cache) for seg in segs])


def quick_evaluate(path: str, overrides: dict, labels_dir: str | None = None) -> dict:
    """Only part3d's Rand Index error and GCE (for tuning runs)."""
    from part3d.segment import SegmentOptions, segment_mesh

    z = np.load(path)
    mesh = psb_mesh(z)
    t = time.perf_counter()
    labels = segment_mesh(mesh, replace(SegmentOptions(), **overrides)).astype(np.int64)
    seconds = time.perf_counter() - t
    if labels_dir:
        np.save(Path(labels_dir) / f"{Path(path).stem}.npy", labels.astype(np.int32))
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    ri = float(np.mean([rand_index_error(labels, s) for s in segs]))
    gce = float(np.mean([consistency_errors(labels, s)[0] for s in segs]))
    return {
        "id": int(Path(path).stem),
        "category": str(z["category"]),
        "ri": ri,
        "gce": gce,
        "parts": int(labels.max()) + 1,
        "seconds": seconds,
    }


def evaluate(path: str, overrides: dict, labels_dir: str | None, references: bool = True) -> dict:
    """Segment one PSB model and score it and the references (runs in a worker process).
    Without ``references`` only part3d is scored, and without Cut Discrepancy (its distance
    fields take most of the time on big meshes)."""
    from scipy.cluster.vq import kmeans2

    from part3d.segment import SegmentOptions, segment_mesh

    z = np.load(path)
    vertices = z["vertices"].astype(np.float64)
    faces = z["faces"].astype(np.int64)
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    model_id = int(Path(path).stem)
    mesh = psb_mesh(z, str(model_id))
    options = replace(SegmentOptions(), **overrides)
    t = time.perf_counter()
    labels = segment_mesh(mesh, options).astype(np.int64)
    seconds = time.perf_counter() - t
    if labels_dir:
        np.save(Path(labels_dir) / f"{model_id}.npy", labels.astype(np.int32))
    result = {
        "id": model_id,
        "category": str(z["category"]),
        "faces": len(faces),
        "parts": int(labels.max()) + 1,
        "human_parts": float(np.mean([s.max() + 1 for s in segs])),
        "seconds": seconds,
    }
    if not references:
        result["part3d"] = _mean([label_scores(labels, seg) for seg in segs])
        return result

    geom = MeshGeometry.of(vertices, faces)
    cache = {id(s): _cut_field(geom, s) for s in segs}
    result["part3d"] = score_against_humans(geom, labels, segs, cache)
    result["one_part"] = score_against_humans(
        geom, np.zeros(len(faces), dtype=np.int64), segs, cache
    )
    # k-means on face centroids with each human segmentation's part count, scored against it.
    centroids = vertices[faces].mean(axis=1)
    rng = np.random.default_rng(0)
    km_rows = []
    for seg in segs:
        k = int(seg.max()) + 1
        if k < 2:
            km = np.zeros(len(faces), dtype=np.int64)
        else:
            _, km = kmeans2(centroids, k, minit="++", seed=rng)
        c = dict(cache)
        c["pred"] = _cut_field(geom, km)
        km_rows.append(scores(geom, km, seg, c))
    result["kmeans"] = _mean(km_rows)
    # Humans against each other: each segmentation against every other one.
    human_rows = []
    for i, seg in enumerate(segs):
        others = [s for j, s in enumerate(segs) if j != i]
        if not others:
            continue
        c = dict(cache)
        c["pred"] = cache[id(seg)]
        human_rows.append(_mean([scores(geom, seg, o, c) for o in others]))
    result["humans"] = _mean(human_rows) if human_rows else {m: float("nan") for m in METRICS}
    return result


def table(results: list[dict], method: str) -> dict:
    cats: dict[str, list[dict]] = {}
    for r in results:
        cats.setdefault(r["category"], []).append(r[method])
    per_cat = {c: _mean(rows) for c, rows in sorted(cats.items())}
    overall = _mean([r[method] for r in results])
    return {"categories": per_cat, "overall": overall}


def _f(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.3f}"


def render(results: list[dict], overrides: dict, subset: str, data: str = "") -> str:
    secs = [r["seconds"] for r in results]
    methods = tuple(m for m in ("part3d", "one_part", "kmeans", "humans") if m in results[0])
    tables = {m: table(results, m) for m in methods}
    lines = [
        f"Measured by `python bench/psb.py{data}` on {time.strftime('%Y-%m-%d')}: {len(results)} "
        f"models ({subset}), {os.cpu_count()} cores. Automatic part count"
        + (f", options {overrides}" if overrides else ", default options")
        + ". Each figure is averaged over a model's human segmentations, then over models.",
        "",
        "| method | Rand Index error | GCE | LCE | Hamming | Rm | Rf | Cut Discrepancy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "part3d": "part3d",
        "one_part": "whole mesh as one part",
        "kmeans": "k-means on centroids (human part count)",
        "humans": "humans against each other",
    }
    for m in methods:
        o = tables[m]["overall"]
        lines.append(
            f"| {names[m]} | {_f(o['ri'])} | {_f(o['gce'])} | {_f(o['lce'])} | "
            f"{_f(o['hamming'])} | {_f(o['rm'])} | {_f(o['rf'])} | {_f(o['cd'])} |"
        )
    lines += [
        "",
        f"part3d runtime per model: median {statistics.median(secs):.3f} s, max {max(secs):.3f} s "
        f"(faces {min(r['faces'] for r in results)}–{max(r['faces'] for r in results)}); "
        f"parts per model: median {statistics.median(r['parts'] for r in results):.0f} "
        f"(humans {statistics.median(r['human_parts'] for r in results):.1f}).",
        "",
        "Per category (part3d / k-means, Rand Index error and GCE):",
        "",
        "| category | part3d RI | part3d GCE | part3d CD | k-means RI | humans RI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    nan = {"ri": float("nan")}
    for c, o in tables["part3d"]["categories"].items():
        km = tables["kmeans"]["categories"][c] if "kmeans" in tables else nan
        hu = tables["humans"]["categories"][c] if "humans" in tables else nan
        lines.append(
            f"| {c} | {_f(o['ri'])} | {_f(o['gce'])} | {_f(o['cd'])} | {_f(km['ri'])} "
            f"| {_f(hu['ri'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--labels", type=Path, help="write each model's labels as <id>.npy")
    parser.add_argument("--json", type=Path, help="write per-model scores as JSON")
    parser.add_argument("--subset", choices=("all", "tune", "holdout"), default="all")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument(
        "--quick", action="store_true", help="only part3d's RI and GCE, no references (tuning)"
    )
    parser.add_argument(
        "--no-references",
        action="store_true",
        help="score part3d only (every metric but Cut Discrepancy): minutes on big meshes",
    )
    parser.add_argument("--title", default="Segmentation (PSB)", help="BENCHMARKS.md section")
    parser.add_argument(
        "--cv",
        type=int,
        default=5,
        metavar="FOLDS",
        help="score the learned evidence cross-validated: each model segmented by a boundary "
        "model trained without it (bench/train_boundary.py's data); 0: the packaged model",
    )
    args = parser.parse_args()

    from part3d.segment import SegmentOptions

    try:
        overrides = segment_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    paths = sorted(args.data.glob("*.npz"), key=lambda p: int(p.stem))
    if args.subset != "all":
        want = 1 if args.subset == "tune" else 3
        paths = [p for p in paths if int(p.stem) % 4 == want]
    if not paths:
        parser.error(f"no .npz models in {args.data}")
    if args.labels:
        args.labels.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    per_model = [overrides] * len(paths)
    learned = overrides.get("evidence", SegmentOptions().evidence) == "learned"
    folds = tempfile.TemporaryDirectory()
    if args.cv and learned and "boundary_model" not in overrides:
        from train_boundary import DEFAULT_DATA as TRAINING_DATA
        from train_boundary import TRAINING, fold_models, load_sets

        sets = load_sets([d for d in TRAINING_DATA if d.name in TRAINING], args.jobs)
        model_of = fold_models(sets, args.cv, Path(folds.name))
        per_model = [{**overrides, "boundary_model": model_of[int(p.stem)]} for p in paths]
        print(f"cross-validated: {args.cv} folds by model id, trained on {', '.join(sets)}")
    if args.quick:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(
                pool.map(
                    quick_evaluate,
                    map(str, paths),
                    per_model,
                    [str(args.labels) if args.labels else None] * len(paths),
                )
            )
        cats: dict[str, list[float]] = {}
        for r in rows:
            cats.setdefault(r["category"], []).append(r["ri"])
        worst = sorted(((float(np.mean(v)), c) for c, v in cats.items()), reverse=True)[:5]
        print(
            f"{overrides} RI {np.mean([r['ri'] for r in rows]):.4f} "
            f"GCE {np.mean([r['gce'] for r in rows]):.4f} "
            f"parts {statistics.median(r['parts'] for r in rows):.0f} "
            f"median {statistics.median(r['seconds'] for r in rows):.3f} s "
            f"worst {', '.join(f'{c} {v:.3f}' for v, c in worst)}",
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(evaluate, str(p), o, str(args.labels or ""), not args.no_references)
            for p, o in zip(paths, per_model, strict=True)
        ]
        results = []
        for i, f in enumerate(futures, 1):
            results.append(f.result())
            r = results[-1]
            print(
                f"[{i}/{len(paths)}] {r['id']:>3} {r['category']:<10} parts {r['parts']:>2} "
                f"RI {r['part3d']['ri']:.3f} GCE {r['part3d']['gce']:.3f} "
                f"{r['seconds']:.2f} s",
                flush=True,
            )
    shown = "" if args.data == DEFAULT_DATA else f" --data {args.data.name}"
    shown += " --no-references" if args.no_references else ""
    shown += f" --jobs {args.jobs}" if args.jobs != (os.cpu_count() or 1) else ""
    shown += f" (cross-validated, {args.cv} folds)" if args.cv and learned else ""
    body = render(results, overrides, args.subset, shown)
    print(body)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if not args.no_doc:
        write_section(args.title, body)


if __name__ == "__main__":
    main()
