"""The face dual graph of a triangle soup: welding, adjacency, creases.

Everything is arrays in, arrays out (shapes in the docstrings); no loops over faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def weld(
    vertices: np.ndarray, triangles: np.ndarray, tol: float = 1e-7
) -> tuple[np.ndarray, np.ndarray]:
    """Weld coincident vertices (within ``tol`` of the bounding-box diagonal), for
    connectivity only. Returns the triangles over welded ids (t, 3) and the welded positions
    (m, 3)."""
    if len(vertices) == 0:
        return triangles.copy(), vertices.copy()
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    step = max(math.hypot(*(hi - lo)) * tol, 1e-300)
    keys = np.round((vertices - lo) / step).astype(np.int64)
    first, inverse = unique_rows(keys)
    return inverse[triangles], vertices[first]


def one_key(major: np.ndarray, minor: np.ndarray) -> np.ndarray | None:
    """``major * span + minor`` (int64), whose order is that of the pairs (``major``,
    ``minor``): a sort on it is a sort on two keys, sooner. None when either holds a negative
    value or the pairs do not fit in 62 bits."""
    if len(major) == 0 or int(major.min()) < 0 or int(minor.min()) < 0:
        return None
    span = int(minor.max()) + 1
    if (int(major.max()) + 1) * span >= 2**62:
        return None
    return major.astype(np.int64) * span + minor


def unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the rows of ``keys`` (n, 3) non-negative int64: the index of the first of each
    distinct row, in the rows' lexicographic order (g,), and the distinct row of each (n,).
    What ``np.unique(keys, axis=0, return_index=True, return_inverse=True)`` returns, three to
    four times as fast: a stable sort on two keys (the first two columns as one where they fit
    in 62 bits) rather than on rows as bytes."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    first_two = one_key(keys[:, 0], keys[:, 1])
    if first_two is not None:
        order = np.lexsort((keys[:, 2], first_two))
    else:
        order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
    ordered = keys[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def compact(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Of ``values`` (any shape) non-negative integers below ``size``: the distinct values in
    ascending order and the index of each value among them (the shape of ``values``). What
    ``np.unique(values, return_inverse=True)`` returns, in linear time rather than by a sort
    (a mesh's vertex ids: 4.5 M of them, a tenth of the time). Values out of that range, or
    few of them in a large range, go to ``np.unique``."""
    if values.size * 4 < size or (
        values.size and (int(values.min()) < 0 or int(values.max()) >= size)
    ):
        return np.unique(values, return_inverse=True)
    present = np.zeros(size, dtype=bool)
    present[values] = True
    rank = np.cumsum(present, dtype=np.intp) - 1
    return np.flatnonzero(present), rank[values]


@dataclass
class FaceGraph:
    """Adjacency of triangles through shared edges.

    ``pairs`` (e, 2) int: adjacent triangles; ``edge_vertices`` (e, 2) int: the shared edge's
    (welded) vertex ids; ``edge_length`` (e,) float: its length, once ``set_lengths`` ran.
    """

    pairs: np.ndarray
    edge_length: np.ndarray
    edge_vertices: np.ndarray

    def set_lengths(self, welded_positions: np.ndarray) -> None:
        """Fill ``edge_length`` from (m, 3) positions of the welded vertices."""
        ev = self.edge_vertices
        self.edge_length = np.linalg.norm(
            welded_positions[ev[:, 0]] - welded_positions[ev[:, 1]], axis=1
        )

    def matrix(self, n: int, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """(n, n) symmetric sparse adjacency with ``weights`` (default 1) on each pair."""
        w = np.ones(len(self.pairs)) if weights is None else weights
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        return sp.coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
        ).tocsr()


def face_graph(welded: np.ndarray) -> FaceGraph:
    """Adjacent triangle pairs of ``welded`` (t, 3). An edge shared by more than two triangles
    (non-manifold) links them in a chain, so the graph stays connected without a clique."""
    t = len(welded)
    # Each triangle's three edges (triangle by triangle), as (low, high) vertex ids.
    ends = welded[:, [1, 2, 0]]
    lo = np.minimum(welded, ends).reshape(-1)
    hi = np.maximum(welded, ends).reshape(-1)
    owner = np.repeat(np.arange(t), 3)
    keep = lo != hi
    span = int(welded.max(initial=0)) + 1
    key = lo[keep].astype(np.int64) * span + hi[keep]
    owner = owner[keep]
    order = np.argsort(key, kind="stable")
    key, owner = key[order], owner[order]
    same = key[1:] == key[:-1]
    a, b = owner[:-1][same], owner[1:][same]
    shared = key[:-1][same]
    distinct = a != b
    a, b, shared = a[distinct], b[distinct], shared[distinct]
    ev = np.stack([shared // span, shared % span], axis=1).astype(welded.dtype, copy=False)
    return FaceGraph(np.stack([a, b], axis=1), np.zeros(len(a)), ev)


def bridge_dead(graph: FaceGraph, dead: np.ndarray) -> FaceGraph:
    """The adjacency of the live triangles of ``graph`` ((t,) ``dead``: True for triangles of
    no area), two live triangles that touch the same run of dead ones joined as if adjacent
    (in a chain round the run). A CAD export's degenerate triangles (two corners welded into
    one, or three in a line) often sit on the only edge between two regions: an edge shared
    with such a sliver is non-manifold, and without the dead triangles the regions fell
    apart into islands (2CylinderEngine's finned cylinder alone: 17 % of its triangles dead,
    its live surface in 196 pieces). Each joined pair's edge is the live triangle's own edge
    to the run. ``graph`` itself when nothing is dead."""
    if not dead.any():
        return graph
    a, b = graph.pairs[:, 0], graph.pairs[:, 1]
    ev = graph.edge_vertices
    da, db = dead[a], dead[b]
    direct = ~da & ~db
    both = da & db
    t = len(dead)
    runs = sp.coo_matrix((np.ones(int(both.sum())), (a[both], b[both])), shape=(t, t))
    _, run = connected_components(runs, directed=False)
    touch_a, touch_b = ~da & db, da & ~db
    live = np.concatenate([a[touch_a], b[touch_b]])
    hub = run[np.concatenate([b[touch_a], a[touch_b]])]
    edge = np.concatenate([ev[touch_a], ev[touch_b]])
    # One entry per (run, live triangle), in order; consecutive ones of a run are joined.
    order = np.lexsort((live, hub))
    live, hub, edge = live[order], hub[order], edge[order]
    first = np.ones(len(live), dtype=bool)
    first[1:] = (hub[1:] != hub[:-1]) | (live[1:] != live[:-1])
    live, hub, edge = live[first], hub[first], edge[first]
    link = hub[1:] == hub[:-1]
    pairs = np.concatenate([graph.pairs[direct], np.stack([live[:-1][link], live[1:][link]], 1)])
    edges = np.concatenate([ev[direct], edge[1:][link]])
    # A pair joined both directly and through a run is kept once (its direct edge).
    key = np.minimum(pairs[:, 0], pairs[:, 1]).astype(np.int64) * t + np.maximum(
        pairs[:, 0], pairs[:, 1]
    )
    _, once = np.unique(key, return_index=True)
    once.sort()
    return FaceGraph(pairs[once], np.zeros(len(once)), edges[once])


def island_targets(
    labels: np.ndarray, pairs: np.ndarray, centroids: np.ndarray, area: np.ndarray
) -> np.ndarray:
    """For each label of ``labels`` (q,) (faces joined by ``pairs`` (e, 2), at ``centroids``
    (q, 3) with ``area`` (q,)), the label it joins should its piece of the graph be an island:
    the label of the face of the largest piece nearest to it (by centroid); -1 for the labels
    of the largest piece. A decimated CAD surface can fall apart into islands
    (2CylinderEngine's finned cylinder alone: 92 pieces on its proxy, one at full
    resolution), and specks fold into the piece they lie on (a tail's tip): joined to the
    largest segment wherever they lay, they were fragments of one part scattered over the
    others."""
    k = int(labels.max()) + 1 if len(labels) else 0
    out = np.full(k, -1, dtype=np.int64)
    q = len(labels)
    n, piece = connected_components(
        sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(q, q)),
        directed=False,
    )
    if n < 2:
        return out
    from scipy.spatial import cKDTree

    main = int(np.argmax(np.bincount(piece, weights=area, minlength=n)))
    small, big = np.flatnonzero(piece != main), np.flatnonzero(piece == main)
    dist, near = cKDTree(centroids[big]).query(centroids[small], workers=-1)
    # Per island, its face nearest to the largest piece (the lowest id of equals).
    order = np.lexsort((small, dist, piece[small]))
    first = np.concatenate([[True], piece[small][order][1:] != piece[small][order][:-1]])
    lead = order[first]
    island_label = np.full(n, -1, dtype=np.int64)
    island_label[piece[small][lead]] = labels[big][near[lead]]
    out[labels[small]] = island_label[piece[small]]
    return out


def components(n: int, graph: FaceGraph) -> tuple[int, np.ndarray]:
    """Connected components of the face graph: (count, (n,) label per triangle)."""
    return connected_components(graph.matrix(n), directed=False)


def triangle_frames(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unit normals (t, 3), areas (t,) and centroids (t, 3) of triangles. (Column by column:
    ``np.cross`` and reductions over an axis of 3 took four times as long, for the same
    numbers.)"""
    t = len(triangles)
    dtype = vertices.dtype if np.issubdtype(vertices.dtype, np.floating) else np.float64
    x, y, z = (np.ascontiguousarray(vertices[:, i], dtype=dtype) for i in range(3))
    i0, i1, i2 = (np.ascontiguousarray(triangles[:, i]) for i in range(3))
    x0, x1, x2 = x[i0], x[i1], x[i2]
    y0, y1, y2 = y[i0], y[i1], y[i2]
    z0, z1, z2 = z[i0], z[i1], z[i2]
    ux, uy, uz = x1 - x0, y1 - y0, z1 - z0
    vx, vy, vz = x2 - x0, y2 - y0, z2 - z0
    cross = np.empty((t, 3), dtype=dtype)
    cross[:, 0] = uy * vz - uz * vy
    cross[:, 1] = uz * vx - ux * vz
    cross[:, 2] = ux * vy - uy * vx
    c = cross.T
    length = np.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
    normals = np.divide(cross, length[:, None], out=np.zeros_like(cross), where=length[:, None] > 0)
    centroids = np.empty((t, 3), dtype=dtype)
    centroids[:, 0] = (x0 + x1 + x2) / 3
    centroids[:, 1] = (y0 + y1 + y2) / 3
    centroids[:, 2] = (z0 + z1 + z2) / 3
    return normals, 0.5 * length, centroids


def centroids_of(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(t, 3) centroids of triangles (``vertices[triangles].mean(axis=1)``, the same numbers,
    column by column)."""
    dtype = vertices.dtype if np.issubdtype(vertices.dtype, np.floating) else np.float64
    out = np.empty((len(triangles), 3), dtype=dtype)
    for i in range(3):
        x = np.ascontiguousarray(vertices[:, i])
        out[:, i] = (x[triangles[:, 0]] + x[triangles[:, 1]] + x[triangles[:, 2]]) / 3
    return out


def concave_bend(pairs: np.ndarray, normals: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(e,) 1 - cos(dihedral) across each adjacent pair (e, 2) where the surface folds inward
    (each face's neighbour lies on the side its normal points to), 0 where it is convex or flat.
    ``normals`` (t, 3) unit, outward; ``centroids`` (t, 3)."""
    a, b = pairs[:, 0], pairs[:, 1]
    cos = np.einsum("ij,ij->i", normals[a], normals[b])
    concave = np.einsum("ij,ij->i", centroids[b] - centroids[a], normals[a] - normals[b]) > 0
    return np.where(concave, 1.0 - np.clip(cos, -1.0, 1.0), 0.0)


def nearest_majority(
    centroids: np.ndarray, small: np.ndarray, big: np.ndarray, group: np.ndarray, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where groups of small triangles go: each triangle of ``small`` (ids into
    ``centroids``, with its ``group``) finds the nearest triangle of ``big`` (whose ``value``
    it takes); each group takes the value most of its triangles found (ties: the smallest).
    Returns the groups and their values, both (g,)."""
    from scipy.spatial import cKDTree

    _, near = cKDTree(centroids[big]).query(centroids[small], workers=-1)
    found = value[near].astype(np.int64)
    span = int(found.max()) + 1
    keys, counts = np.unique(group.astype(np.int64) * span + found, return_counts=True)
    owner, target = keys // span, keys % span
    # Per group: the most found value, the smallest of equals (keys are sorted by value).
    order = np.lexsort((target, -counts, owner))
    first = np.concatenate([[True], owner[order][1:] != owner[order][:-1]])
    return owner[order][first], target[order][first]
