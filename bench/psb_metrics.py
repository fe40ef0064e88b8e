"""The Princeton Segmentation Benchmark's metrics, on numpy and scipy, and the loader of a
PSB model (``.npz``) as a part3d mesh.

All take per-face labels (any integers) of one mesh. Faces are counted uniformly.
Chen, Golovinskiy, Funkhouser, "A Benchmark for 3D Mesh Segmentation", SIGGRAPH 2009.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


def _contingency(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of the contingency table: for each face its cell's count, and the row/column
    sizes of its labels. Returns (n_ij, a_i, b_j) per face."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    cell = ai.astype(np.int64) * (int(bi.max()) + 1) + bi
    _, ci, cc = np.unique(cell, return_inverse=True, return_counts=True)
    return (
        cc[ci].astype(float),
        np.bincount(ai)[ai].astype(float),
        np.bincount(bi)[bi].astype(float),
    )


def rand_index_error(a: np.ndarray, b: np.ndarray) -> float:
    """1 - Rand index: the fraction of face pairs one labelling joins and the other splits."""
    n = len(a)
    if n < 2:
        return 0.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    cell = ai.astype(np.int64) * (int(bi.max()) + 1) + bi
    nij = np.unique(cell, return_counts=True)[1].astype(float)
    sa = np.bincount(ai).astype(float)
    sb = np.bincount(bi).astype(float)
    pairs = n * (n - 1) / 2
    same_ij = (nij * (nij - 1) / 2).sum()
    same_a = (sa * (sa - 1) / 2).sum()
    same_b = (sb * (sb - 1) / 2).sum()
    return float((same_a + same_b - 2 * same_ij) / pairs)


def consistency_errors(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(GCE, LCE): global and local consistency error (Martin et al.)."""
    n = len(a)
    nij, ai, bj = _contingency(a, b)
    e12 = (ai - nij) / ai
    e21 = (bj - nij) / bj
    return float(min(e12.sum(), e21.sum()) / n), float(np.minimum(e12, e21).sum() / n)


def hamming(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(Rm, Rf, mean) with ``a`` the segmentation under test and ``b`` the reference:
    Rm = D_H(a => b) / n (missing rate), Rf = D_H(b => a) / n (false alarms)."""
    n = len(a)

    def directional(x: np.ndarray, y: np.ndarray) -> float:
        # Sum over regions of y of what lies outside their best-overlapping region of x.
        _, xi = np.unique(x, return_inverse=True)
        _, yi = np.unique(y, return_inverse=True)
        table = sp.coo_matrix((np.ones(n), (yi, xi))).tocsr()
        best = table.max(axis=1).toarray().ravel()
        return float(n - best.sum())

    rm = directional(a, b) / n
    rf = directional(b, a) / n
    return rm, rf, (rm + rf) / 2


@dataclass
class MeshGeometry:
    """What cut discrepancy needs of a mesh: its vertex graph and triangle adjacency."""

    vertex_graph: sp.csr_matrix
    edges: np.ndarray  # (e, 2) vertex ids of edges shared by two faces
    edge_faces: np.ndarray  # (e, 2) the two faces
    avg_radius: float

    @classmethod
    def of(cls, vertices: np.ndarray, faces: np.ndarray) -> MeshGeometry:
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        owner = np.tile(np.arange(len(faces)), 3)
        e.sort(axis=1)
        key = e[:, 0].astype(np.int64) * len(vertices) + e[:, 1]
        order = np.argsort(key, kind="stable")
        key, e, owner = key[order], e[order], owner[order]
        same = key[1:] == key[:-1]
        edges = e[:-1][same]
        edge_faces = np.stack([owner[:-1][same], owner[1:][same]], axis=1)
        uniq = np.unique(key)
        ue = np.stack([uniq // len(vertices), uniq % len(vertices)], axis=1)
        w = np.linalg.norm(vertices[ue[:, 0]] - vertices[ue[:, 1]], axis=1)
        n = len(vertices)
        graph = sp.coo_matrix(
            (
                np.concatenate([w, w]),
                (np.concatenate([ue[:, 0], ue[:, 1]]), np.concatenate([ue[:, 1], ue[:, 0]])),
            ),
            shape=(n, n),
        ).tocsr()
        p = vertices[faces]
        area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
        cent = p.mean(axis=1)
        center = (cent * area[:, None]).sum(axis=0) / area.sum()
        radius = float((np.linalg.norm(cent - center, axis=1) * area).sum() / area.sum())
        return cls(graph, edges, edge_faces, radius)

    def cut_vertices(self, labels: np.ndarray) -> np.ndarray:
        """Vertex ids on the boundaries between parts."""
        cut = labels[self.edge_faces[:, 0]] != labels[self.edge_faces[:, 1]]
        return np.unique(self.edges[cut])

    def distance_to(self, sources: np.ndarray) -> np.ndarray:
        """(n,) shortest-path distance along mesh edges from every vertex to ``sources``."""
        return dijkstra(self.vertex_graph, indices=sources, min_only=True)


def cut_discrepancy(
    geom: MeshGeometry,
    cut_a: np.ndarray,
    field_a: np.ndarray,
    cut_b: np.ndarray,
    field_b: np.ndarray,
) -> float:
    """Mean distance along mesh edges from each cut vertex of one segmentation to the other's
    cut, both directions pooled (as SegEval computes it), over the average radius; NaN when
    either segmentation has no cut. ``field_x`` is ``geom.distance_to(cut_x)``."""
    if len(cut_a) == 0 or len(cut_b) == 0:
        return float("nan")
    d_ab = field_b[cut_a]
    d_ba = field_a[cut_b]
    d_ab, d_ba = d_ab[np.isfinite(d_ab)], d_ba[np.isfinite(d_ba)]
    if len(d_ab) == 0 or len(d_ba) == 0:
        return float("nan")
    return float((d_ab.sum() + d_ba.sum()) / (len(d_ab) + len(d_ba)) / geom.avg_radius)


def psb_mesh(z, name: str = "m"):
    """The part3d mesh of a loaded PSB (or remeshed) model: its triangles as faces, in order."""
    from part3d.io.meshes import build_mesh

    faces = z["faces"].astype(np.int64)
    return build_mesh(
        name,
        z["vertices"].astype(np.float64),
        faces.reshape(-1),
        np.arange(0, 3 * len(faces) + 1, 3),
    )
