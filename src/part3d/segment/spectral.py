"""Geometric segmentation of one mesh's polygons: creases, patches, spectral over-segmentation,
best-first merging.

The recipe (see docs/SEGMENTATION.md for what was tried and what it scored):

1. Crease measure per adjacent pair of polygons: the dihedral bend where the edge is concave,
   zero where it is convex; normalised by its mean (with a floor).
2. Coarsen to about ``patches`` patches that do not cross creases: multi-source Dijkstra from
   area-weighted random seeds, with creases as expensive edges.
3. Spectral embedding of the patch graph (normalised Laplacian, weights = shared boundary
   length weakened at creases), k-means into ``oversegment`` clusters, each split into its
   connected pieces.
4. Merge adjacent segments best-first by crease-weighted shared boundary / sqrt(smaller area)
   (low for necks and concave creases) until the best score falls under ``merge_threshold``
   (automatic part count) or ``parts`` segments remain; then fold tiny fragments into their
   best-connected neighbour.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp
from scipy.cluster.vq import kmeans2
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.sparse.linalg import ArpackNoConvergence, eigsh


def polygon_graph(
    tri_face: np.ndarray,
    n_polygons: int,
    pairs: np.ndarray,
    length: np.ndarray,
    *measures: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Collapse a triangle adjacency to polygons.

    ``pairs`` (e, 2) adjacent triangles with shared-edge ``length`` (e,) and per-edge
    ``measures`` (each (e,)). Returns polygon pairs (f, 2), their summed boundary lengths (f,)
    and each measure's length-weighted mean over the boundary (f,).
    """
    a, b = tri_face[pairs[:, 0]], tri_face[pairs[:, 1]]
    keep = a != b
    a, b, length = a[keep], b[keep], length[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * n_polygons + hi
    uniq, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=length, minlength=len(uniq))
    means = []
    for m in measures:
        weighted = np.bincount(inverse, weights=length * m[keep], minlength=len(uniq))
        means.append(np.divide(weighted, total, out=np.zeros_like(total), where=total > 0))
    out = np.stack([uniq // n_polygons, uniq % n_polygons], axis=1)
    return out, total, means


def _symmetric(n: int, pairs: np.ndarray, w: np.ndarray) -> sp.csr_matrix:
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
    graph = _symmetric(n, pairs, cost)
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


def _spectral_embedding(w: sp.csr_matrix, k: int) -> np.ndarray:
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
    emb = vecs[:, 1 : k + 1] * inv[:, None]
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.divide(emb, norm, out=np.zeros_like(emb), where=norm > 0)


def _split_disconnected(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Relabel so that every label is one connected piece of the graph ``pairs``."""
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    g = _symmetric(len(labels), pairs[same], np.ones(int(same.sum())))
    _, pieces = connected_components(g, directed=False)
    return pieces


def _merge(
    labels: np.ndarray,
    area: np.ndarray,
    pairs: np.ndarray,
    strength: np.ndarray,
    centroids: np.ndarray,
    threshold: float | None,
    target: int | None,
    min_area: float,
) -> np.ndarray:
    """Best-first merging of segments (see the module docstring). ``strength`` (e,) is each
    polygon pair's crease-weakened boundary length; areas are fractions of the mesh."""
    k = int(labels.max()) + 1
    seg_area = np.bincount(labels, weights=area, minlength=k).astype(float)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    cross = a != b
    links: list[dict[int, float]] = [dict() for _ in range(k)]
    for s, t, w in zip(a[cross].tolist(), b[cross].tolist(), strength[cross].tolist(), strict=True):
        links[s][t] = links[s].get(t, 0.0) + w
        links[t][s] = links[t].get(s, 0.0) + w
    parent = list(range(k))
    alive = set(range(k))

    def score(s: int, t: int) -> float:
        return links[s][t] / np.sqrt(max(min(seg_area[s], seg_area[t]), 1e-12))

    heap = [(-score(s, t), s, t) for s in range(k) for t in links[s] if s < t]
    heapq.heapify(heap)

    def join(s: int, t: int) -> None:
        # Fold t into s.
        parent[t] = s
        alive.discard(t)
        seg_area[s] += seg_area[t]
        for u, w in links[t].items():
            if u == s:
                continue
            links[s][u] = links[s].get(u, 0.0) + w
            links[u][s] = links[s][u]
            links[u].pop(t, None)
        links[s].pop(t, None)
        links[t] = {}
        for u in links[s]:
            heapq.heappush(heap, (-score(s, u), min(s, u), max(s, u)))

    while heap and len(alive) > 1:
        neg, s, t = heapq.heappop(heap)
        if s not in alive or t not in alive or t not in links[s]:
            continue
        if -neg != score(s, t):
            continue  # stale entry
        if target is not None:
            if len(alive) <= target:
                break
        elif threshold is not None and -neg < threshold:
            break
        join(s, t)

    # Tiny fragments go to their best-connected neighbour (or nearest segment if isolated).
    while True:
        small = [s for s in alive if seg_area[s] < min_area and len(alive) > 1]
        if not small or (target is not None and len(alive) <= target):
            break
        s = min(small, key=lambda x: seg_area[x])
        if links[s]:
            t = max(links[s], key=lambda u: links[s][u])
        else:
            break  # an isolated small component stays a part of its own
        if seg_area[t] >= seg_area[s]:
            join(t, s)
        else:
            join(s, t)

    root = _roots(parent)
    if target is not None and len(alive) > target:
        # Disconnected pieces cannot merge through a boundary: join the smallest piece to the
        # segment nearest to it until the asked count is reached.
        while len(alive) > target:
            current = root[labels]
            s = min(alive, key=lambda x: seg_area[x])
            inside = current == s
            others = np.flatnonzero(~inside)
            d = (
                np.linalg.norm(
                    centroids[others][:, None, :] - centroids[inside][None, :, :], axis=2
                ).min(axis=1)
                if inside.sum() * len(others) < 4e7
                else np.linalg.norm(centroids[others] - centroids[inside].mean(axis=0), axis=1)
            )
            t = int(current[others[int(np.argmin(d))]])
            parent[s] = t
            alive.discard(s)
            seg_area[t] += seg_area[s]
            root = _roots(parent)
    return root[labels]


def _roots(parent: list[int]) -> np.ndarray:
    root = np.array(parent)
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _oversegment(
    frac: np.ndarray,
    centroids: np.ndarray,
    pairs: np.ndarray,
    crease: np.ndarray,
    strength: np.ndarray,
    patches: int,
    eigenvectors: int,
    k: int,
    rng: np.random.Generator,
    barrier: float,
) -> np.ndarray:
    """(n,) cluster per polygon of one connected piece: patches, spectral embedding, k-means."""
    n = len(frac)
    patch = make_patches(n, frac, centroids, pairs, crease, patches, rng, barrier)
    n_patch = int(patch.max()) + 1
    pa, pb = patch[pairs[:, 0]], patch[pairs[:, 1]]
    cross = pa != pb
    w = _symmetric(n_patch, np.stack([pa[cross], pb[cross]], axis=1), strength[cross])
    w.sum_duplicates()
    if n_patch <= k:
        return patch
    emb = _spectral_embedding(w, eigenvectors)
    _, patch_label = kmeans2(emb, k, minit="++", seed=rng, iter=30)
    return patch_label[patch]


def segment_polygons(
    area: np.ndarray,
    normals: np.ndarray,
    centroids: np.ndarray,
    pairs: np.ndarray,
    length: np.ndarray,
    crease: np.ndarray,
    convex: np.ndarray,
    *,
    parts: int | None,
    seed: int,
    patches: int,
    eigenvectors: int,
    oversegment: int,
    merge_threshold: float,
    boundary_crease_weight: float,
    convex_merge: float,
    barrier: float,
    min_part_area: float,
) -> np.ndarray:
    """(n,) segment label per polygon of one mesh (labels 0..k-1, unordered).

    ``area`` (n,) polygon areas; ``normals``, ``centroids`` (n, 3); ``pairs`` (e, 2) adjacent
    polygons with shared boundary ``length``, ``crease`` measure and ``convex`` bend (e,).
    """
    n = len(area)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1 or len(pairs) == 0:
        return np.zeros(n, dtype=np.int64) if n == 1 else np.arange(n)
    rng = np.random.default_rng(seed)
    total = float(area.sum())
    frac = area / total if total > 0 else np.full(n, 1.0 / n)
    scale = np.sqrt(total) if total > 0 else 1.0
    # A floor keeps crease-cut patches weakly connected: a graph that falls apart makes the
    # Laplacian's near-zero eigenvalues cluster, and the eigensolver crawl.
    # Convex edges (a box's) hold segments together: they bound faces of one part, not parts.
    strength = (
        (length / scale)
        * np.maximum(np.exp(-boundary_crease_weight * crease), 1e-3)
        * (1.0 + convex_merge * convex)
    )

    # Each connected piece is over-segmented on its own (its share of patches and clusters);
    # a spectral embedding of several pieces at once would spend its eigenvectors on them.
    n_comp, comp = connected_components(_symmetric(n, pairs, np.ones(len(pairs))), directed=False)
    comp_area = np.bincount(comp, weights=frac, minlength=n_comp)
    # Small meshes get fewer clusters: a few hundred faces do not hold thirty parts.
    k_total = max(min(oversegment, max(2, n // 40)), (parts or 0) + 4)
    labels = np.zeros(n, dtype=np.int64)
    next_label = 0
    for c in np.argsort(-comp_area, kind="stable"):
        faces = np.flatnonzero(comp == c)
        share = float(comp_area[c])
        k_c = max(1, int(round(k_total * share))) if n_comp > 1 else k_total
        if len(faces) < 3 or share < min_part_area or k_c == 1:
            labels[faces] = next_label
            next_label += 1
            continue
        remap = np.full(n, -1, dtype=np.int64)
        remap[faces] = np.arange(len(faces))
        inside = comp[pairs[:, 0]] == c
        sub_pairs = remap[pairs[inside]]
        sub = _oversegment(
            frac[faces] / share,
            centroids[faces] / scale,
            sub_pairs,
            crease[inside],
            strength[inside],
            max(1, int(round(patches * share))),
            eigenvectors,
            k_c,
            rng,
            barrier,
        )
        labels[faces] = sub + next_label
        next_label += int(sub.max()) + 1
    labels = _split_disconnected(labels, pairs)
    return _merge(
        labels,
        frac,
        pairs,
        strength,
        centroids,
        threshold=None if parts else merge_threshold,
        target=parts,
        min_area=min_part_area,
    )
