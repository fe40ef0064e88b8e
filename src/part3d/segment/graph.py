"""The face dual graph of a triangle soup: welding, adjacency, creases.

Everything is arrays in, arrays out (shapes in the docstrings); no loops over faces.
"""

from __future__ import annotations

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
    step = max(float(np.linalg.norm(hi - lo)) * tol, 1e-300)
    keys = np.round((vertices - lo) / step).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1)[triangles], vertices[first]


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
    edges = np.stack([welded[:, [0, 1]], welded[:, [1, 2]], welded[:, [2, 0]]], axis=1).reshape(
        -1, 2
    )
    edges.sort(axis=1)
    owner = np.repeat(np.arange(t), 3)
    keep = edges[:, 0] != edges[:, 1]
    edges, owner = edges[keep], owner[keep]
    key = edges[:, 0].astype(np.int64) * (int(welded.max(initial=0)) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    key, owner, edges = key[order], owner[order], edges[order]
    same = key[1:] == key[:-1]
    a, b = owner[:-1][same], owner[1:][same]
    ev = edges[:-1][same]
    distinct = a != b
    a, b, ev = a[distinct], b[distinct], ev[distinct]
    return FaceGraph(np.stack([a, b], axis=1), np.zeros(len(a)), ev)


def components(n: int, graph: FaceGraph) -> tuple[int, np.ndarray]:
    """Connected components of the face graph: (count, (n,) label per triangle)."""
    return connected_components(graph.matrix(n), directed=False)


def triangle_frames(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unit normals (t, 3), areas (t,) and centroids (t, 3) of triangles."""
    p = vertices[triangles]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    length = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, length[:, None], out=np.zeros_like(cross), where=length[:, None] > 0)
    return normals, 0.5 * length, p.mean(axis=1)


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

    _, near = cKDTree(centroids[big]).query(centroids[small])
    found = value[near].astype(np.int64)
    span = int(found.max()) + 1
    keys, counts = np.unique(group.astype(np.int64) * span + found, return_counts=True)
    owner, target = keys // span, keys % span
    # Per group: the most found value, the smallest of equals (keys are sorted by value).
    order = np.lexsort((target, -counts, owner))
    first = np.concatenate([[True], owner[order][1:] != owner[order][:-1]])
    return owner[order][first], target[order][first]
