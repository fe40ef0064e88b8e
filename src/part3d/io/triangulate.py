"""Polygon triangulation that keeps every polygon's id.

Triangles and quads are handled in bulk with numpy; larger polygons go through earcut on the
polygon's best-fit plane (Newell normal), with a fan as the fallback for polygons earcut cannot
cut completely (self-intersecting or degenerate ones), so a polygon of n corners always yields
n - 2 triangles.
"""

from __future__ import annotations

import mapbox_earcut
import numpy as np

from part3d.model import plane_basis


def newell_normals(vertices: np.ndarray, corners: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(p, 3) float64: the (unnormalised) Newell normal of every polygon.

    ``vertices`` (n, 3), ``corners`` (k,) vertex ids, ``offsets`` (p + 1,).
    """
    p = len(offsets) - 1
    sizes = np.diff(offsets)
    if p == 0 or len(corners) == 0:
        return np.zeros((p, 3))
    pts = vertices[corners]
    nxt = np.arange(len(corners)) + 1
    nonempty = sizes > 0
    nxt[offsets[1:][nonempty] - 1] = offsets[:-1][nonempty]
    cross = np.cross(pts, pts[nxt])
    out = np.zeros((p, 3))
    face = np.repeat(np.arange(p), sizes)
    np.add.at(out, face, cross)
    return out


def triangulate(
    vertices: np.ndarray, corners: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate polygons given as flat corners plus offsets.

    Returns ``tri_corners`` (t, 3) int32 corner indices and ``tri_face`` (t,) int32 polygon ids,
    ordered by polygon id. A polygon with n >= 3 corners yields n - 2 triangles wound like the
    polygon; one with fewer yields none.
    """
    sizes = np.diff(offsets)
    starts = offsets[:-1]
    if len(sizes) and len(corners) == 3 * len(sizes) and (sizes == 3).all():
        # All triangles (the common case for big meshes): nothing to decide.
        return (
            np.arange(len(corners), dtype=np.int32).reshape(-1, 3),
            np.arange(len(sizes), dtype=np.int32),
        )
    parts_c: list[np.ndarray] = []
    parts_f: list[np.ndarray] = []

    tri_ids = np.flatnonzero(sizes == 3)
    if len(tri_ids):
        s = starts[tri_ids]
        parts_c.append(np.stack([s, s + 1, s + 2], axis=1))
        parts_f.append(tri_ids)

    quad_ids = np.flatnonzero(sizes == 4)
    if len(quad_ids):
        s = starts[quad_ids]
        c = np.stack([s, s + 1, s + 2, s + 3], axis=1)
        p = vertices[corners[c]]  # (q, 4, 3)
        normal = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])  # Newell normal of a quad
        # Split along 0-2 unless a triangle of that split faces against the quad: then the
        # quad is concave at corner 1 or 3 and 1-3 is the diagonal that lies inside it.
        a1 = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), normal)
        a2 = np.einsum("ij,ij->i", np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]), normal)
        b1 = np.einsum("ij,ij->i", np.cross(p[:, 2] - p[:, 1], p[:, 3] - p[:, 1]), normal)
        b2 = np.einsum("ij,ij->i", np.cross(p[:, 3] - p[:, 1], p[:, 0] - p[:, 1]), normal)
        ok_a = (a1 >= 0) & (a2 >= 0)
        ok_b = (b1 >= 0) & (b2 >= 0)
        d02 = np.einsum("ij,ij->i", p[:, 2] - p[:, 0], p[:, 2] - p[:, 0])
        d13 = np.einsum("ij,ij->i", p[:, 3] - p[:, 1], p[:, 3] - p[:, 1])
        use_b = (ok_b & ~ok_a) | (ok_a & ok_b & (d13 < d02))
        first = np.where(use_b[:, None], c[:, [1, 2, 3]], c[:, [0, 1, 2]])
        second = np.where(use_b[:, None], c[:, [1, 3, 0]], c[:, [0, 2, 3]])
        parts_c.append(np.concatenate([first, second]))
        parts_f.append(np.concatenate([quad_ids, quad_ids]))

    big_ids = np.flatnonzero(sizes > 4)
    if len(big_ids):
        normals = newell_normals(vertices, corners, offsets)
        big_c: list[np.ndarray] = []
        for f in big_ids:
            big_c.append(
                _triangulate_ngon(vertices, corners, int(starts[f]), int(sizes[f]), normals[f])
            )
        parts_c.append(np.concatenate(big_c))
        parts_f.append(np.repeat(big_ids, sizes[big_ids] - 2))

    if not parts_c:
        return np.zeros((0, 3), dtype=np.int32), np.zeros(0, dtype=np.int32)
    tri_corners = np.concatenate(parts_c).astype(np.int32, copy=False)
    tri_face = np.concatenate(parts_f).astype(np.int32, copy=False)
    order = np.argsort(tri_face, kind="stable")
    return tri_corners[order], tri_face[order]


def _triangulate_ngon(
    vertices: np.ndarray, corners: np.ndarray, start: int, n: int, normal: np.ndarray
) -> np.ndarray:
    """(n - 2, 3) corner indices for one polygon of n >= 5 corners."""
    ids = np.arange(start, start + n)
    fan = np.stack([np.full(n - 2, start), ids[1:-1], ids[2:]], axis=1)
    length = np.linalg.norm(normal)
    if not np.isfinite(length) or length == 0.0:
        return fan
    u, v = plane_basis(normal)
    pts = vertices[corners[ids]]
    flat = np.stack([pts @ u, pts @ v], axis=1)
    try:
        tri = mapbox_earcut.triangulate_float64(flat, np.array([n], dtype=np.uint32))
    except (ValueError, TypeError):
        return fan
    if len(tri) != 3 * (n - 2):
        return fan
    tri = tri.reshape(-1, 3).astype(np.int64)
    # Earcut's winding follows the 2D projection; make every triangle face like the polygon.
    a, b, c = flat[tri[:, 0]], flat[tri[:, 1]], flat[tri[:, 2]]
    signed = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flip = signed < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri + start
