"""Over-segmentation of one surface into leaves: crease-respecting patches, then a spectral
embedding of the patch graph clustered by k-means (the leaves of the merge tree)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.cluster.vq import kmeans2
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

#: Decimals the embedding keeps (its rows have unit length; the eigensolver's noise between
#: CPUs is about 1e-14).
EMBEDDING_DECIMALS = 7


def symmetric(n: int, pairs: np.ndarray, w: np.ndarray) -> sp.csr_matrix:
    a, b = pairs[:, 0], pairs[:, 1]
    return sp.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()


def make_patches(
    n: int,
    area: np.ndarray,
    centroids: np.ndarray,
    pairs: np.ndarray,
    crease: np.ndarray,
    count: int,
    rng: np.random.Generator,
    barrier: float,
) -> np.ndarray:
    """(n,) patch id per polygon: about ``count`` patches grown from area-weighted random
    seeds along the polygon graph, where crossing a crease costs ``barrier`` times more."""
    if n <= count:
        return np.arange(n)
    step = np.linalg.norm(centroids[pairs[:, 0]] - centroids[pairs[:, 1]], axis=1)
    cost = step * (1.0 + barrier * crease) + 1e-12
    graph = symmetric(n, pairs, cost)
    seeds = rng.choice(n, size=count, replace=False, p=area / area.sum())
    # Every connected component needs a seed of its own.
    n_comp, comp = connected_components(graph, directed=False)
    if n_comp > 1:
        seeded = np.zeros(n_comp, dtype=bool)
        seeded[comp[seeds]] = True
        if not seeded.all():
            missing = np.flatnonzero(~seeded)
            extra = [np.flatnonzero(comp == c)[0] for c in missing]
            seeds = np.concatenate([seeds, np.asarray(extra)])
    seeds = np.unique(seeds)
    _, _, sources = dijkstra(graph, indices=seeds, min_only=True, return_predecessors=True)
    patch_of_seed = np.full(n, -1, dtype=np.int64)
    patch_of_seed[seeds] = np.arange(len(seeds))
    return patch_of_seed[sources]


def dust_components(w: sp.csr_matrix, smallest: float) -> np.ndarray:
    """(n,) True for the nodes of the graph's connected pieces of fewer than ``smallest``
    nodes (single nodes without edges included), the largest piece excepted. Such a piece is
    a leaf of its own whatever its embedding (``split_disconnected``), and an embedding
    spends one eigenvector on each piece: the Wuson ox's body, with 26 pieces of 2 to 8
    patches beside its 1,416, got an embedding of nothing but them and came out as one
    part."""
    n_comp, comp = connected_components(w, directed=False)
    if n_comp < 2:
        return np.zeros(w.shape[0], dtype=bool)
    size = np.bincount(comp, minlength=n_comp)
    small = size < smallest
    small[int(np.argmax(size))] = False
    return small[comp]


def spectral_embedding(w: sp.csr_matrix, k: int) -> np.ndarray:
    """(n, k) rows of the normalised-Laplacian eigenvectors 1..k (the trivial one dropped),
    each row scaled to unit length."""
    n = w.shape[0]
    deg = np.asarray(w.sum(axis=1)).ravel()
    inv = 1.0 / np.sqrt(np.maximum(deg, 1e-300))
    lap = sp.identity(n, format="csr") - sp.diags(inv) @ w @ sp.diags(inv)
    k = min(k, n - 2)
    if n <= 400:
        _, vecs = eigh(lap.toarray(), subset_by_index=[0, k])
    else:
        try:
            v0 = np.full(n, 1.0 / np.sqrt(n))
            vals, vecs = eigsh(lap, k=k + 1, sigma=-1e-3, which="LM", v0=v0, maxiter=3000)
            vecs = vecs[:, np.argsort(vals)]
        except ArpackNoConvergence:
            _, vecs = eigh(lap.toarray(), subset_by_index=[0, k])
    vecs = _null_space_fixed(vecs, w, deg)
    emb = vecs[:, 1 : k + 1] * inv[:, None]
    # A node without neighbours (a proxy component of one patch) has only rounding noise in
    # these vectors, which 1/sqrt(degree) blows up into a random direction that differs from
    # one CPU to the next: it gets no direction (its own leaf anyway, being disconnected).
    emb[deg <= 0] = 0.0
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = np.divide(emb, norm, out=np.zeros_like(emb), where=norm > 0)
    # Rounded, so that k-means sees the same numbers on every CPU: the weights and the
    # eigensolver's sums differ in their last bits between numpy's and BLAS's kernels, and a
    # symmetric model (the jacket of data/real) has points at equal distances from two
    # centres, which that noise then put on either side.
    return np.round(emb, EMBEDDING_DECIMALS)


def _null_space_fixed(vecs: np.ndarray, w: sp.csr_matrix, deg: np.ndarray) -> np.ndarray:
    """``vecs`` (ascending eigenvalues) with its first vectors, one per connected component
    of the graph (eigenvalue 0), replaced by the components' own vectors (sqrt(degree) on the
    component, 0 elsewhere), in component order. The eigensolver may return any rotation of
    them, and which one it returned differed between CPUs."""
    n_comp, comp = connected_components(w, directed=False)
    # A node without edges is no zero eigenvalue (its row of the Laplacian is the identity's).
    live = np.flatnonzero(np.bincount(comp, weights=deg, minlength=n_comp) > 0)
    if len(live) < 2:
        return vecs
    m = min(len(live), vecs.shape[1])
    slot = np.full(n_comp, -1, dtype=np.int64)
    slot[live[:m]] = np.arange(m)
    s = slot[comp]
    on = np.flatnonzero(s >= 0)
    basis = np.zeros((len(deg), m))
    basis[on, s[on]] = np.sqrt(deg[on])
    basis /= np.sqrt(np.bincount(s[on], weights=deg[on], minlength=m))[None, :]
    return np.concatenate([basis, vecs[:, m:]], axis=1)


def split_disconnected(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Relabel so that every label is one connected piece of the graph ``pairs``."""
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    g = symmetric(len(labels), pairs[same], np.ones(int(same.sum())))
    _, pieces = connected_components(g, directed=False)
    return pieces


#: Lloyd iterations of the leaves' k-means, at most.
KMEANS_ITERATIONS = 30


def kmeans_labels(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int):
    """(n,) cluster of each of ``points``: scipy's ``kmeans2`` (its k-means++ seeds from
    ``rng``, ``_kmeans_plus_plus``) for ``iterations``, stopped as soon as an iteration leaves
    every label where it was. From there every iteration gives the same centroids and labels
    again, so the labels are those of all ``iterations``; most embeddings settle in a few."""
    seeds = _kmeans_plus_plus(points, k, rng)
    centroids, labels = kmeans2(points, seeds, minit="matrix", iter=1)
    for _ in range(iterations - 1):
        moved, again = kmeans2(points, centroids, minit="matrix", iter=1)
        if np.array_equal(again, labels):
            break
        centroids, labels = moved, again
    return labels


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, d) k-means++ seeds of ``points`` (n, d): the seeds scipy's ``kmeans2(minit="++")``
    draws from ``rng``, with each point's distance to its nearest seed kept up to date seed by
    seed rather than measured again to every seed (k times less work, the same numbers: each
    distance is computed alone, and the least of them is exact)."""
    from scipy.spatial.distance import cdist

    points = np.asarray(points, dtype=np.float64)
    seeds = np.empty((k, points.shape[1]))
    seeds[0] = points[rng.integers(points.shape[0], dtype=np.int64)]
    nearest = None
    for i in range(1, k):
        d2 = cdist(seeds[i - 1 : i], points, metric="sqeuclidean")[0]
        nearest = d2 if nearest is None else np.minimum(nearest, d2)
        cumulative = (nearest / nearest.sum()).cumsum()
        seeds[i] = points[int(np.searchsorted(cumulative, rng.uniform()))]
    return seeds
