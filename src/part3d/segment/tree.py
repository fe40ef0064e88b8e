"""One merge tree per model, and its cuts.

The leaves are the over-segments of every surface; separate meshes and separate pieces are
separate roots that never merge. Within a surface, adjacent segments merge in order of
increasing boundary evidence; each merge records its *height* (the evidence it overrode, kept
monotone along the merge order), and is stored as a pair of representative leaves, so a cut is
a union-find over the merges kept and costs milliseconds.

A cut undoes the ``j`` highest merges of the whole model (``parts = roots + j``):

* ``--parts N``: ``j = N - roots``;
* automatic (a granularity), learned evidence (heights are the probability that people cut
  there): every merge above the granularity's level (``LEARNED_LEVEL``; a single surface at
  balanced at least its likeliest cut when that is above the fine level); hand-made evidence:
  the ``j`` where the evidence has its largest gap (in log scale) between the last merge undone
  and the first merge kept, within the granularity's band of evidence and leaning towards its
  typical count (``GRANULARITY``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from part3d.segment.grooves import DAMP as GROOVES_DAMP

#: Each granularity: the most cuts inside surfaces; the part count it leans towards (on one
#: surface); the evidence level around which its cuts lie (boundary evidence in 1/diagonal
#: curvature units, see ``build_piece_merges``), the width of the band around it (a factor)
#: and how strongly it leans towards its count.
GRANULARITY = {
    "coarse": (5, 4, 40.0, 2.0, 1.0),
    "balanced": (14, 7, 20.0, 2.0, 1.0),
    "fine": (40, 16, 10.0, 1.3, 0.0),
}

#: With the learned evidence (heights are the probability that people cut a boundary), each
#: granularity undoes the merges above its level (at most its most cuts); balanced cuts a
#: single surface at least once when its likeliest cut is above the fine level.
LEARNED_LEVEL = {"coarse": 0.85, "balanced": 0.7, "fine": 0.5}


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

    def auto_cuts(self, granularity: str, scale: float = 1.0, learned: bool = False) -> int:
        """The number of merges to undo for ``granularity``. ``learned`` (heights are
        probabilities): the merges above the granularity's level. Else where the evidence has
        its largest gap inside the granularity's band of evidence, leaning towards its typical
        part count. ``scale`` multiplies the level; coarse is never finer than balanced, nor
        fine coarser, so the levels nest."""
        if granularity not in GRANULARITY:
            raise ValueError(f"unknown granularity {granularity!r}")
        cap, target, level, width, lean = GRANULARITY[granularity]
        if learned:
            level = LEARNED_LEVEL[granularity] * scale
            cuts = int(min(np.count_nonzero(self.height > level), cap))
            if cuts == 0 and self.roots == 1 and granularity == "balanced" and len(self.height):
                # One surface is not handed back whole when people would more likely than not
                # cut it somewhere: its likeliest cut, if above the fine level.
                cuts = int(self.height[0] > LEARNED_LEVEL["fine"] * scale)
            return cuts
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


#: Per-boundary sums (columns of ``pair_stats``): its length; length times concave curvature
#: (1/diagonal units); the cut weight (length weakened at creases); length times the concavity
#: above its background; length times concavity squared; the length where the concavity is a
#: crease (above ``CREASE``); length times convex curvature; length times the thinner side's
#: shape diameter (relative to the diagonal).
(STAT_LENGTH, STAT_CONCAVE, STAT_WEAK, STAT_ABOVE, STAT_CONCAVE2, STAT_CREASE, STAT_CONVEX,
 STAT_THIN) = range(8)  # fmt: skip
#: ... and length times the position of its edges (three columns from ``STAT_MID``).
STAT_MID = 8
STATS = 11
CREASE = 10.0

#: The features of a boundary between two segments that a learned evidence model reads
#: (``pair_features``); every one is free of the model's scale and tessellation.
FEATURES = (
    "mean_concave",
    "rms_concave",
    "mean_above",
    "crease_fraction",
    "mean_convex",
    "log_neck",
    "log_small_area",
    "log_large_area",
    "log_share",
    "log_small_thickness",
    "log_thickness_ratio",
    "log_boundary_thinness",
    "normal_cos",
    "small_flatness",
    "large_flatness",
    "small_enclosed",
    "large_enclosed",
    "log_hand_evidence",
)

#: Features are rounded to this many decimals before a model sees them (in training and in
#: use): the last bits of a sum depend on which CPU kernels numpy, BLAS and libm pick, and a
#: tree's thresholds are drawn between training values, so unrounded features made another
#: model file on another CPU. A difference of a few units in the 16th digit crosses a rounding
#: step about once in 10^8 values.
FEATURE_DECIMALS = 6


def pair_features(
    st: np.ndarray,
    areas: tuple[float, float],
    thick: tuple[float, float],
    normals: tuple[np.ndarray, np.ndarray],
    perimeters: tuple[float, float],
    scale: float,
    share: float,
    hand: float,
) -> list[float]:
    """The ``FEATURES`` of one boundary: ``st`` its summed ``STATS``; per side (smaller area
    first) the area (fraction of the piece), mean thickness, area-weighted normal sum and
    internal perimeter; ``scale`` the piece's sqrt(area) in the units of the lengths;
    ``share`` the piece's fraction of the model's area; ``hand`` the hand-made evidence."""
    length = max(st[STAT_LENGTH], 1e-300)
    (sa, la), (ts, tl), (ns, nl), (ps, pl) = areas, thick, normals, perimeters
    # Sums of three products written out: numpy hands a vector's norm or dot product to
    # BLAS, whose kernels (and so the last bit) differ from one CPU to the next.
    (xs, ys, zs), (xl, yl, zl) = (float(c) for c in ns), (float(c) for c in nl)
    ms = math.sqrt(xs * xs + ys * ys + zs * zs)
    ml = math.sqrt(xl * xl + yl * yl + zl * zl)
    cos = (xs * xl + ys * yl + zs * zl) / (ms * ml) if ms > 0 and ml > 0 else 0.0
    return [
        st[STAT_CONCAVE] / length,
        float(np.sqrt(st[STAT_CONCAVE2] / length)),
        st[STAT_ABOVE] / length,
        st[STAT_CREASE] / length,
        st[STAT_CONVEX] / length,
        float(np.log(max(np.sqrt(sa) * scale / length, 1e-9))),
        float(np.log(max(sa, 1e-9))),
        float(np.log(max(la, 1e-9))),
        float(np.log(max(share, 1e-9))),
        float(np.log(max(ts, 1e-9))),
        float(np.log(max(ts, 1e-9) / max(tl, 1e-9))),
        float(np.log(max(st[STAT_THIN] / length, 1e-9) / max(min(ts, tl), 1e-9))),
        cos,
        ms / max(sa, 1e-300),
        ml / max(la, 1e-300),
        length / max(ps, 1e-300),
        length / max(pl, 1e-300),
        float(np.log(max(hand, 1e-6))),
    ]


def build_piece_merges(
    leaf_area: np.ndarray,
    pair_leaves: np.ndarray,
    pair_stats: np.ndarray,
    leaf_thickness: np.ndarray,
    leaf_normal: np.ndarray,
    *,
    mode: str,
    scale: float,
    share: float,
    min_area: float,
    thickness_weight: float,
    neck: float,
    model=None,
    trace: list | None = None,
    pair_edges: np.ndarray | None = None,
    grooves=None,
    handles: bool = False,
    attach: np.ndarray | None = None,
) -> tuple[list[tuple[int, int]], list[float]]:
    """Best-first merging of the leaves of one piece (local ids ``0..k-1``).

    ``leaf_area`` (k,) as fractions of the piece, whose area is ``scale`` squared;
    ``pair_leaves`` (e, 2) adjacent leaves and ``pair_stats`` (e, STATS) the sums
    over their shared boundary edges; ``leaf_thickness`` (k,) mean shape diameter;
    ``leaf_normal`` (k, 3) area-weighted normal sums; ``share`` the piece's fraction of the
    model's area.

    ``mode`` "crease": the evidence of a boundary is its mean concave curvature, raised where
    the boundary is short for the smaller side (a neck: ``(sqrt(area) / length) ** neck``), plus
    ``thickness_weight`` times the contrast in thickness between the two sides (a limb on a
    body: ``|log(thickness ratio)|``). "learned": the probability that people cut there, from
    ``model`` (a LightGBM booster over ``FEATURES``). ``trace`` (a list) receives every boundary
    considered: (features, leaves of one side, leaves of the other). ``grooves`` (a
    ``grooves.Grooves``, with ``pair_edges`` (e,) the proxy edge of each row of ``pair_leaves``)
    damps the evidence of a boundary that is one of a series of parallel grooves. ``handles``
    damps (``HANDLE_DAMP``) the evidence of a boundary across a handle (``_across_handle``).
    Segments left with no boundary to the rest join the largest, or, with ``attach`` (k,),
    the leaf ``attach`` gives for their first leaf (``graph.island_targets``; -1: the
    largest).
    Returns the merges as pairs of leaves and their monotone heights, in merge order."""
    k = len(leaf_area)
    area = leaf_area.astype(float).copy()
    thick_sum = leaf_thickness * area
    normal = leaf_normal.astype(float).copy()
    links: list[dict[int, np.ndarray]] = [dict() for _ in range(k)]
    for (s, t), st in zip(pair_leaves.tolist(), pair_stats, strict=True):
        if s == t:
            continue
        for x, y in ((s, t), (t, s)):
            entry = links[x].get(y)
            if entry is None:
                links[x][y] = st.astype(float).copy()
            else:
                entry += st
    for s in range(k):  # one array per boundary, shared by both sides
        for t in list(links[s]):
            if s < t:
                links[t][s] = links[s][t]
    # The proxy edges of each boundary (s < t), when grooves are tested, and the grooves'
    # factor of each boundary whose edges have not changed since it was measured.
    edges: dict[tuple[int, int], list[np.ndarray]] = {}
    damp: dict[tuple[int, int], float] = {}
    track = grooves is not None and pair_edges is not None and len(pair_leaves) > 0
    if track:
        pl = np.sort(pair_leaves, axis=1)
        order = np.lexsort((pl[:, 1], pl[:, 0]))
        keys, first = np.unique(pl[order], axis=0, return_index=True)
        for (s, t), ids in zip(keys.tolist(), np.split(pair_edges[order], first[1:]), strict=True):
            if s != t:
                edges[(s, t)] = [ids]
    perimeter = np.array([sum(e[STAT_LENGTH] for e in links[s].values()) for s in range(k)])
    members: list[list[int]] = [[s] for s in range(k)]
    rep = list(range(k))
    alive = set(range(k))
    version = [0] * k
    need_features = mode == "learned" or trace is not None

    def hand(s: int, t: int, st: np.ndarray) -> float:
        length, conc, weak = st[STAT_LENGTH], st[STAT_CONCAVE], st[STAT_WEAK]
        ts, tt = thick_sum[s] / area[s], thick_sum[t] / area[t]
        contrast = abs(np.log(max(ts, 1e-9) / max(tt, 1e-9)))
        small = min(area[s], area[t])
        if mode == "cut":
            e = np.sqrt(small) * scale / max(weak, 1e-12 * length, 1e-300)
            return min(e, 1e6) * (1.0 + thickness_weight * contrast)
        mean = conc / max(length, 1e-300)
        narrow = np.sqrt(small) * scale / max(length, 1e-300)
        return mean * float(np.clip(narrow, 0.5, 4.0)) ** neck + thickness_weight * contrast

    def evidence(pairs: list[tuple[int, int]]) -> list[float]:
        raw = [hand(s, t, links[s][t]) for s, t in pairs]
        if need_features and pairs:
            rows = []
            for (s, t), h in zip(pairs, raw, strict=True):
                a, b = (s, t) if area[s] <= area[t] else (t, s)
                rows.append(
                    pair_features(
                        links[s][t],
                        (area[a], area[b]),
                        (thick_sum[a] / area[a], thick_sum[b] / area[b]),
                        (normal[a], normal[b]),
                        (perimeter[a], perimeter[b]),
                        scale,
                        share,
                        h,
                    )
                )
            rows = np.round(np.asarray(rows, dtype=float), FEATURE_DECIMALS)
            if trace is not None:
                trace.extend(
                    (row, list(members[s]), list(members[t]))
                    for row, (s, t) in zip(rows.tolist(), pairs, strict=True)
                )
            if mode == "learned":
                raw = model.predict(rows).tolist()
        out = []
        for (s, t), e in zip(pairs, raw, strict=True):
            small = min(area[s], area[t])
            key = (min(s, t), max(s, t))
            if track and key in damp:
                e *= damp[key]
            elif track:
                # The groove test waits until the boundary comes up (most boundaries are
                # measured again before they do): meanwhile it stands in the heap at the
                # least it can be, damped.
                pending[key] = e * small / min_area if small < min_area else e
                e *= GROOVES_DAMP
            out.append(e * small / min_area if small < min_area else e)
        return out

    # Boundaries whose groove test waits (``evidence``): their evidence undamped.
    pending: dict[tuple[int, int], float] = {}
    start = [(s, t) for s in range(k) for t in links[s] if s < t]
    heap = [(e, s, t, 0, 0, False) for e, (s, t) in zip(evidence(start), start, strict=True)]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    heights: list[float] = []
    level = 0.0
    while heap and len(alive) > 1:
        e, s, t, vs, vt, damped = heapq.heappop(heap)
        if s not in alive or t not in alive or version[s] != vs or version[t] != vt:
            continue  # stale
        if track and (s, t) not in damp:
            # Its edges are those it was measured on: they change only when s or t merges.
            damp[(s, t)] = factor = grooves.factor(np.concatenate(edges[(s, t)]))
            undamped = pending.pop((s, t))
            if factor != GROOVES_DAMP:  # not damped after all: back at its full evidence
                heapq.heappush(heap, (undamped * factor, s, t, vs, vt, damped))
                continue
        if handles and not damped and _across_handle(links, area, s, t):
            # Whether a boundary runs across a handle changes as other segments merge (it
            # only becomes true), so it is tested when the boundary comes up, not when its
            # evidence was measured.
            heapq.heappush(heap, (e * HANDLE_DAMP, s, t, vs, vt, True))
            continue
        level = max(level, e)
        merges.append((rep[s], rep[t]))
        heights.append(level)
        # Fold t into s.
        alive.discard(t)
        area[s] += area[t]
        thick_sum[s] += thick_sum[t]
        normal[s] += normal[t]
        members[s].extend(members[t])
        shared = links[s][t][STAT_LENGTH]
        perimeter[s] += perimeter[t] - 2.0 * shared
        if track:
            edges.pop((min(s, t), max(s, t)), None)
        for u, st in links[t].items():
            if u == s:
                continue
            if track:
                moved = edges.pop((min(t, u), max(t, u)))
                edges.setdefault((min(s, u), max(s, u)), []).extend(moved)
                damp.pop((min(s, u), max(s, u)), None)
            entry = links[s].get(u)
            if entry is None:
                links[s][u] = st
                links[u][s] = st
            else:
                entry += st
            links[u].pop(t, None)
            links[u][s] = links[s][u]
        links[s].pop(t, None)
        links[t] = {}
        version[s] += 1
        nbrs = [(min(s, u), max(s, u)) for u in links[s]]
        for ev, (a, b) in zip(evidence(nbrs), nbrs, strict=True):
            heapq.heappush(heap, (ev, a, b, version[a], version[b], False))
    # Segments with no boundary to the rest (specks that joined this piece, islands of a
    # decimated surface) join, with no evidence against it, the leaf ``attach`` gives them
    # (where they lie) or the largest segment.
    rest = sorted(alive, key=lambda x: (-area[x], x))
    for t in rest[1:]:
        target = int(attach[rep[t]]) if attach is not None else -1
        merges.append((rep[rest[0]] if target < 0 else target, rep[t]))
        heights.append(0.0)
    return merges, heights


#: The factor on the evidence of a boundary across a handle.
HANDLE_DAMP = 0.5
#: The most segments a segment of a handle borders (the other half of the handle included).
HANDLE_DEGREE = 3
#: The largest share of the piece's area either segment of a handle may hold.
HANDLE_AREA = 0.1
#: How much longer than straight the way from one end of a handle to the other through the
#: boundary may be.
HANDLE_DETOUR = 2.0
#: The shortest a cut across a handle is, as a fraction of where either side meets its end.
HANDLE_WAIST = 0.5


def _across_handle(links: list[dict], area: np.ndarray, s: int, t: int) -> bool:
    """Whether the boundary between segments ``s`` and ``t`` cuts a handle across:

    * each of the two borders at most two segments besides the other, and all those (the
      handle's ends) still meet when ``s`` and ``t`` are taken away (a limb cut at its joint
      does not: the hand meets the body only through the arm; nor does a bottle's neck cut
      from its ring: the stopper hangs from the ring alone);
    * the two are small (``HANDLE_AREA`` of the piece each at most);
    * they lie in series: the boundary between them goes round the handle, as long as
      ``HANDLE_WAIST`` times the shorter of where each meets its ends at least, and lies on
      the way from one of those to the other (``HANDLE_DETOUR``). Two fingers that touch side
      by side meet along a shorter boundary, which lies beside the way."""
    if not 2 <= len(links[s]) <= HANDLE_DEGREE or not 2 <= len(links[t]) <= HANDLE_DEGREE:
        return False
    if max(area[s], area[t]) > HANDLE_AREA:
        return False
    ends = (set(links[s]) | set(links[t])) - {s, t}
    x = next(iter(ends))
    seen, todo = {s, t, x}, [x]
    while todo:
        for u in links[todo.pop()]:
            if u not in seen:
                seen.add(u)
                todo.append(u)
    if not ends <= seen:
        return False

    def middle(stats: list[np.ndarray]) -> np.ndarray:
        total = sum(stats)
        return total[STAT_MID : STAT_MID + 3] / max(total[STAT_LENGTH], 1e-300)

    at_s = [st for u, st in links[s].items() if u != t]
    at_t = [st for u, st in links[t].items() if u != s]
    # Across, not along: the cut goes round the handle as far as where it meets its ends.
    waist = links[s][t][STAT_LENGTH]
    if waist < HANDLE_WAIST * min(sum(at_s)[STAT_LENGTH], sum(at_t)[STAT_LENGTH]):
        return False
    here, end_s, end_t = middle([links[s][t]]), middle(at_s), middle(at_t)
    way = math.hypot(*(end_s - here)) + math.hypot(*(here - end_t))
    return bool(way <= HANDLE_DETOUR * math.hypot(*(end_s - end_t)))


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
