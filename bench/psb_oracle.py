"""Is a weak category a matter of the part count, of the tree, or of its leaves? For each
model, the Rand Index error of the automatic cut, of every cut of the same merge tree into
1..N parts, of the best of them (an oracle: chosen per model by looking at the human labels,
so no automatic count can beat it) and of the median of the part counts people chose for that
model; then of the leaves (each leaf given the part that most of its faces have in the
segmentation of the person who agrees best with the others: what merging the leaves could
reach) and of that person's segmentation itself.

    python bench/psb_oracle.py [--data DIR] [--categories Bust,Fish | all] [--max-parts 25]
                               [--json FILE] [--jobs N] [--set name=value ...]

Cross-validated like ``bench/psb.py``: each model is segmented by the boundary model of
``bench/train_boundary.py``'s fold that never saw it; ``--set`` overrides a SegmentOptions
field, as in ``bench/psb.py``, to compare an experiment's tree with the shipped one. Prints
per category the mean of the errors, then per model. (Fourth session of 2026-11-30: Bust
0.251 automatic, 0.211 oracle: no count reaches 0.20 on busts. Ninth: the leaves reach
0.164, the person who agrees best 0.145: the cuts are in the leaves, the merge order loses
them. Tenth: average linkage in the merge order takes the tree's best cut to 0.203 at best;
docs/SEGMENTATION.md.)
"""

from __future__ import annotations

import argparse
import json
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
from psb_metrics import psb_mesh, rand_index_error  # noqa: E402


def _model(args: tuple[str, str, int, dict]) -> dict:
    """One model's automatic and per-count errors (runs in a worker process)."""
    from part3d.model import Scene
    from part3d.segment import SegmentOptions, segment

    path, booster, max_parts, overrides = args
    z = np.load(path)
    segs = [np.asarray(s, dtype=np.int64) for s in z["segs"]]
    options = replace(SegmentOptions(), **{"boundary_model": booster, **overrides})
    seg = segment(Scene([psb_mesh(z)]), options)

    def error(labels: np.ndarray) -> float:
        return float(np.mean([rand_index_error(labels.astype(np.int64), s) for s in segs]))

    counts = range(seg.tree.roots, min(max_parts, seg.tree.max_parts) + 1)
    by_count = {n: error(seg.cut(parts=n).labels[0]) for n in counts}
    usual = int(np.median([int(s.max()) + 1 for s in segs]))
    usual = min(max(usual, min(by_count)), max(by_count))
    # The person who agrees best with the others, and the leaves labelled after them.
    agree = [np.mean([rand_index_error(a, b) for b in segs]) for a in segs]
    best = segs[int(np.argmin(agree))]
    leaf = np.asarray(seg.leaves[0], dtype=np.int64)
    votes = np.zeros((int(leaf.max()) + 1, int(best.max()) + 1))
    np.add.at(votes, (leaf, best), 1)
    return {
        "id": int(Path(path).stem),
        "category": str(z["category"]),
        "parts": seg.part_count,
        "auto": error(seg.labels[0]),
        "by_count": by_count,
        "usual_count": usual,
        "leaves": error(votes.argmax(axis=1)[leaf]),
        "person": float(min(agree)),
    }


def main() -> None:
    from train_boundary import DEFAULT_DATA, TRAINING, fold_models, load_sets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "psb")
    ap.add_argument("--categories", default="Bust,Fish")
    ap.add_argument("--max-parts", type=int, default=25)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    try:
        overrides = segment_overrides(args.set)
    except ValueError as exc:
        ap.error(str(exc))
    paths = sorted(args.data.glob("*.npz"), key=lambda p: int(p.stem))
    if args.categories != "all":
        wanted = set(args.categories.split(","))
        paths = [p for p in paths if str(np.load(p)["category"]) in wanted]
    if not paths:
        ap.error(f"no models of {args.categories} in {args.data}")
    sets = load_sets([d for d in DEFAULT_DATA if d.name in TRAINING], args.jobs)
    with tempfile.TemporaryDirectory() as folds:
        model_of = fold_models(sets, 5, Path(folds))
        jobs = [(str(p), model_of[int(p.stem)], args.max_parts, overrides) for p in paths]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(_model, jobs))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    cats: dict[str, list[dict]] = {}
    for r in rows:
        cats.setdefault(r["category"], []).append(r)
    print("category      automatic   oracle   people's median count   leaves   best person")
    for cat, rs in sorted(cats.items()):
        auto = np.mean([r["auto"] for r in rs])
        best = np.mean([min(r["by_count"].values()) for r in rs])
        usual = np.mean([r["by_count"][r["usual_count"]] for r in rs])
        leaves = np.mean([r["leaves"] for r in rs])
        person = np.mean([r["person"] for r in rs])
        print(f"{cat:12s} {auto:10.3f} {best:8.3f} {usual:10.3f} {leaves:18.3f} {person:9.3f}")
    for r in rows:
        n = min(r["by_count"], key=r["by_count"].get)
        print(
            f"  {r['id']:4d} {r['category']:10s} automatic {r['parts']:3d} parts "
            f"{r['auto']:.3f}   best {n:3d} parts {r['by_count'][n]:.3f}   "
            f"median {r['usual_count']:3d} parts {r['by_count'][r['usual_count']]:.3f}   "
            f"leaves {r['leaves']:.3f}   best person {r['person']:.3f}"
        )


if __name__ == "__main__":
    main()
