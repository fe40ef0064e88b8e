"""The preview picture: ``render(scene, path)`` writes a PNG of the scene's meshes, each in its
colour (its first material's), shaded, with dark outlines where meshes (parts) meet and around
the silhouette, seen from a three-quarter view that frames the model.

Rendered headless with OpenGL through moderngl on EGL; where EGL is missing, a numpy
rasteriser draws the same picture (more slowly). Both render at twice the size and filter
down for smooth edges.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from part3d.errors import Part3DError
from part3d.model import Scene, axis_basis

log = logging.getLogger(__name__)

#: ``auto`` renders models with more triangles than this with OpenGL.
EGL_ABOVE = 50_000
BACKGROUND = np.array([246, 246, 244], dtype=np.float64) / 255
OUTLINE = np.array([35, 35, 40], dtype=np.float64) / 255
DEFAULT_COLOR = (0.8, 0.8, 0.8, 1.0)


#: Viewing directions tried (right, up, front weights): front-right, front-left, back-right,
#: back-left, each three-quarters from a little above. The first is preferred on ties.
VIEWS = ((0.55, 0.45, 0.70), (-0.55, 0.45, 0.70), (0.55, 0.45, -0.70), (-0.55, 0.45, -0.70))
#: A view from behind is chosen when it shows at least this factor times, plus this many,
#: the parts the best front view shows (the Hunyuan3D figure: 10 parts seen from the front,
#: 11 from behind, is seen from the front, its face visible).
BACK_MORE = (1.1, 1)


def _camera(
    scene: Scene, vertices: np.ndarray, direction: tuple[float, float, float] = VIEWS[0]
) -> tuple[np.ndarray, np.ndarray, float]:
    """(3, 3) view rotation (rows: right, up, towards the viewer), centre, half-extent, for a
    viewer in ``direction`` (weights of the file's right, up and front axes). Up is the file's
    up axis; formats without one are taken as +Y up."""
    try:
        frame = axis_basis(scene.axes)  # rows: right, up, front in file coordinates
    except ValueError:
        frame = np.eye(3)
    right, up, front = frame
    eye = direction[0] * right + direction[1] * up + direction[2] * front
    eye /= np.linalg.norm(eye)
    x = np.cross(up, eye)
    x /= np.linalg.norm(x)
    y = np.cross(eye, x)
    view = np.stack([x, y, eye])
    p = _apply(vertices, view)
    lo, hi = p.min(axis=0), p.max(axis=0)
    # Centre the picture on the projected extent, not on the 3D box.
    center = ((lo + hi) / 2) @ view
    half = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-12)) / 2 * 1.08
    return view, center, half


def _apply(points: np.ndarray, view: np.ndarray) -> np.ndarray:
    """``points @ view.T`` for (..., 3) points and a (3, 3) rotation, without BLAS: a product
    with an inner size of 3 gains nothing from BLAS threads, and they crawl when every core
    is busy (two jobs at once)."""
    return np.einsum("...j,ij->...i", points, view)


def _project(tris: np.ndarray, view: np.ndarray, center: np.ndarray, half: float) -> np.ndarray:
    tri_view = _apply(tris - center, view) / half  # x, y in [-1, 1]; z towards the viewer
    tri_view[:, :, 2] /= max(float(np.abs(tri_view[:, :, 2]).max()) * 1.01, 1e-12)
    return tri_view


def best_view(scene: Scene, tris: np.ndarray, ids: np.ndarray, res: int = 96) -> int:
    """The index in ``VIEWS`` of the side that shows the most parts (each counted once it
    covers a few pixels of a small rendering), the front-right one on ties. A view from behind
    wins only where it shows clearly more (``BACK_MORE``): a character is seen from the front,
    not its back, unless its parts are all behind."""
    if len(tris) > 200_000:  # the largest triangles decide what is visible
        p = tris
        area = np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
        keep = np.argsort(-area, kind="stable")[:200_000]
        tris, ids = tris[keep], ids[keep]
    points = tris.reshape(-1, 3)
    seen = []
    for direction in VIEWS:
        view, center, half = _camera(scene, points, direction)
        tri_view = _project(tris, view, center, half)
        _, id_img = _render_numpy(tri_view, np.zeros((len(tris), 3)), ids, res)
        seen.append(int((np.bincount(id_img.ravel())[1:] >= 3).sum()))
    front = [i for i, d in enumerate(VIEWS) if d[2] >= 0]
    back = [i for i, d in enumerate(VIEWS) if d[2] < 0]
    best_front = max(front, key=lambda i: (seen[i], -i))
    best_back = max(back, key=lambda i: (seen[i], -i))
    if seen[best_back] >= BACK_MORE[0] * seen[best_front] + BACK_MORE[1]:
        return best_back
    return best_front


def _gather(scene: Scene):
    """All triangles as (t, 3, 3) positions, (t, 3) colours and (t,) mesh ids."""
    tris, colors, ids = [], [], []
    for i, mesh in enumerate(scene.meshes):
        if len(mesh.tri_face) == 0:
            continue
        color = mesh.materials[0].color if mesh.materials else DEFAULT_COLOR
        tris.append(mesh.vertices[mesh.triangles])
        colors.append(np.tile(np.asarray(color[:3], dtype=np.float64), (len(mesh.tri_face), 1)))
        ids.append(np.full(len(mesh.tri_face), i, dtype=np.int64))
    if not tris:
        raise Part3DError("nothing to render: the scene has no triangles")
    return np.concatenate(tris), np.concatenate(colors), np.concatenate(ids)


def _corner_points(scene: Scene) -> np.ndarray:
    """The positions the triangles' corners take, each once: framing the picture on them
    rather than on every corner (six per vertex on a closed mesh) gives the same extent in a
    sixth of the time."""
    points = []
    for mesh in scene.meshes:
        if len(mesh.tri_face) == 0:
            continue
        used = np.zeros(len(mesh.vertices), dtype=bool)
        used[mesh.triangles] = True
        points.append(mesh.vertices[used])
    return np.concatenate(points)


def _shade(tri_view: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Per-triangle colour from a key light, a fill light and ambient (two-sided)."""
    n = np.cross(tri_view[:, 1] - tri_view[:, 0], tri_view[:, 2] - tri_view[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, length, out=np.zeros_like(n), where=length > 0)
    n[n[:, 2] < 0] *= -1  # face the viewer whichever way the triangle winds
    key = np.array([-0.35, 0.55, 0.76])
    key /= np.linalg.norm(key)
    fill = np.array([0.6, -0.2, 0.77])
    fill /= np.linalg.norm(fill)
    light = 0.30 + 0.55 * np.clip(n @ key, 0, 1) + 0.25 * np.clip(n @ fill, 0, 1)
    return np.clip(colors * light[:, None], 0, 1)


def render(scene: Scene, path: str | Path, size: int = 1024, backend: str = "auto") -> Path:
    """Write the preview PNG of ``scene`` to ``path`` (``size`` x ``size`` pixels).

    ``backend``: ``"egl"`` (OpenGL, headless), ``"numpy"`` (software), or ``"auto"`` (numpy
    up to ``EGL_ABOVE`` triangles, EGL above when it works). The model is seen from the side
    that shows the most parts (``best_view``). Returns the path written.
    """
    path = Path(path)
    if backend not in ("auto", "egl", "numpy"):
        raise Part3DError(f"unknown preview backend {backend!r} (auto, egl or numpy)")
    tris, colors, ids = _gather(scene)
    direction = VIEWS[best_view(scene, tris, ids)] if len(scene.meshes) > 1 else VIEWS[0]
    view, center, half = _camera(scene, _corner_points(scene), direction)
    tri_view = _project(tris, view, center, half)
    shaded = _shade(tri_view, colors)
    image = ids_img = None
    scale = 2  # supersampling
    # Small models draw faster and in far less memory without an OpenGL context.
    use_egl = backend == "egl" or (backend == "auto" and len(tris) > EGL_ABOVE)
    if use_egl:
        try:
            image, ids_img = _render_egl(tri_view, shaded, ids, size * scale)
        except Exception as exc:  # EGL can be missing or broken in many ways
            if backend == "egl":
                raise Part3DError(f"EGL rendering is not available here ({exc})") from None
            log.info("EGL rendering failed (%s); using the numpy rasteriser", exc)
    if image is None:
        scale = 1  # the software path draws at the final size
        image, ids_img = _render_numpy(tri_view, shaded, ids, size)
    final = _compose(image, ids_img, scale)
    # zlib's default level: `optimize` took four times as long for a file 3% smaller.
    Image.fromarray(final).save(path, format="PNG")
    return path


def _compose(image: np.ndarray, ids: np.ndarray, scale: int) -> np.ndarray:
    """Outlines where the id changes (parts meeting, silhouette), then filter down: ``image``
    (h, w, 3) uint8 to (h / scale, w / scale, 3) uint8."""
    edge = np.zeros(ids.shape, dtype=bool)
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[1:, :] |= ids[1:, :] != ids[:-1, :]
    # About two final pixels wide, whatever the supersampling.
    for _ in range(2 * scale - 1):
        edge[:, :-1] |= edge[:, 1:]
        edge[:-1, :] |= edge[1:, :]
    out = np.array(image, dtype=np.uint8, order="C")
    out[edge] = _to_bytes(OUTLINE)
    if scale == 1:
        return out
    # Box filter: the mean of each scale x scale block, rounded.
    total = np.zeros((out.shape[0] // scale, out.shape[1] // scale, 3), dtype=np.uint16)
    for i in range(scale):
        for j in range(scale):
            total += out[i::scale, j::scale]
    total += scale**2 // 2
    total //= scale**2
    return total.astype(np.uint8)


def _to_bytes(colors: np.ndarray) -> np.ndarray:
    """Colours in 0..1 as uint8."""
    return (np.clip(np.asarray(colors, dtype=np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)


_VERTEX_SHADER = """
#version 330
in vec3 in_pos;
in vec3 in_color;
in float in_id;
out vec3 v_color;
flat out float v_id;
void main() {
    gl_Position = vec4(in_pos.x, in_pos.y, -in_pos.z, 1.0);
    v_color = in_color;
    v_id = in_id;
}
"""
_FRAGMENT_SHADER = """
#version 330
in vec3 v_color;
flat in float v_id;
layout(location = 0) out vec4 f_color;
layout(location = 1) out float f_id;
void main() {
    f_color = vec4(v_color, 1.0);
    f_id = v_id;
}
"""


def _render_egl(tri_view: np.ndarray, shaded: np.ndarray, ids: np.ndarray, res: int):
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl")
    try:
        prog = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        n = len(tri_view)
        data = np.empty((n * 3, 7), dtype="f4")
        data[:, 0:3] = tri_view.reshape(-1, 3)
        data[:, 3:6] = np.repeat(shaded, 3, axis=0)
        data[:, 6] = np.repeat(ids.astype(np.float64) + 1.0, 3)  # 0 is the background
        vbo = ctx.buffer(data.tobytes())
        vao = ctx.vertex_array(prog, [(vbo, "3f 3f 1f", "in_pos", "in_color", "in_id")])
        color = ctx.texture((res, res), 4, dtype="f1")
        ident = ctx.texture((res, res), 1, dtype="f4")
        depth = ctx.depth_renderbuffer((res, res))
        fbo = ctx.framebuffer(color_attachments=[color, ident], depth_attachment=depth)
        fbo.use()
        fbo.clear(*BACKGROUND, 1.0, depth=1.0)
        ident_clear = np.zeros((res, res), dtype="f4")
        ident.write(ident_clear.tobytes())
        ctx.enable(moderngl.DEPTH_TEST)
        vao.render(moderngl.TRIANGLES)
        rgb = np.frombuffer(fbo.read(components=3, attachment=0), dtype=np.uint8)
        idv = np.frombuffer(fbo.read(components=1, attachment=1, dtype="f4"), dtype=np.float32)
        image = rgb.reshape(res, res, 3)[::-1]
        id_img = np.rint(idv.reshape(res, res)[::-1]).astype(np.int32)
        return image, id_img
    finally:
        ctx.release()


def _render_numpy(tri_view: np.ndarray, shaded: np.ndarray, ids: np.ndarray, res: int):
    """A z-buffered triangle rasteriser in numpy: candidate pixels per triangle row by row
    (its span on each pixel row, a pixel wider each side), barycentric inside test, nearest
    depth wins per pixel."""
    px = (tri_view[:, :, :2] + 1) * 0.5 * res - 0.5  # pixel centres at integers
    px[:, :, 1] = res - 1 - px[:, :, 1]  # image rows go down
    z = tri_view[:, :, 2]
    # Corner-wise minimum and maximum (a reduction over an axis of 3 is far slower).
    pmin = np.minimum(np.minimum(px[:, 0], px[:, 1]), px[:, 2])
    pmax = np.maximum(np.maximum(px[:, 0], px[:, 1]), px[:, 2])
    # A hair wider than the triangle: the inside test accepts corners a hair outside it.
    lo = np.clip(np.ceil(pmin - 1e-6), 0, res - 1).astype(np.int64)
    hi = np.clip(np.floor(pmax + 1e-6), 0, res - 1).astype(np.int64)
    valid = (pmax >= -1e-6).all(axis=1) & (pmin <= res - 1 + 1e-6).all(axis=1)
    valid &= (hi >= lo).all(axis=1)
    best_depth = np.full(res * res, -np.inf)
    best_tri = np.full(res * res, -1, dtype=np.int64)
    # Triangles in batches of about ``budget`` rows, then their rows' spans in batches of about
    # ``budget`` candidate pixels: some 40 MB of temporaries at most.
    budget = 250_000
    rows = np.where(valid, hi[:, 1] - lo[:, 1] + 1, 0)
    order = np.flatnonzero(rows)
    for batch in _batches(order, rows[order], budget):
        r = rows[batch]
        tri = np.repeat(batch, r)
        y = np.repeat(lo[batch, 1], r) + np.arange(int(r.sum())) - np.repeat(np.cumsum(r) - r, r)
        xl, xr = _row_spans(px[tri], y.astype(np.float64))
        xl = np.maximum(xl, lo[tri, 0])
        xr = np.minimum(xr, hi[tri, 0])
        width = np.maximum(xr - xl + 1, 0)
        spans = np.flatnonzero(width)
        for part in _batches(spans, width[spans], budget):
            c = width[part]
            _draw(px, z, tri[part], xl[part], y[part], c, res, best_depth, best_tri)
    covered = best_tri >= 0
    image = np.tile(_to_bytes(BACKGROUND), (res * res, 1))
    image[covered] = _to_bytes(shaded)[best_tri[covered]]
    id_img = np.zeros(res * res, dtype=np.int64)
    id_img[covered] = ids[best_tri[covered]] + 1
    return image.reshape(res, res, 3), id_img.reshape(res, res)


def _batches(items: np.ndarray, sizes: np.ndarray, budget: int):
    """``items`` in consecutive runs whose ``sizes`` add up to about ``budget`` (at least one
    item each)."""
    cum = np.cumsum(sizes)
    start = 0
    while start < len(items):
        base = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, base + budget, side="right")), start + 1)
        yield items[start:stop]
        start = stop


def _row_spans(corners: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last pixel column to test on row ``y`` (s,) of each triangle ``corners``
    (s, 3, 2): where the row crosses the triangle's edges, widened by a pixel each side (the
    inside test decides; this only has to hold every pixel it accepts)."""
    x_lo = np.full(len(y), np.inf)
    x_hi = np.full(len(y), -np.inf)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        p, q = corners[:, i], corners[:, j]
        dy = q[:, 1] - p[:, 1]
        flat = dy == 0
        t = (y - p[:, 1]) / np.where(flat, 1.0, dy)
        cross = ~flat & (t >= -1e-6) & (t <= 1 + 1e-6)
        x = p[:, 0] + np.clip(t, 0.0, 1.0) * (q[:, 0] - p[:, 0])
        x_lo = np.where(cross, np.minimum(x_lo, x), x_lo)
        x_hi = np.where(cross, np.maximum(x_hi, x), x_hi)
    # A row that meets no edge (a degenerate triangle) keeps the whole bounding box.
    x_lo = np.where(np.isfinite(x_lo), np.ceil(x_lo - 1.0), -np.inf)
    x_hi = np.where(np.isfinite(x_hi), np.floor(x_hi + 1.0), np.inf)
    big = np.iinfo(np.int64).max // 4
    return (
        np.clip(x_lo, -big, big).astype(np.int64),
        np.clip(x_hi, -big, big).astype(np.int64),
    )


def _draw(px, z, tri, x0, y, c, res, best_depth, best_tri) -> None:
    """Test the ``c`` pixels from column ``x0`` on row ``y`` of each span (of triangle
    ``tri``) and keep the nearest depth per pixel in ``best_depth`` / ``best_tri``."""
    local = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
    tri = np.repeat(tri, c)
    x = np.repeat(x0, c) + local
    y = np.repeat(y, c)
    a, b, cc = px[tri, 0], px[tri, 1], px[tri, 2]
    den = (b[:, 1] - cc[:, 1]) * (a[:, 0] - cc[:, 0]) + (cc[:, 0] - b[:, 0]) * (a[:, 1] - cc[:, 1])
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    l1 = ((b[:, 1] - cc[:, 1]) * (x - cc[:, 0]) + (cc[:, 0] - b[:, 0]) * (y - cc[:, 1])) / den
    l2 = ((cc[:, 1] - a[:, 1]) * (x - cc[:, 0]) + (a[:, 0] - cc[:, 0]) * (y - cc[:, 1])) / den
    l3 = 1 - l1 - l2
    eps = -1e-9
    inside = ok & (l1 >= eps) & (l2 >= eps) & (l3 >= eps)
    if not inside.any():
        return
    tri, x, y = tri[inside], x[inside], y[inside]
    depth = l1[inside] * z[tri, 0] + l2[inside] * z[tri, 1] + l3[inside] * z[tri, 2]
    pix = y * res + x
    # Nearest (largest z, towards the viewer) per pixel within the batch, then against the
    # buffer.
    sort = np.lexsort((-depth, pix))
    pix, depth, tri = pix[sort], depth[sort], tri[sort]
    first = np.concatenate([[True], pix[1:] != pix[:-1]])
    pix, depth, tri = pix[first], depth[first], tri[first]
    better = depth > best_depth[pix]
    best_depth[pix[better]] = depth[better]
    best_tri[pix[better]] = tri[better]
