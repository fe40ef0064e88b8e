"""One merge tree per model, and its cuts.

The leaves are the over-segments of every surface; separate meshes and separate pieces are
separate roots that never merge. Within a surface, adjacent segments merge in order of
increasing boundary evidence; each merge records its *height* (the evidence it overrode, kept
monotone along the merge order), and is stored as a pair of representative leaves, so a cut is
a union-find over the merges kept and costs milliseconds.

A cut undoes the ``j`` highest merges of the whole model (``parts = roots + j``):

* ``--parts N``: ``j = N - roots``;
* automatic (a granularity): the ``j`` where the evidence has its largest gap (in log scale)
  between the last merge undone and the first merge kept, within the granularity's band of
  evidence and leaning towards its typical count (``GRANULARITY``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

#: Each granularity: the most cuts inside surfaces; the part count it leans towards (on one
#: surface); the evidence level around which its cuts lie (boundary evidence in 1/diagonal
#: curvature units, see ``build_piece_merges``), the width of the band around it (a factor)
#: and how strongly it leans towards its count.
GRANULARITY = {
    "coarse": (5, 4, 40.0, 2.0, 1.0),
    "balanced": (14, 7, 20.0, 2.0, 1.0),
    "fine": (40, 16, 10.0, 1.3, 0.0),
}


@dataclass
class MergeTree:
    """Leaves ``0..leaves-1`` grouped in ``roots`` separate pieces; ``merges`` (m, 2) pairs of
    leaves joined inside a piece, with ``height`` (m,) their evidence, sorted by decreasing
    height (ties: later merges first)."""

    leaves: int
    roots: int
    merges: np.ndarray
    height: np.ndarray

    @property
    def max_parts(self) -> int:
        return self.roots + len(self.merges)

    def labels(self, cuts: int) -> np.ndarray:
        """(leaves,) part of each leaf when the ``cuts`` highest merges are undone (every other
        merge applied); parts numbered by their first leaf."""
        cuts = int(np.clip(cuts, 0, len(self.merges)))
        parent = np.arange(self.leaves)

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for a, b in self.merges[cuts:].tolist():
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        roots = np.array([find(i) for i in range(self.leaves)], dtype=np.int64)
        return np.unique(roots, return_inverse=True)[1]

    def auto_cuts(self, granularity: str, scale: float = 1.0) -> int:
        """The number of merges to undo for ``granularity``: where the evidence has its largest
        gap inside the granularity's band of evidence, leaning towards its typical part count
        (``scale`` multiplies the band's level). Coarse is never finer than balanced, nor fine
        coarser, so the levels nest."""
        if granularity not in GRANULARITY:
            raise ValueError(f"unknown granularity {granularity!r}")
        cap, target, level, width, lean = GRANULARITY[granularity]
        j = self._gap_cut(cap, target, level * scale, width, lean)
        if granularity == "coarse":
            return min(j, self.auto_cuts("balanced", scale))
        if granularity == "fine":
            return max(j, self.auto_cuts("balanced", scale))
        return j

    def _gap_cut(self, cap: int, target: int, level: float, width: float, lean: float) -> int:
        """The cut ``j`` (merges undone) with the largest gap between the last merge undone and
        the first kept, both clamped to ``[level / width, level * width]`` (a gap outside that
        band is no evidence: noise below it, certain cuts above it), minus ``lean`` times the
        distance (log parts) from ``target``."""
        h = self.height
        if self.roots == 0:
            return 0
        low, high = np.log(level / width), np.log(level * width)
        logs = np.log(np.maximum(h, 1e-12))
        # A model of many pieces already has its parts: lean towards cutting nothing more.
        target = max(target, self.roots)
        best, best_j = -np.inf, 0
        for j in range(0, min(cap, len(h)) + 1):
            upper = min(logs[j - 1], high) if j > 0 else high
            lower = max(logs[j], low) if j < len(h) else low
            score = (upper - lower) - lean * abs(np.log((self.roots + j) / target))
            if score > best + 1e-12:
                best, best_j = score, j
        return best_j


def build_piece_merges(
    leaf_area: np.ndarray,
    pair_leaves: np.ndarray,
    pair_length: np.ndarray,
    pair_concave: np.ndarray,
    pair_weak: np.ndarray,
    leaf_thickness: np.ndarray,
    *,
    mode: str,
    scale: float,
    min_area: float,
    thickness_weight: float,
    neck: float,
) -> tuple[list[tuple[int, int]], list[float]]:
    """Best-first merging of the leaves of one piece (local ids ``0..k-1``).

    ``leaf_area`` (k,) as fractions of the piece, whose area is ``scale`` squared;
    ``pair_leaves`` (e, 2) adjacent leaves with shared boundary ``pair_length`` (e,) and
    length-weighted concave curvature sum ``pair_concave`` (e,); ``leaf_thickness`` (k,) mean
    shape diameter. The evidence of a boundary is its mean concave curvature, raised where the
    boundary is short for the smaller side (a neck: ``(sqrt(area) / length) ** neck``), plus
    ``thickness_weight`` times the contrast in thickness between the two sides (a limb on a
    body: ``|log(thickness ratio)|``). Returns the merges as pairs of leaves and their
    monotone heights, in merge order."""
    k = len(leaf_area)
    area = leaf_area.astype(float).copy()
    thick_sum = leaf_thickness * area
    links: list[dict[int, list[float]]] = [dict() for _ in range(k)]
    for (s, t), length, conc, weak in zip(
        pair_leaves.tolist(),
        pair_length.tolist(),
        pair_concave.tolist(),
        pair_weak.tolist(),
        strict=True,
    ):
        if s == t:
            continue
        for x, y in ((s, t), (t, s)):
            entry = links[x].setdefault(y, [0.0, 0.0, 0.0])
            entry[0] += length
            entry[1] += conc
            entry[2] += weak
    rep = list(range(k))
    alive = set(range(k))

    def evidence(s: int, t: int) -> float:
        length, conc, weak = links[s][t]
        ts, tt = thick_sum[s] / area[s], thick_sum[t] / area[t]
        contrast = abs(np.log(max(ts, 1e-9) / max(tt, 1e-9)))
        small = min(area[s], area[t])
        if mode == "cut":
            e = np.sqrt(small) * scale / max(weak, 1e-12 * length, 1e-300)
            e = min(e, 1e6) * (1.0 + thickness_weight * contrast)
        else:
            mean = conc / max(length, 1e-300)
            narrow = np.sqrt(small) * scale / max(length, 1e-300)
            e = mean * float(np.clip(narrow, 0.5, 4.0)) ** neck + thickness_weight * contrast
        if small < min_area:
            e *= small / min_area
        return e

    heap = [(evidence(s, t), s, t) for s in range(k) for t in links[s] if s < t]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    heights: list[float] = []
    level = 0.0
    while heap and len(alive) > 1:
        e, s, t = heapq.heappop(heap)
        if s not in alive or t not in alive or t not in links[s]:
            continue
        if e != evidence(s, t):
            continue  # stale
        level = max(level, e)
        merges.append((rep[s], rep[t]))
        heights.append(level)
        # Fold t into s.
        alive.discard(t)
        area[s] += area[t]
        thick_sum[s] += thick_sum[t]
        for u, (length, conc, weak) in links[t].items():
            if u == s:
                continue
            entry = links[s].setdefault(u, [0.0, 0.0, 0.0])
            entry[0] += length
            entry[1] += conc
            entry[2] += weak
            links[u][s] = entry
            links[u].pop(t, None)
        links[s].pop(t, None)
        links[t] = {}
        for u in links[s]:
            heapq.heappush(heap, (evidence(s, u), min(s, u), max(s, u)))
    # Leaves with no boundary to the rest (specks that joined this piece) join the largest
    # segment, with no evidence against it.
    rest = sorted(alive, key=lambda x: (-area[x], x))
    for t in rest[1:]:
        merges.append((rep[rest[0]], rep[t]))
        heights.append(0.0)
    return merges, heights


def assemble(
    leaves: int, roots: int, merges: list[tuple[int, int]], heights: list[float]
) -> MergeTree:
    """The model's tree from every piece's merges (leaf ids already global)."""
    if not merges:
        return MergeTree(leaves, roots, np.zeros((0, 2), dtype=np.int64), np.zeros(0))
    m = np.asarray(merges, dtype=np.int64)
    h = np.asarray(heights, dtype=float)
    order = np.lexsort((-np.arange(len(h)), -h))
    return MergeTree(leaves, roots, m[order], h[order])
