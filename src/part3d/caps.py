"""Closing the openings a cut makes: each loop of cut edges gets a fair triangulated cap.

A part cut out of a closed surface is an open shell; ``close_part`` finds the loops of its
boundary that the cut made (edges shared by two faces of the source mesh but by one of the
part: openings the input already had stay open) and fills each with a cap:

* the loop is projected on its best plane (Newell's normal); when the projection is a simple
  polygon, interior points on a hexagonal grid at the spacing of the loop's edges are
  triangulated with it (Delaunay, checked to keep every loop edge, else ear clipping with no
  interior points), and the interior is faired: every interior point is the mean of its
  neighbours with the loop fixed (a discrete membrane, flat for a flat loop);
* when the projection folds over itself, a fan around the loop's centroid, faired the same way.

A cap depends only on its loop, not on the part: the two parts on either side of a cut get the
same surface with opposite orientations, so closed parts of a closed model have volumes that
add up to the model's. Cap faces come after the part's own faces (the face ids of the input
stay the part's first faces) and use a material of their own.
"""

from __future__ import annotations

import mapbox_earcut
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.spatial import Delaunay, cKDTree

#: Interior points of one cap at most (the grid is coarsened beyond it).
MAX_INTERIOR = 2500
#: Loops longer than this are not checked for self-intersection (a fan is used).
MAX_CHECKED_LOOP = 6000


def cut_loops(cut: np.ndarray) -> list[np.ndarray]:
    """The loops of a part's boundary made by the cut, each as welded vertex ids in the
    orientation of its cap (the reverse of the part's boundary). ``cut`` (k, 2): the part's
    cut edges (shared by two faces of the mesh, by one of the part), directed as the part's
    faces run along them."""
    if len(cut) == 0:
        return []
    outgoing: dict[int, list[int]] = {}
    for a, b in cut.tolist():
        outgoing.setdefault(a, []).append(b)
    loops = []

    def emit(loop: list[int]) -> None:
        if len(loop) >= 3:
            loops.append(np.array(loop[::-1], dtype=np.int64))

    for start in sorted(outgoing):
        while outgoing.get(start):
            loop = [start]
            seen = {start: 0}
            v = outgoing[start].pop()
            while v != start and outgoing.get(v):
                if v in seen:
                    # The boundary touches itself at v: the part since then is a loop of its own.
                    i = seen[v]
                    emit(loop[i:])
                    for w in loop[i + 1 :]:
                        del seen[w]
                    del loop[i + 1 :]
                else:
                    seen[v] = len(loop)
                    loop.append(v)
                v = outgoing[v].pop()
            if v == start:
                emit(loop)
    return loops


def canonical(loop: np.ndarray) -> tuple[np.ndarray, bool]:
    """The loop rotated to start at its smallest id and turned so that its second id is
    smaller than its last; True when it had to be turned (its cap is then flipped)."""
    k = int(np.argmin(loop))
    rotated = np.roll(loop, -k)
    if rotated[1] > rotated[-1]:
        return np.roll(rotated[::-1], 1), True
    return rotated, False


def make_cap(
    points: np.ndarray, chords: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fair cap over the closed polyline ``points`` (n, 3), oriented so that the polyline
    runs counter-clockwise seen from the side its triangles face. Returns the new interior
    points (m, 3), the triangles (indices: loop then new points) and planar UVs (n + m, 2).

    ``chords`` (c, 2): pairs of loop positions already joined by an edge of the surface (a
    face hanging into the opening); the cap flips them away so that no edge has four faces."""
    n = len(points)
    centre = points.mean(axis=0)
    normal = _newell(points)
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    flat = np.stack([(points - centre) @ u, (points - centre) @ v], axis=1)
    if n == 3:
        return np.zeros((0, 3)), np.array([[0, 1, 2]]), _unit_square(flat)
    simple = n <= MAX_CHECKED_LOOP and _signed_area(flat) > 0 and _is_simple(flat)
    if simple:
        grid_tris = _grid_triangulation(flat)
        if grid_tris is not None:
            interior, tris = grid_tris
            tris = _flip_chords(tris, chords)
            coords = np.concatenate([flat, interior])
            lifted = _fair(points, centre + interior @ np.stack([u, v]), tris)
            return lifted, tris, _unit_square(coords)
        tris = _ear_clip(flat)
        if tris is not None:
            return np.zeros((0, 3)), _flip_chords(tris, chords), _unit_square(flat)
    # A fan around the centroid, faired.
    tris = np.stack([np.arange(n), np.roll(np.arange(n), -1), np.full(n, n)], axis=1)
    tris = _flip_chords(tris, chords)
    lifted = _fair(points, centre[None], tris)
    coords = np.concatenate([flat, [[0.0, 0.0]]])
    return lifted, tris, _unit_square(coords)


def _flip_chords(tris: np.ndarray, chords: np.ndarray | None) -> np.ndarray:
    """Each edge of ``tris`` listed in ``chords`` replaced by the other diagonal of the two
    triangles that share it (an edge flip; orientation kept)."""
    if chords is None or len(chords) == 0:
        return tris
    tris = tris.copy()
    forbidden = {tuple(c) for c in np.sort(chords, axis=1).tolist()}
    for _ in range(4):
        where: dict[tuple[int, int], list[int]] = {}
        for i, (a, b, c) in enumerate(tris.tolist()):
            for x, y in ((a, b), (b, c), (c, a)):
                where.setdefault((min(x, y), max(x, y)), []).append(i)
        flipped = False
        for edge in forbidden:
            faces = where.get(edge, [])
            if len(faces) != 2:
                continue
            i, j = faces
            ti, tj = tris[i].tolist(), tris[j].tolist()
            # ti = (a, b, p) with a -> b along the edge; tj = (b, a, q).
            k = next(k for k in range(3) if {ti[k], ti[(k + 1) % 3]} == set(edge))
            a, b, p = ti[k], ti[(k + 1) % 3], ti[(k + 2) % 3]
            q = next(x for x in tj if x not in edge)
            if (min(p, q), max(p, q)) in where:
                continue
            tris[i], tris[j] = (a, q, p), (q, b, p)
            flipped = True
            break  # the edge map is stale: rebuild it
        if not flipped:
            break
    return tris


def _newell(points: np.ndarray) -> np.ndarray:
    nxt = np.roll(points, -1, axis=0)
    normal = np.cross(points - points.mean(axis=0), nxt - points.mean(axis=0)).sum(axis=0)
    length = np.linalg.norm(normal)
    if length < 1e-300:
        return np.array([0.0, 0.0, 1.0])
    return normal / length


def _signed_area(flat: np.ndarray) -> float:
    x, y = flat[:, 0], flat[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _is_simple(flat: np.ndarray) -> bool:
    """True when no two non-adjacent edges of the closed polygon meet (and no two of its
    corners coincide)."""
    n = len(flat)
    a, b = flat, np.roll(flat, -1, axis=0)
    scale = float(np.ptp(flat, axis=0).max()) or 1.0
    if len(np.unique(np.round(flat / (scale * 1e-12)), axis=0)) < n:
        return False
    chunk = max(1, 2_000_000 // n)
    idx = np.arange(n)
    for lo in range(0, n, chunk):
        i = idx[lo : lo + chunk, None]
        p, r = a[lo : lo + chunk, None], (b - a)[lo : lo + chunk, None]
        q, s = a[None], (b - a)[None]
        denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
        qp = q - p
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / denom
            w = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / denom
        adjacent = (idx[None] == i) | (idx[None] == (i + 1) % n) | ((idx[None] + 1) % n == i)
        hit = (denom != 0) & (t >= 0) & (t <= 1) & (w >= 0) & (w <= 1) & ~adjacent
        if hit.any():
            return False
    return True


def _inside(flat: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Even-odd test of ``pts`` (k, 2) against the closed polygon ``flat``."""
    a, b = flat, np.roll(flat, -1, axis=0)
    inside = np.zeros(len(pts), dtype=bool)
    chunk = max(1, 4_000_000 // max(len(flat), 1))
    for lo in range(0, len(pts), chunk):
        p = pts[lo : lo + chunk, None]
        ay, by = a[None, :, 1], b[None, :, 1]
        crosses = (ay > p[..., 1]) != (by > p[..., 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            x = a[None, :, 0] + (p[..., 1] - ay) * (b[None, :, 0] - a[None, :, 0]) / (by - ay)
        inside[lo : lo + chunk] = (crosses & (p[..., 0] < x)).sum(axis=1) % 2 == 1
    return inside


def _grid_triangulation(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Interior grid points and a Delaunay triangulation of the polygon with them, or None
    when the triangulation does not keep every edge of the polygon."""
    edges = np.linalg.norm(np.roll(flat, -1, axis=0) - flat, axis=1)
    spacing = float(np.median(edges))
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    box = float(np.prod(np.maximum(hi - lo, 1e-300)))
    spacing = max(spacing, np.sqrt(box / (MAX_INTERIOR * 0.866 * 2)))
    if spacing <= 0:
        return None
    # A hexagonal grid: every other row shifted by half the spacing.
    grid = []
    for r, y in enumerate(np.arange(lo[1] + spacing * 0.5, hi[1], spacing * 0.866)):
        x = np.arange(lo[0] + spacing * 0.5 * (r % 2), hi[0], spacing)
        grid.append(np.stack([x, np.full(len(x), y)], axis=1))
    interior = np.concatenate(grid) if grid else np.zeros((0, 2))
    if len(interior):
        interior = interior[_inside(flat, interior)]
    loop = cKDTree(_densify(flat, spacing * 0.25))
    if len(interior):
        # Far enough from the loop that its edges stay edges of the triangulation.
        interior = interior[loop.query(interior)[0] > 0.7 * spacing]
    for _ in range(3):
        tris = _delaunay_cap(flat, interior)
        if tris is not None or len(interior) == 0:
            return (interior, tris) if tris is not None else None
        # Thin out the points nearest the loop and try again.
        dist = loop.query(interior)[0]
        interior = interior[dist > np.quantile(dist, 0.25)]
    return None


def _densify(flat: np.ndarray, step: float) -> np.ndarray:
    a, b = flat, np.roll(flat, -1, axis=0)
    counts = np.maximum(np.ceil(np.linalg.norm(b - a, axis=1) / step).astype(int), 1)
    t = np.concatenate([np.arange(c) / c for c in counts])
    i = np.repeat(np.arange(len(flat)), counts)
    return a[i] + (b[i] - a[i]) * t[:, None]


def _delaunay_cap(flat: np.ndarray, interior: np.ndarray) -> np.ndarray | None:
    n, m = len(flat), len(interior)
    coords = np.concatenate([flat, interior])
    try:
        tri = Delaunay(coords).simplices
    except Exception:  # noqa: BLE001 - Qhull refuses degenerate input: the caller falls back
        return None
    centroid = coords[tri].mean(axis=1)
    tri = _counter_clockwise(coords, tri[_inside(flat, centroid)])
    if len(tri) != n + 2 * m - 2:
        return None
    directed = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    keys = set(map(tuple, directed.tolist()))
    loop_edges = zip(range(n), [(i + 1) % n for i in range(n)], strict=True)
    if not all(e in keys for e in loop_edges):
        return None
    return tri


def _ear_clip(flat: np.ndarray) -> np.ndarray | None:
    try:
        tris = mapbox_earcut.triangulate_float64(flat, np.array([len(flat)], dtype=np.uint32))
    except Exception:  # noqa: BLE001
        return None
    tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    if len(tris) != len(flat) - 2:
        return None
    return _counter_clockwise(flat, tris)


def _counter_clockwise(coords: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """``tris`` over the 2D points ``coords``, each turned counter-clockwise."""
    a, b, c = coords[tris[:, 0]], coords[tris[:, 1]], coords[tris[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return np.where((cross < 0)[:, None], tris[:, [0, 2, 1]], tris)


def _fair(loop: np.ndarray, start: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Interior points placed at the mean of their neighbours (the loop fixed): the discrete
    membrane over the loop."""
    n, m = len(loop), len(start)
    if m == 0:
        return start
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    inner = edges[(edges >= n).any(axis=1)]
    rows, cols = (
        np.concatenate([inner[:, 0], inner[:, 1]]),
        np.concatenate([inner[:, 1], inner[:, 0]]),
    )
    adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + m, n + m))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    interior = slice(n, n + m)
    lap = sp.diags(degree[interior]) - adj[interior, interior]
    rhs = adj[interior, :n] @ loop
    try:
        solved = spsolve(lap.tocsc(), rhs)
    except Exception:  # noqa: BLE001 - keep the flat cap
        return start
    solved = np.asarray(solved).reshape(m, 3)
    return solved if np.isfinite(solved).all() else start


def _unit_square(coords: np.ndarray) -> np.ndarray:
    lo = coords.min(axis=0)
    size = float(np.ptp(coords, axis=0).max()) or 1.0
    return (coords - lo) / size
