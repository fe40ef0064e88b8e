"""The preview PNG: every part visible in its colour, with both renderers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from part3d.errors import Part3DError
from part3d.io.meshes import build_mesh
from part3d.model import Material, Scene
from part3d.parts import PALETTE, hex_to_rgba
from part3d.preview import BACKGROUND, render


def _row_of_boxes(count: int) -> Scene:
    """Boxes of different sizes in a row, each a part with a palette colour."""
    scene = Scene()
    for i in range(count):
        box = trimesh.creation.box(extents=(1.0, 0.6 + 0.1 * i, 0.8))
        box.apply_translation((1.6 * i, 0, 0))
        faces = np.asarray(box.faces)
        mesh = build_mesh(
            f"box_{i}", box.vertices, faces.reshape(-1), np.arange(0, 3 * len(faces) + 1, 3)
        )
        mesh.materials = [Material(f"part_{i}", hex_to_rgba(PALETTE[i]))]
        scene.meshes.append(mesh)
    return scene


def _chroma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return rgb / np.maximum(rgb.sum(axis=-1, keepdims=True), 1.0)


def _colors_present(path: Path, colors: list[str]) -> list[str]:
    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    background = np.abs(pixels - BACKGROUND * 255).max(axis=1) < 3
    pixels = pixels[~background & (pixels.max(axis=1) > 60)]
    chroma = _chroma(pixels)
    found = []
    for c in colors:
        want = _chroma(np.array(hex_to_rgba(c)[:3]) * 255)
        if (np.abs(chroma - want).max(axis=1) < 0.015).sum() > 50:
            found.append(c)
    return found


@pytest.mark.parametrize("backend", ["egl", "numpy"])
def test_every_part_colour_is_in_the_preview(backend: str, tmp_path: Path) -> None:
    scene = _row_of_boxes(6)
    out = render(scene, tmp_path / "preview.png", backend=backend)
    image = Image.open(out)
    assert image.size == (1024, 1024) and image.format == "PNG"
    assert _colors_present(out, list(PALETTE[:6])) == list(PALETTE[:6])


def test_both_renderers_draw_the_same_picture(tmp_path: Path) -> None:
    scene = _row_of_boxes(3)
    a = np.asarray(Image.open(render(scene, tmp_path / "a.png", size=256, backend="egl")))
    b = np.asarray(Image.open(render(scene, tmp_path / "b.png", size=256, backend="numpy")))
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8


def test_outlines_are_drawn_where_parts_meet(tmp_path: Path) -> None:
    scene = _row_of_boxes(2)
    pixels = np.asarray(Image.open(render(scene, tmp_path / "p.png", backend="numpy")))
    dark = (pixels.max(axis=2) < 60).sum()
    assert dark > 1000  # silhouettes and part borders


def test_unknown_backend_and_empty_scene_are_errors(tmp_path: Path) -> None:
    with pytest.raises(Part3DError, match="unknown preview backend"):
        render(_row_of_boxes(1), tmp_path / "x.png", backend="vulkan")
    with pytest.raises(Part3DError, match="no triangles"):
        render(Scene(), tmp_path / "x.png")


def _box(name: str, extents, at, color: str):
    box = trimesh.creation.box(extents=extents)
    box.apply_translation(at)
    faces = np.asarray(box.faces)
    mesh = build_mesh(name, box.vertices, faces.reshape(-1), np.arange(0, 3 * len(faces) + 1, 3))
    mesh.materials = [Material(name, hex_to_rgba(color))]
    return mesh


def test_the_preview_shows_the_side_with_the_most_parts(tmp_path: Path) -> None:
    """Small parts only on the back (-front) of a big box: the preview looks from behind."""
    from part3d.preview import VIEWS, _gather, best_view

    meshes = [_box("body", (2, 2, 2), (0, 0, 0), PALETTE[0])]
    for i, (x, y) in enumerate([(-0.5, 0.5), (0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)]):
        meshes.append(_box(f"knob_{i}", (0.3, 0.3, 0.3), (x, y, -1.1), PALETTE[i + 1]))
    scene = Scene(meshes)
    tris, _, ids = _gather(scene)
    assert VIEWS[best_view(scene, tris, ids)][2] < 0  # a view from behind
    out = render(scene, tmp_path / "back.png", size=256)
    assert len(_colors_present(out, PALETTE[:5])) == 5
    # The same knobs in front: the default front view is kept.
    for m in meshes[1:]:
        m.vertices[:, 2] *= -1
    tris, _, ids = _gather(scene)
    assert best_view(scene, tris, ids) == 0


def test_the_preview_keeps_the_front_when_the_back_shows_only_a_little_more() -> None:
    """Three knobs in front, four behind: a character is seen from the front unless its back
    shows clearly more (the Hunyuan3D figure: 10 parts from the front, 11 from behind)."""
    from part3d.preview import VIEWS, _gather, best_view

    meshes = [_box("body", (2, 2, 2), (0, 0, 0), PALETTE[0])]
    spots = [(-0.5, 0.5, 1.1), (0.5, 0.5, 1.1), (0.0, -0.5, 1.1)]
    spots += [(-0.5, 0.5, -1.1), (0.5, 0.5, -1.1), (-0.5, -0.5, -1.1), (0.5, -0.5, -1.1)]
    for i, at in enumerate(spots):
        meshes.append(_box(f"knob_{i}", (0.3, 0.3, 0.3), at, PALETTE[i + 1]))
    scene = Scene(meshes)
    tris, _, ids = _gather(scene)
    assert VIEWS[best_view(scene, tris, ids)][2] > 0


def test_the_preview_is_upright_in_the_files_up_axis(tmp_path: Path) -> None:
    """A tall column in a Z-up file stands upright in the picture."""
    scene = Scene([_box("column", (0.5, 0.5, 4.0), (0, 0, 2), PALETTE[0])])
    scene.axes = ("+X", "+Z", "-Y")
    out = render(scene, tmp_path / "up.png", size=256, backend="numpy")
    covered = np.asarray(Image.open(out).convert("RGB")).astype(int)
    mask = np.abs(covered - (np.asarray(BACKGROUND) * 255).round()).sum(axis=-1) > 30
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert np.ptp(rows) > 2 * np.ptp(cols)


def _rasterise_every_pixel(tri_view: np.ndarray, res: int) -> np.ndarray:
    """The nearest triangle at every pixel, testing every triangle at every pixel (the
    reference the numpy rasteriser's row spans must agree with); -1 where none."""
    px = (tri_view[:, :, :2] + 1) * 0.5 * res - 0.5
    px[:, :, 1] = res - 1 - px[:, :, 1]
    y, x = np.mgrid[0:res, 0:res]
    x, y = x.ravel()[:, None].astype(float), y.ravel()[:, None].astype(float)
    a, b, c = px[:, 0], px[:, 1], px[:, 2]
    den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    l1 = ((b[:, 1] - c[:, 1]) * (x - c[:, 0]) + (c[:, 0] - b[:, 0]) * (y - c[:, 1])) / den
    l2 = ((c[:, 1] - a[:, 1]) * (x - c[:, 0]) + (a[:, 0] - c[:, 0]) * (y - c[:, 1])) / den
    l3 = 1 - l1 - l2
    inside = ok & (l1 >= -1e-9) & (l2 >= -1e-9) & (l3 >= -1e-9)
    z = tri_view[:, :, 2]
    depth = np.where(inside, l1 * z[:, 0] + l2 * z[:, 1] + l3 * z[:, 2], -np.inf)
    best = np.argmax(depth, axis=1)  # the first of equal depths, as the rasteriser keeps
    return np.where(inside.any(axis=1), best, -1)


def test_the_numpy_rasteriser_draws_every_pixel_a_full_test_draws() -> None:
    """Row spans (the pixels tested per triangle row) hold every pixel inside: slivers,
    triangles with a horizontal edge, corners on pixel centres, degenerate and off-screen
    triangles, overlapping depths."""
    from part3d.preview import _render_numpy

    res = 48
    rng = np.random.default_rng(7)
    tris = rng.uniform(-1.3, 1.3, size=(300, 3, 3))
    tris[:40, :, :2] = tris[:40, :1, :2] + rng.normal(0, 0.01, (40, 3, 2))  # tiny
    tris[40:80, 2, :2] = tris[40:80, 0, :2] + 0.999 * (tris[40:80, 1, :2] - tris[40:80, 0, :2])
    tris[80:120, 1, 1] = tris[80:120, 0, 1]  # a horizontal edge
    tris[120:140, 1] = tris[120:140, 0]  # degenerate: two corners the same
    centres = (np.arange(res) + 0.5) / res * 2 - 1  # pixel centres in view units
    tris[140:180, :, :2] = rng.choice(centres, size=(40, 3, 2))
    ids = np.arange(len(tris))
    _, id_img = _render_numpy(tris, np.zeros((len(tris), 3)), ids, res)
    want = _rasterise_every_pixel(tris, res)
    assert (want >= 0).sum() > res * res // 2  # the picture is mostly covered
    np.testing.assert_array_equal(id_img.ravel(), want + 1)
