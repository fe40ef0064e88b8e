"""Boundaries along creases, smooth between them: a minimum cut (PyMaxflow) along each
boundary between two segments.

For every pair of adjacent segments, the faces of both within a band around their shared
boundary are free to change sides; the faces beyond the band are tied to their segment. The
cut minimises the summed weight of the edges it crosses, where an edge weighs its length,
discounted where the surface folds inward: the new boundary is the shortest path through the
band that prefers concave creases, with no saw-tooth.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree


def refine_boundaries(
    labels: np.ndarray,
    pairs: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    area: np.ndarray,
    band: float,
) -> np.ndarray:
    """(q,) labels after a min cut along each boundary.

    ``pairs`` (e, 2) adjacent faces with cut cost ``weight`` (e,); ``band`` scales the free
    band's width, as a fraction of the square root of the smaller segment's area."""
    labels = labels.copy()
    q = len(labels)
    if q < 3 or len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    la, lb = labels[a], labels[b]
    cross = la != lb
    if not cross.any():
        return labels
    key = np.unique(np.sort(np.stack([la[cross], lb[cross]], axis=1), axis=1), axis=0)
    # Segment areas as they were before any boundary moved (the bands' widths).
    seg_area = np.bincount(labels, weights=area, minlength=int(labels.max()) + 1)
    # The edges of each face (each boundary only looks at the edges of its two segments).
    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    face_edges = np.concatenate([np.arange(len(a)), np.arange(len(a))])[order]
    start = np.searchsorted(ends[order], np.arange(q + 1))
    index = np.full(q, -1, dtype=np.int64)
    seen = np.zeros(len(a), dtype=bool)  # marks of the edges gathered for one boundary
    for s, t in key.tolist():
        members = np.flatnonzero((labels == s) | (labels == t))
        counts = start[members + 1] - start[members]
        offsets = np.repeat(start[members] - np.cumsum(counts) + counts, counts)
        seen[face_edges[offsets + np.arange(int(counts.sum()))]] = True
        near = np.flatnonzero(seen)  # sorted and unique, without sorting
        seen[near] = False
        ea, eb = a[near], b[near]
        la, lb = labels[ea], labels[eb]
        on = ((la == s) & (lb == t)) | ((la == t) & (lb == s))
        if not on.any():
            continue
        width = band * np.sqrt(max(min(seg_area[s], seg_area[t]), 0.0))
        mids = 0.5 * (centroids[ea[on]] + centroids[eb[on]])
        # Only faces inside the boundary's box, grown by the width, can lie within it.
        points = centroids[members]
        box = np.flatnonzero(
            ((points >= mids.min(axis=0) - width) & (points <= mids.max(axis=0) + width)).all(1)
        )
        dist, _ = cKDTree(mids).query(points[box], distance_upper_bound=width)
        free = members[box[np.isfinite(dist)]]
        if len(free) < 3:
            continue
        index[free] = np.arange(len(free))
        to_t = _two_label_cut(len(free), index[ea], index[eb], weight[near], la, lb, s, t)
        index[free] = -1
        if to_t is not None:  # None: the band swallowed a whole segment; leave it alone
            labels[free] = np.where(to_t, t, s)
    return _keep_largest_pieces(labels, pairs, weight)


def _two_label_cut(
    n: int,
    ia: np.ndarray,
    ib: np.ndarray,
    w: np.ndarray,
    la: np.ndarray,
    lb: np.ndarray,
    s: int,
    t: int,
) -> np.ndarray | None:
    """The minimum cut of ``n`` free faces between labels ``s`` and ``t``: (n,) True where a
    face goes to ``t``. Per edge: the free index of each end (``ia``, ``ib``; -1 when not
    free), its cost ``w`` and the labels at its ends (``la``, ``lb``); an edge from a free face
    to a fixed one of label ``s`` or ``t`` ties the free face to that side. None when one side
    has no tie."""
    import maxflow

    g = maxflow.Graph[float]()
    nodes = g.add_nodes(n)
    inner = (ia >= 0) & (ib >= 0)
    if inner.any():
        g.add_edges(nodes[ia[inner]], nodes[ib[inner]], w[inner], w[inner])
    source = np.zeros(n)
    sink = np.zeros(n)
    for ix, ly in ((ia, lb), (ib, la)):
        edge = (ix >= 0) & ~inner
        to_s = edge & (ly == s)
        to_t = edge & (ly == t)
        np.add.at(source, ix[to_s], w[to_s])
        np.add.at(sink, ix[to_t], w[to_t])
    if not source.any() or not sink.any():
        return None
    g.add_grid_tedges(nodes, source, sink)
    g.maxflow()
    return g.get_grid_segments(nodes)


def _keep_largest_pieces(labels: np.ndarray, pairs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each label keeps its largest connected piece; stray pieces join the neighbouring label
    they share the most boundary with."""
    q = len(labels)
    a, b = pairs[:, 0], pairs[:, 1]
    for _ in range(3):
        same = labels[a] == labels[b]
        g = sp.coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(q, q))
        _, piece = connected_components(g, directed=False)
        size = np.bincount(piece)
        k = int(labels.max()) + 1
        lab_of_piece = np.zeros(len(size), dtype=np.int64)
        lab_of_piece[piece] = labels
        # Each label's main piece: its largest (the lowest id on ties).
        order = np.lexsort((np.arange(len(size)), -size))
        _, first = np.unique(lab_of_piece[order], return_index=True)
        is_stray = np.ones(len(size), dtype=bool)
        is_stray[order[first]] = False
        if not is_stray.any():
            return labels
        cross = ~same & is_stray[piece[a]] & ~is_stray[piece[b]]
        cross2 = ~same & is_stray[piece[b]] & ~is_stray[piece[a]]
        src = np.concatenate([piece[a[cross]], piece[b[cross2]]])
        dst = np.concatenate([labels[b[cross]], labels[a[cross2]]])
        w = np.concatenate([weight[cross], weight[cross2]]) + 1e-12
        if len(src) == 0:
            return labels
        # Each stray piece joins the label it shares the most boundary weight with.
        uniq, inv = np.unique(src.astype(np.int64) * k + dst, return_inverse=True)
        tot = np.bincount(inv, weights=w)
        up, ul = uniq // k, uniq % k
        best = np.lexsort((-tot, up))
        lead = np.ones(len(best), dtype=bool)
        lead[1:] = up[best][1:] != up[best][:-1]
        change = np.full(len(size), -1, dtype=np.int64)
        change[up[best][lead]] = ul[best][lead]
        moved = change[piece]
        labels = np.where(moved >= 0, moved, labels)
    return labels


def smooth_boundaries(
    labels: np.ndarray,
    pairs: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    width: float,
) -> np.ndarray:
    """(t,) labels of a full-resolution surface whose boundaries were drawn on a coarser proxy
    and carried over face by face (so they zigzag along the proxy's triangles), each boundary
    re-cut by a minimum cut among the faces of its two labels within ``width`` of it.

    ``pairs`` (e, 2) adjacent faces with cut cost ``weight`` (e,); ``centroids`` (t, 3). A face
    near several boundaries belongs to the band of the nearest (graph distance through the
    centroids). Faces beyond the bands keep their label; each label keeps its largest
    connected piece."""
    q = len(labels)
    if width <= 0 or q < 3 or len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    cross = labels[a] != labels[b]
    if not cross.any():
        return labels
    # The boundary each face is nearest to (its pair of labels), within ``width``.
    ca, cb = a[cross], b[cross]
    lo = np.minimum(labels[ca], labels[cb])
    hi = np.maximum(labels[ca], labels[cb])
    keys, boundary = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    boundary = boundary.reshape(-1)
    seed_face = np.concatenate([ca, cb])
    seeds, first = np.unique(seed_face, return_index=True)
    seed_boundary = np.concatenate([boundary, boundary])[first]
    dist, source = _reach(pairs, centroids, seeds, width)
    near = np.isfinite(dist) & (source >= 0)
    owner = np.full(q, -1, dtype=np.int64)
    owner[near] = seed_boundary[np.searchsorted(seeds, source[near])]
    # A face is free for its boundary only if it has one of the boundary's two labels.
    own = owner >= 0
    own[own] = (labels[own] == keys[owner[own], 0]) | (labels[own] == keys[owner[own], 1])
    owner[~own] = -1
    faces_by = np.argsort(owner, kind="stable")
    face_start = np.searchsorted(owner[faces_by], np.arange(len(keys) + 1))
    # The edges touching each boundary's free faces.
    oa, ob = owner[a], owner[b]
    e_id = np.concatenate([np.flatnonzero(oa >= 0), np.flatnonzero((ob >= 0) & (ob != oa))])
    e_owner = np.concatenate([oa[oa >= 0], ob[(ob >= 0) & (ob != oa)]])
    order = np.argsort(e_owner, kind="stable")
    e_id, e_owner = e_id[order], e_owner[order]
    edge_start = np.searchsorted(e_owner, np.arange(len(keys) + 1))
    out = labels.copy()
    index = np.full(q, -1, dtype=np.int64)
    for k, (s, t) in enumerate(keys.tolist()):
        free = faces_by[face_start[k] : face_start[k + 1]]
        if len(free) < 3:
            continue
        index[free] = np.arange(len(free))
        e = e_id[edge_start[k] : edge_start[k + 1]]
        ea, eb = a[e], b[e]
        to_t = _two_label_cut(len(free), index[ea], index[eb], weight[e], out[ea], out[eb], s, t)
        index[free] = -1
        if to_t is not None:
            out[free] = np.where(to_t, t, s)
    return _keep_largest_pieces(out, pairs, weight)


def near_boundaries(
    labels: np.ndarray, pairs: np.ndarray, centroids: np.ndarray, radius: float
) -> np.ndarray:
    """(q,) bool: the faces within ``radius`` (through the centroids) of a face on a boundary
    between ``labels``."""
    a, b = pairs[:, 0], pairs[:, 1]
    cross = labels[a] != labels[b]
    if not cross.any():
        return np.zeros(len(labels), dtype=bool)
    seeds = np.unique(np.concatenate([a[cross], b[cross]]))
    return np.isfinite(_reach(pairs, centroids, seeds, radius)[0])


def _reach(
    pairs: np.ndarray, centroids: np.ndarray, seeds: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (through adjacent faces' centroids) from the nearest of ``seeds`` to every
    face, infinite beyond ``radius``, and that nearest seed (-9999 where none)."""
    a, b = pairs[:, 0], pairs[:, 1]
    q = len(centroids)
    step = np.linalg.norm(centroids[a] - centroids[b], axis=1) + 1e-300
    graph = sp.coo_matrix((step, (a, b)), shape=(q, q)).tocsr()
    dist, _, source = dijkstra(
        graph, directed=False, indices=seeds, min_only=True, limit=radius,
        return_predecessors=True,
    )  # fmt: skip
    return dist, source
