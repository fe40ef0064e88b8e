"""An experiment: can a learned choice of the automatic cut beat the hand-made rule?

    python bench/train_cut.py [--data DIR ...] [--folds 5] [--save FILE]

For every model of each data folder (default: the PSB public half and, when present, its
remeshed variants under ~/.cache/part3d/psb_aigc_s08 and _s15), part3d segments it once with
the default options and scores every candidate cut of its merge tree against the humans (Rand
Index error); the features of each candidate and its regret (its error minus the best cut's)
are cached under ~/.cache/part3d/cut_data/. A LightGBM regression of the regret is then
cross-validated by model id (a model's clean and remeshed versions always in the same fold)
and the per-folder figures printed: the hand-made rule, the learned choice on models it was
not trained on, and the oracle (the best cut of each tree). ``--save`` trains on every model
and writes the LightGBM model (deterministic: one thread, fixed seed). Only PSB data is used,
never data/real.

Result (docs/SEGMENTATION.md): the learned choice scores like ``--granularity fine`` on the
PSB and cuts real models far finer than people accept, so part3d does not ship it.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from psb_metrics import rand_index_error  # noqa: E402
from train_boundary import PARAMS as BOUNDARY_PARAMS  # noqa: E402

#: Candidate cuts considered (merges undone inside surfaces).
MAX_CUTS = 30
FEATURES = (
    "cuts",
    "log_parts",
    "roots",
    "log_undone",
    "log_kept",
    "gap",
    "kept_vs_top",
    "gap_vs_best",
    "log_smallest",
    "log_largest",
    "rule",
    "cuts_minus_rule",
    "log_leaves",
)


def cut_features(tree, leaf_area: np.ndarray, rule: int, max_cuts: int = MAX_CUTS) -> np.ndarray:
    """(J + 1, len(FEATURES)) features of the cuts ``j = 0..J`` of ``tree``; ``leaf_area`` (L,)
    the area of each leaf; ``rule`` the hand-made rule's cut."""
    h = np.log(np.maximum(tree.height, 1e-9))
    count = min(max_cuts, len(h))
    total = float(leaf_area.sum()) or 1.0
    top = h[0] if len(h) else 0.0
    undone = np.array([h[j - 1] if j > 0 else top + 2.0 for j in range(count + 1)])
    kept = np.array([h[j] if j < len(h) else np.log(1e-3) for j in range(count + 1)])
    gap = undone - kept
    best_gap = float(gap[1:].max()) if count > 0 else 1.0
    rows = []
    for j in range(count + 1):
        part = tree.labels(j)
        area = np.bincount(part, weights=leaf_area) / total
        area = area[area > 0]
        rows.append(
            [
                j,
                np.log(tree.roots + j),
                tree.roots,
                undone[j],
                kept[j],
                gap[j],
                kept[j] - top,
                gap[j] / max(best_gap, 1e-9),
                np.log(max(float(area.min()), 1e-9)),
                np.log(max(float(area.max()), 1e-9)),
                rule,
                j - rule,
                np.log(tree.leaves),
            ]
        )
    return np.asarray(rows, dtype=float)


CACHE = Path(os.environ.get("PART3D_CACHE", Path.home() / ".cache" / "part3d"))
DEFAULT_DATA = [
    ROOT.parent / "shared" / "data" / "psb",
    CACHE / "psb_aigc_s08",
    CACHE / "psb_aigc_s15",
]
# The shipped boundary model's settings, but a robust regression of the regret.
PARAMS = {**BOUNDARY_PARAMS, "objective": "regression_l1", "min_data_in_leaf": 100}
ROUNDS = 300


def model_rows(path: str) -> dict:
    """Segment one model and describe every candidate cut (runs in a worker process)."""
    from psb_metrics import psb_mesh

    from part3d.model import Scene
    from part3d.segment import SegmentOptions, segment

    z = np.load(path)
    mesh = psb_mesh(z)
    seg = segment(Scene([mesh]), SegmentOptions(evidence="crease"))  # the hand-made tree
    tree, leaves = seg.tree, seg.leaves[0]
    leaf_area = np.bincount(leaves, weights=seg.areas[0], minlength=tree.leaves)
    rule = tree.auto_cuts("balanced")
    x = cut_features(tree, leaf_area, rule, MAX_CUTS)
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    ri = np.array(
        [
            np.mean([rand_index_error(tree.labels(j)[leaves].astype(np.int64), s) for s in segs])
            for j in range(len(x))
        ]
    )
    return {"id": int(Path(path).stem), "category": str(z["category"]), "x": x, "ri": ri,
            "rule": rule}  # fmt: skip


def dataset(folder: Path) -> dict:
    """The cached rows of one data folder (made on first use)."""
    out = CACHE / "cut_data" / f"{folder.name}.npz"
    if out.exists():
        z = np.load(out)
        return {k: z[k] for k in z.files}
    paths = sorted(str(p) for p in folder.glob("*.npz"))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        rows = list(pool.map(model_rows, paths, chunksize=2))
    data = {
        "x": np.concatenate([r["x"] for r in rows]),
        "ri": np.concatenate([r["ri"] for r in rows]),
        "model": np.concatenate([np.full(len(r["x"]), r["id"]) for r in rows]),
        "rule": np.array([r["rule"] for r in rows]),
        "ids": np.array([r["id"] for r in rows]),
        "categories": np.array([r["category"] for r in rows]),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    return data


def regret(data: dict) -> np.ndarray:
    best = {m: data["ri"][data["model"] == m].min() for m in data["ids"].tolist()}
    return data["ri"] - np.array([best[m] for m in data["model"].tolist()])


def chosen_ri(data: dict, pred: np.ndarray) -> dict[int, float]:
    out = {}
    for m in data["ids"].tolist():
        rows = np.flatnonzero(data["model"] == m)
        out[m] = float(data["ri"][rows[int(np.argmin(pred[rows]))]])
    return out


def train(x: np.ndarray, y: np.ndarray):
    import lightgbm

    return lightgbm.train(PARAMS, lightgbm.Dataset(x, y), num_boost_round=ROUNDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="*", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--save", type=Path, help="train on every model and write it here")
    args = parser.parse_args()

    sets = {d.name: dataset(d) for d in args.data if d.is_dir() and any(d.glob("*.npz"))}
    ids = sorted(set().union(*(set(d["ids"].tolist()) for d in sets.values())))
    fold_of = {m: i % args.folds for i, m in enumerate(ids)}  # ids interleave categories
    cv_pred = {name: np.zeros(len(d["x"])) for name, d in sets.items()}
    for fold in range(args.folds):
        xs, ys = [], []
        for d in sets.values():
            train_rows = np.array([fold_of[m] != fold for m in d["model"].tolist()])
            xs.append(d["x"][train_rows])
            ys.append(regret(d)[train_rows])
        booster = train(np.concatenate(xs), np.concatenate(ys))
        for name, d in sets.items():
            test_rows = np.array([fold_of[m] == fold for m in d["model"].tolist()])
            cv_pred[name][test_rows] = booster.predict(d["x"][test_rows], num_threads=1)
    print(f"{'data':16s} {'models':>6s} {'rule':>7s} {'learned (CV)':>13s} {'oracle':>7s}")
    for name, d in sets.items():
        rule = {
            m: float(d["ri"][np.flatnonzero(d["model"] == m)[min(r, (d["model"] == m).sum() - 1)]])
            for m, r in zip(d["ids"].tolist(), d["rule"].tolist(), strict=True)
        }
        learned = chosen_ri(d, cv_pred[name])
        oracle = {m: float(d["ri"][d["model"] == m].min()) for m in d["ids"].tolist()}
        print(
            f"{name:16s} {len(d['ids']):6d} {np.mean(list(rule.values())):7.4f} "
            f"{np.mean(list(learned.values())):13.4f} {np.mean(list(oracle.values())):7.4f}"
        )
        by_cat: dict[str, list[float]] = {}
        for m, c in zip(d["ids"].tolist(), d["categories"].tolist(), strict=True):
            by_cat.setdefault(c, []).append(learned[m])
        worst = sorted(((np.mean(v), c) for c, v in by_cat.items()), reverse=True)[:4]
        print("    weakest (CV):", ", ".join(f"{c} {v:.3f}" for v, c in worst))
    if args.save:
        booster = train(
            np.concatenate([d["x"] for d in sets.values()]),
            np.concatenate([regret(d) for d in sets.values()]),
        )
        booster.save_model(str(args.save))
        print(f"wrote {args.save} ({args.save.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
