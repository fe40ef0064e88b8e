"""Boundary evidence measured at the scale of the model, not of its triangles.

A surface is first reduced to a *proxy* of bounded size (quadric decimation keeps shape and
creases and drops triangle-scale noise, voxel terraces and tessellation), then its face
normals are diffused over a neighbourhood proportional to the model's size. The curvature
across each proxy edge, taken from those smoothed normals and divided by the model's diagonal,
is the same on a clean mesh, a remeshed one and a noisy scan of the same shape:

* ``concave`` (e,): curvature where the surface folds inward (part boundaries: the minima
  rule), in units of 1 / diagonal;
* ``convex`` (e,): where it turns away (a box's edges, a rim), same units.

``thickness`` (q,) is the shape diameter of each proxy face (median length of rays cast
inward in a cone, with embreex when present), relative to the diagonal: necks are thin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from part3d.segment.graph import centroids_of, face_graph, triangle_frames, unique_rows


@dataclass
class Proxy:
    """A bounded-size stand-in for one connected surface.

    ``vertices`` (m, 3), ``faces`` (q, 3); ``pairs`` (e, 2) adjacent proxy faces with shared
    edge ``length`` (e,); ``area`` (q,), ``centroids`` (q, 3), ``normals`` (q, 3) smoothed;
    ``concave`` / ``convex`` (e,) curvature across each edge in 1/diagonal units; ``above``
    (e,) the concave curvature above its neighbourhood's average (``concave`` without one).
    """

    vertices: np.ndarray
    faces: np.ndarray
    pairs: np.ndarray
    length: np.ndarray
    area: np.ndarray
    centroids: np.ndarray
    normals: np.ndarray
    concave: np.ndarray
    convex: np.ndarray
    above: np.ndarray
    #: (e, 2) the proxy vertices of each pair's shared edge.
    edges: np.ndarray


def build_proxy(
    vertices: np.ndarray,
    faces: np.ndarray,
    budget: int,
    diagonal: float,
    smoothing: float,
    background: float = 0.0,
) -> tuple[Proxy, np.ndarray]:
    """The proxy of one welded connected surface (``vertices`` (m, 3), ``faces`` (t, 3)) and,
    for each input face, the proxy face that stands for it (t,).

    Surfaces with more than ``budget`` faces are decimated to ``budget``; ``smoothing`` is the
    radius of the normal diffusion as a fraction of ``diagonal`` (the model's)."""
    t = len(faces)
    if t > budget:
        import fast_simplification

        pv, pf = vertices.astype(np.float64), faces.astype(np.int64)
        if t > 50 * budget:
            # Quadric decimation of millions of faces takes seconds, and stalls on open or
            # ragged surfaces: cluster vertices on a grid first (linear time), then decimate.
            pv, pf = cluster_vertices(pv, pf, 4 * budget)
        if len(pf) > budget:
            pv, pf = fast_simplification.simplify(pv, pf, target_count=budget)
        pv = np.asarray(pv, dtype=np.float64)
        pf = np.asarray(pf, dtype=np.int64).reshape(-1, 3)
        if len(pf) > 2 * budget:  # the decimation stalled: cluster to the budget
            pv, pf = cluster_vertices(pv, pf, budget)
        _, parea, _ = triangle_frames(pv, pf)
        pf = pf[parea > 0]
        if len(pf) < 4:
            pv, pf = vertices.astype(np.float64), faces.astype(np.int64)
            mapping = np.arange(t)
        else:
            # Each query is answered alone: the same faces on any number of threads.
            _, mapping = cKDTree(centroids_of(pv, pf)).query(
                centroids_of(vertices, faces), workers=-1
            )
    else:
        pv, pf = vertices.astype(np.float64), faces.astype(np.int64)
        mapping = np.arange(t)
    normals, area, centroids = triangle_frames(pv, pf)
    graph = face_graph(pf)
    graph.set_lengths(pv)
    pairs = graph.pairs
    # Outward: concavity is judged along the normals.
    if float(np.einsum("ij,ij->", centroids, normals * area[:, None])) < 0:
        normals = -normals
    smooth = diffuse_normals(normals, area, pairs, graph.edge_length, smoothing * diagonal)
    concave, convex = _edge_curvature(pairs, smooth, centroids, diagonal)
    above = concave
    if background > 0:
        above = _above_background(
            concave, pairs, area, graph.edge_length, background * smoothing * diagonal
        )
    proxy = Proxy(
        pv,
        pf,
        pairs,
        graph.edge_length,
        area,
        centroids,
        smooth,
        concave,
        convex,
        above,
        graph.edge_vertices,
    )
    return proxy, mapping


def cluster_vertices(
    vertices: np.ndarray, faces: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """About ``target`` faces by merging the vertices of each cell of a uniform grid (cell
    size from the surface area) into their mean; faces that collapse are dropped."""
    p = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum()
    if area <= 0:
        return vertices, faces
    cell = float(np.sqrt(2.0 * area / max(target, 1)))
    keys = np.floor((vertices - vertices.min(axis=0)) / cell).astype(np.int64)
    cluster = unique_rows(keys)[1]
    n = int(cluster.max()) + 1
    counts = np.bincount(cluster, minlength=n).astype(np.float64)
    merged = (
        np.stack(
            [np.bincount(cluster, weights=vertices[:, i], minlength=n) for i in range(3)], axis=1
        )
        / np.maximum(counts, 1)[:, None]
    )
    f = cluster[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[keep]
    _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
    return merged, f[np.sort(first)]


def _face_mean(values: np.ndarray, pairs: np.ndarray, length: np.ndarray, q: int) -> np.ndarray:
    """(q,) length-weighted mean of per-edge ``values`` over each face's edges."""
    a, b = pairs[:, 0], pairs[:, 1]
    w = np.bincount(a, weights=length, minlength=q) + np.bincount(b, weights=length, minlength=q)
    s = np.bincount(a, weights=length * values, minlength=q) + np.bincount(
        b, weights=length * values, minlength=q
    )
    return np.divide(s, w, out=np.zeros(q), where=w > 0)


def _above_background(
    concave: np.ndarray, pairs: np.ndarray, area: np.ndarray, length: np.ndarray, radius: float
) -> np.ndarray:
    """Concavity above its neighbourhood's average (over ``radius``): a crease stands out of
    its surroundings, while the uniformly concave inside of a tube or a cup does not."""
    q = len(area)
    face = _face_mean(concave, pairs, length, q)
    spread = _diffuse(face[:, None], area, pairs, length, radius)[:, 0]
    base = 0.5 * (spread[pairs[:, 0]] + spread[pairs[:, 1]])
    return np.maximum(concave - base, 0.0)


def _diffuse(
    values: np.ndarray,
    area: np.ndarray,
    pairs: np.ndarray,
    length: np.ndarray,
    radius: float,
    max_steps: int = 200,
) -> np.ndarray:
    """(q, d) ``values`` averaged over about ``radius`` around each face: repeated
    area-weighted averaging with the edge neighbours (each step spreads by about one face
    spacing), at most ``max_steps`` times."""
    q = len(values)
    spacing = float(np.median(length)) if len(length) else 0.0
    if len(pairs) == 0 or radius <= 0 or spacing <= 0:
        return values
    steps = int(np.clip((radius / spacing) ** 2 / 2.0, 1, max_steps))
    a, b = pairs[:, 0], pairs[:, 1]
    w = sp.coo_matrix(
        (np.concatenate([area[b], area[a]]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(q, q),
    ).tocsr() + sp.diags(area)
    inv = 1.0 / np.maximum(np.asarray(w.sum(axis=1)).ravel(), 1e-300)
    out = values.copy()
    for _ in range(steps):
        out = (w @ out) * inv[:, None]
    return out


def diffuse_normals(
    normals: np.ndarray,
    area: np.ndarray,
    pairs: np.ndarray,
    length: np.ndarray,
    radius: float,
    max_steps: int = 60,
) -> np.ndarray:
    """Face normals averaged over about ``radius`` around each face (at most ``max_steps``
    averaging steps, each about one face spacing), unit length again."""
    out = _diffuse(normals, area, pairs, length, radius, max_steps=max_steps)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=normals.copy(), where=norm > 1e-12)


def _edge_curvature(
    pairs: np.ndarray, normals: np.ndarray, centroids: np.ndarray, diagonal: float
) -> tuple[np.ndarray, np.ndarray]:
    """Normal curvature between adjacent faces along the line joining their centroids, in
    1/``diagonal`` units: (concave part, convex part), each (e,) and non-negative."""
    a, b = pairs[:, 0], pairs[:, 1]
    d = centroids[b] - centroids[a]
    dist2 = np.einsum("ij,ij->i", d, d)
    bend = np.einsum("ij,ij->i", normals[b] - normals[a], d)
    k = np.divide(bend, dist2, out=np.zeros_like(bend), where=dist2 > 0) * diagonal
    return np.maximum(-k, 0.0), np.maximum(k, 0.0)


#: The cone's eight directions around the inward normal, every 45°: exact values, so no
#: machine's sine or cosine kernel can move them by a rounding.
_RIM = np.sqrt(0.5)
CONE = ((1.0, 0.0), (_RIM, _RIM), (0.0, 1.0), (-_RIM, _RIM),
        (-1.0, 0.0), (-_RIM, -_RIM), (0.0, -1.0), (_RIM, -_RIM))  # fmt: skip
#: tan 30°, the cone's half-angle.
TILT = 1.0 / np.sqrt(3.0)


def thickness(proxy: Proxy, diagonal: float) -> np.ndarray:
    """(q,) shape diameter of each proxy face relative to ``diagonal``: the median distance to
    the opposite surface along 9 rays cast inward in a 60° cone. Faces whose rays all miss get
    the median of the others. Uses embreex; without it, returns ones (no evidence).

    Embree only says which triangle each ray hits: its distances are single precision and
    their last bits depend on which of its kernels (SSE, AVX2, AVX-512) the CPU runs, so the
    distance to the hit triangle's plane is computed again here, in double precision, from
    plain products and sums that round the same on every machine."""
    q = len(proxy.faces)
    try:
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh
    except ImportError:  # pragma: no cover - embreex is a dependency
        return np.ones(q)
    scene = rtcore_scene.EmbreeScene()
    corners = proxy.vertices[proxy.faces]
    # Shared vertices and indices: the same triangles as a corner per row, a third faster to
    # build (the same hits: tests/test_segment.py's digests).
    TriangleMesh(scene, proxy.vertices.astype(np.float32), proxy.faces.astype(np.int32))
    n = -proxy.normals
    # A fixed cone of directions around each inward normal.
    helper = np.where(np.abs(n[:, [0]]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    u = _unit(_cross(n, helper))
    v = _cross(n, u)
    dirs = [n] + [_unit(n + TILT * (c * u + s * v)) for c, s in CONE]
    dirs = np.concatenate(dirs)
    origins = np.tile(proxy.centroids + (1e-4 * diagonal) * n, (len(CONE) + 1, 1))
    hit = scene.run(origins.astype(np.float32), dirs.astype(np.float32), query="INTERSECT")
    hit = np.asarray(hit, dtype=np.int64)
    # Each triangle's plane: points x with plane . x = level.
    a = corners[:, 0]
    plane = _cross(corners[:, 1] - a, corners[:, 2] - a)
    level = _dot(plane, a)
    h = np.maximum(hit, 0)
    plane = plane[h]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (level[h] - _dot(origins, plane)) / _dot(dirs, plane)
    # Misses, rays along a plane (t infinite or undefined) and hits behind: no distance.
    dist = np.where((hit >= 0) & (t > 0), t, np.inf)
    dist = dist.reshape(len(CONE) + 1, q)
    # The median over the rays that hit (misses sort last; all-miss faces stay infinite).
    hits = np.isfinite(dist).sum(axis=0)
    ordered = np.sort(dist, axis=0)
    mid = np.maximum(hits - 1, 0) // 2
    sdf = ordered[mid, np.arange(q)]
    sdf[hits == 0] = np.nan
    good = np.isfinite(sdf)
    if not good.any():
        return np.ones(q)
    sdf[~good] = np.median(sdf[good])
    return sdf / diagonal


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product, column by column (products and differences only)."""
    out = np.empty_like(a, dtype=np.float64)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product, summed left to right."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _unit(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    length = np.sqrt(_dot(a, a))
    return a / np.maximum(length, 1e-12)[:, None]
