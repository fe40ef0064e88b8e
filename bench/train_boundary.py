"""Learned boundary evidence (issue 16, item 5): the probability that people cut between two
segments, trained on the PSB public half (and, to compare, its remeshed variants) only.

    python bench/train_boundary.py [--data DIR ...] [--train NAME ...] [--folds 5]
                                   [--fold-seeds 0 1 2 3]
                                   [--scales S ...] [--no-cv] [--save]

For every model of each data folder (default: the PSB public half and, when present, its
remeshed variants under ~/.cache/part3d/psb_aigc_s08 and _s15), part3d segments it with the
hand-made evidence and records every boundary its merging considers: the ``FEATURES`` of
``part3d.segment.tree`` (scale-free: concavity, necks, thickness, the sides' shapes) and the
fraction of the model's human segmentations that put the two sides in different parts (each
side's part is the human label of most of its area). Rows are cached under
~/.cache/part3d/boundary_data/, by data folder and a digest of the code that made them.

A LightGBM classifier (cross-entropy on that fraction) is cross-validated by model id: each
fold's booster, trained on the ``--train`` folders (default: the PSB, as the packaged model)
without the fold's models, segments those models in every folder (a model's clean and
remeshed versions share their id, so they share a fold) with ``evidence="learned"``, cut at
each ``--scales`` times the balanced level; the Rand Index error, GCE, median part count and
weakest categories are printed per folder and scale. One partition's figure moves by up to
0.0025 RI with the luck of which models share a fold (PSB 0.0998-0.1022 over the partitions
0-3, 2026-12-02): ``--fold-seeds 0 1 2 3`` cross-validates over four partitions and prints
their mean, the figure to compare changes by. ``--save`` trains on every model of the
``--train`` folders and writes the package's ``segment/boundary_model.txt`` (deterministic:
one thread, fixed seeds). data/real is never used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from options import segment_overrides  # noqa: E402
from psb_metrics import consistency_errors, rand_index_error  # noqa: E402

from part3d.segment.tree import FEATURES  # noqa: E402

CACHE = Path(os.environ.get("PART3D_CACHE", Path.home() / ".cache" / "part3d"))
DEFAULT_DATA = [
    ROOT.parent / "shared" / "data" / "psb",
    CACHE / "psb_aigc_s08",
    CACHE / "psb_aigc_s15",
]
#: What the packaged model is trained on: the PSB public half. (Adding the remeshed variants
#: scores the same cross-validated but makes the probabilities less sure of themselves: real
#: models then fall from 5-15 parts to one between levels 0.65 and 0.7; docs/SEGMENTATION.md.)
TRAINING = ("psb",)
MODEL_FILE = ROOT / "src" / "part3d" / "segment" / "boundary_model.txt"
#: Bump when the labelling changes (a change of the segmentation's code rebuilds the cache).
VERSION = 1
PARAMS = {
    "objective": "cross_entropy",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 300
#: One booster per bagging seed, their probabilities averaged: a single booster's borderline
#: boundaries (a probability near the balanced level) moved with its seed.
SEEDS = (1, 2, 3, 4, 5)


def model_rows(path: str) -> dict:
    """Segment one model with the hand-made evidence and label every boundary considered
    (runs in a worker process)."""
    from psb_metrics import psb_mesh

    from part3d.model import Scene
    from part3d.segment import SegmentOptions, segment

    z = np.load(path)
    trace: list = []
    # Labelled on the leaves as the proxy draws them: the full-resolution re-cut of their
    # boundaries (``smooth``) is no part of what the evidence decides, nor is the damping of
    # a series of grooves (``grooves``) or of a handle's waist (``handles``), applied on top of
    # whatever evidence.
    options = SegmentOptions(evidence="crease", smooth=0, grooves=False, handles=False)
    seg = segment(Scene([psb_mesh(z)]), options, _trace=trace)
    leaf_of_face = seg.leaves[0]
    area = seg.areas[0]
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    # (leaves, human labels) area histogram per human segmentation.
    hists = []
    for s in segs:
        h = np.zeros((seg.tree.leaves, int(s.max()) + 1))
        np.add.at(h, (leaf_of_face, s), area)
        hists.append(h)
    xs, ys = [], []
    for offset, rows in trace:
        for feats, side_a, side_b in rows:
            a = np.asarray(side_a) + offset
            b = np.asarray(side_b) + offset
            differ = [
                float(np.argmax(h[a].sum(axis=0)) != np.argmax(h[b].sum(axis=0))) for h in hists
            ]
            xs.append(feats)
            ys.append(float(np.mean(differ)))
    return {
        "id": int(Path(path).stem),
        "category": str(z["category"]),
        "x": np.asarray(xs, dtype=float).reshape(-1, len(FEATURES)),
        "y": np.asarray(ys, dtype=float),
    }


def code_digest() -> str:
    """A digest of the segmentation's source and of this script: rows cached by other code
    are not reused (a model trained on stale rows cannot be rebuilt)."""
    import hashlib

    h = hashlib.sha1(str(VERSION).encode())
    sources = sorted((ROOT / "src" / "part3d" / "segment").glob("*.py"))
    for path in [*sources, Path(__file__)]:
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def dataset(folder: Path, jobs: int) -> dict:
    """The cached rows of one data folder (made on first use by this code)."""
    out = CACHE / "boundary_data" / f"{folder.name}_v{VERSION}_{code_digest()}.npz"
    if out.exists():
        z = np.load(out)
        return {k: z[k] for k in z.files}
    paths = sorted(str(p) for p in folder.glob("*.npz"))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(model_rows, paths, chunksize=2))
    data = {
        "x": np.concatenate([r["x"] for r in rows]),
        "y": np.concatenate([r["y"] for r in rows]),
        "model": np.concatenate([np.full(len(r["x"]), r["id"]) for r in rows]),
        "ids": np.array([r["id"] for r in rows]),
        "categories": np.array([r["category"] for r in rows]),
        "paths": np.array(paths),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    return data


def train(x: np.ndarray, y: np.ndarray, rounds: int):
    """A ``BoundaryModel`` of one booster per seed of ``SEEDS``."""
    import lightgbm

    from part3d.segment.learned import BoundaryModel

    # Features rounded to float32: the last bits of a float64 feature differ from one CPU's
    # vector unit to another's (numpy's AVX-512 and AVX2 exp/log), and LightGBM writes its
    # thresholds as midpoints of the values it saw; rounded, the file is the same everywhere.
    data = x.astype(np.float32)
    return BoundaryModel(
        [
            lightgbm.train(
                {**PARAMS, "seed": seed}, lightgbm.Dataset(data, y), num_boost_round=rounds
            )
            for seed in SEEDS
        ]
    )


def score_model(job: tuple[str, str, dict, tuple[float, ...]]) -> list[dict]:
    """RI error and GCE of one model segmented with ``overrides``, cut at each evidence scale
    of ``scales`` (worker process)."""
    from psb_metrics import psb_mesh

    from part3d.model import Scene
    from part3d.segment import SegmentOptions, segment

    path, _, overrides, scales = job
    z = np.load(path)
    seg = segment(Scene([psb_mesh(z)]), replace(SegmentOptions(), **overrides))
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    out = []
    for scale in scales:
        seg.options = replace(seg.options, evidence_scale=scale)
        labels = seg.cut().labels[0].astype(np.int64)
        out.append(
            {
                "id": int(Path(path).stem),
                "category": str(z["category"]),
                "ri": float(np.mean([rand_index_error(labels, s) for s in segs])),
                "gce": float(np.mean([consistency_errors(labels, s)[0] for s in segs])),
                "parts": int(labels.max()) + 1,
            }
        )
    return out


def worst(rows: list[dict]) -> str:
    """The five categories with the highest mean RI error over ``rows``."""
    by_cat: dict[str, list[float]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r["ri"])
    top = sorted(((np.mean(v), c) for c, v in by_cat.items()), reverse=True)[:5]
    return ", ".join(f"{c} {v:.3f}" for v, c in top)


def summary(rows: list[dict]) -> str:
    return (
        f"RI {np.mean([r['ri'] for r in rows]):.4f} GCE {np.mean([r['gce'] for r in rows]):.4f} "
        f"parts {np.median([r['parts'] for r in rows]):.0f}; worst {worst(rows)}"
    )


def mean_summary(runs: list[list[dict]]) -> str:
    """``summary``'s figures averaged over several cross-validations of the same models."""
    ri = [np.mean([r["ri"] for r in rows]) for rows in runs]
    gce = np.mean([np.mean([r["gce"] for r in rows]) for rows in runs])
    pooled = [r for rows in runs for r in rows]
    return f"RI {np.mean(ri):.4f} (range {np.ptp(ri):.4f}) GCE {gce:.4f}; worst {worst(pooled)}"


def load_sets(data: list[Path], jobs: int) -> dict[str, dict]:
    """The boundary rows of every data folder that exists, by folder name."""
    return {d.name: dataset(d, jobs) for d in data if d.is_dir() and any(d.glob("*.npz"))}


def fold_of(sets: dict[str, dict], folds: int, seed: int = 0) -> dict[int, int]:
    """The fold of each model id (ids interleave categories; a model's clean and remeshed
    versions share their id, so they share a fold). ``seed`` 0: the ids in order, so each
    fold holds two models of every PSB category; another seed: the ids shuffled by it (another
    partition, to tell a change's effect from the luck of one partition)."""
    ids = sorted(set().union(*(set(d["ids"].tolist()) for d in sets.values())))
    if seed:
        ids = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    return {m: i % folds for i, m in enumerate(ids)}


def fold_models(
    sets: dict[str, dict], folds: int, out: Path, rounds: int = ROUNDS, seed: int = 0
) -> dict[int, str]:
    """Train one booster per fold on the other folds' models; returns, for every model id, the
    file of the booster that never saw it (folds by ``fold_of`` with ``seed``)."""
    fold = fold_of(sets, folds, seed)
    files = {}
    for f in range(folds):
        xs, ys = [], []
        for d in sets.values():
            rows = np.array([fold[m] != f for m in d["model"].tolist()])
            xs.append(d["x"][rows])
            ys.append(d["y"][rows])
        file = out / f"fold{f}.txt"
        train(np.concatenate(xs), np.concatenate(ys), rounds).save(file)
        files[f] = str(file)
    return {m: files[f] for m, f in fold.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="*", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    parser.add_argument("--set", action="append", default=[], help="SegmentOptions override")
    parser.add_argument(
        "--scales", type=float, nargs="*", default=[1.0], help="evidence scales to score"
    )
    parser.add_argument(
        "--fold-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="cross-validate over these partitions of the models (0: the interleaved one; "
        "several: each, then their mean)",
    )
    parser.add_argument(
        "--train",
        nargs="*",
        default=list(TRAINING),
        help="train on these data folders (names; default: %(default)s); others are scored",
    )
    parser.add_argument("--save", action="store_true", help=f"train on all, write {MODEL_FILE}")
    parser.add_argument(
        "--out", type=Path, default=MODEL_FILE, help="where --save writes (default: the package's)"
    )
    args = parser.parse_args()
    overrides = {}
    try:
        overrides.update(segment_overrides(args.set))
    except ValueError as err:
        parser.error(str(err))

    sets = load_sets(args.data, args.jobs)
    training = {k: v for k, v in sets.items() if k in args.train}
    for name, d in sets.items():
        print(f"{name}: {len(d['ids'])} models, {len(d['x'])} boundaries, "
              f"{np.mean(d['y'] > 0.5):.2f} cut by most people")  # fmt: skip
    if not args.no_cv:
        pooled: dict[tuple[str, int], list[list[dict]]] = {}
        for seed in args.fold_seeds:
            with tempfile.TemporaryDirectory() as tmp:
                model_of = fold_models(training, args.folds, Path(tmp), args.rounds, seed)
                jobs = [
                    (
                        path,
                        name,
                        {**overrides, "evidence": "learned", "boundary_model": model_of[m]},
                        tuple(args.scales),
                    )  # fmt: skip
                    for name, d in sets.items()
                    for path, m in zip(d["paths"].tolist(), d["ids"].tolist(), strict=True)
                ]
                with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                    results = list(pool.map(score_model, jobs, chunksize=2))
            tag = f" seed {seed}" if len(args.fold_seeds) > 1 else ""
            for name in sets:
                for i, scale in enumerate(args.scales):
                    rows = [r[i] for r, j in zip(results, jobs, strict=True) if j[1] == name]
                    pooled.setdefault((name, i), []).append(rows)
                    print(f"{name:16s} x{scale:<4g} learned (CV{tag}): {summary(rows)}")
        if len(args.fold_seeds) > 1:
            for (name, i), runs in pooled.items():
                print(f"{name:16s} x{args.scales[i]:<4g} learned (CV, mean of "
                      f"{len(runs)} partitions): {mean_summary(runs)}")  # fmt: skip
    if args.save:
        x = np.concatenate([d["x"] for d in training.values()])
        y = np.concatenate([d["y"] for d in training.values()])
        train(x, y, args.rounds).save(args.out)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) from "
              f"{', '.join(training)}")  # fmt: skip


if __name__ == "__main__":
    main()
