"""FBX writing: what part3d writes it reads back equal, and independent readers agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fbx_reference import FBX_DIR, reference
from independent_readers import read_with

from part3d.errors import Part3DError
from part3d.io import fbx
from part3d.io.fbx import writer


def _mesh_files() -> list[str]:
    names = []
    for name, entry in sorted(reference().items()):
        ufbx = entry["ufbx"]
        # Files before 6100 are rejected by design (unsupported version).
        if ufbx["status"] == "ok" and ufbx["totals"]["polygons"] > 0 and ufbx["version"] >= 6100:
            names.append(name)
    return names


MESH_FILES = _mesh_files()


def _assert_same(a, b) -> None:
    assert [m.name for m in b.meshes] == [m.name for m in a.meshes]
    assert b.unit_meters == pytest.approx(a.unit_meters)
    assert b.axes == a.axes
    for ma, mb in zip(a.meshes, b.meshes, strict=True):
        np.testing.assert_allclose(mb.vertices, ma.vertices, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(mb.corners, ma.corners)
        np.testing.assert_array_equal(mb.offsets, ma.offsets)
        np.testing.assert_array_equal(mb.tri_corners, ma.tri_corners)
        assert (mb.normals is None) == (ma.normals is None)
        if ma.normals is not None:
            np.testing.assert_allclose(mb.normals, ma.normals, atol=1e-12)
        assert (mb.uvs is None) == (ma.uvs is None)
        if ma.uvs is not None:
            np.testing.assert_allclose(mb.uvs, ma.uvs, atol=1e-12)
        assert [m.name for m in mb.materials] == [m.name for m in ma.materials]
        for xa, xb in zip(ma.materials, mb.materials, strict=True):
            assert xb.color == pytest.approx(xa.color)
        np.testing.assert_array_equal(mb.face_material, ma.face_material)


@pytest.mark.parametrize("encoding", ["binary", "ascii"])
@pytest.mark.parametrize("name", [n for n in MESH_FILES if not n.startswith("bad/")])
def test_written_fbx_reads_back_equal(name: str, encoding: str, tmp_path: Path) -> None:
    scene = fbx.read(FBX_DIR / name)
    out = tmp_path / "out.fbx"
    writer.write(scene, out, ascii=encoding == "ascii")
    head = out.read_bytes()[:30]
    assert head.startswith(b"Kaydara FBX Binary") == (encoding == "binary")
    _assert_same(scene, fbx.read(out))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, tuple[str, object]]:
    """Every mesh-bearing corpus file part3d reads, written back as binary FBX."""
    folder = tmp_path_factory.mktemp("written")
    out = {}
    for i, name in enumerate(MESH_FILES):
        try:
            scene = fbx.read(FBX_DIR / name)
        except Part3DError:
            continue
        path = folder / f"{i}.fbx"
        writer.write(scene, path)
        out[str(path)] = (name, scene)
    return out


def _expected(scene) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mesh in scene.meshes:
        counts[mesh.name] = counts.get(mesh.name, 0) + len(mesh.tri_face)
    return counts


def test_ufbx_finds_the_same_meshes_and_triangles_in_every_written_file(written) -> None:
    found = read_with("ufbx", list(written))
    wrong = {
        name: found[path]
        for path, (name, scene) in written.items()
        if found[path] != {"meshes": _expected(scene)}
    }
    assert wrong == {}


def test_assimp_finds_the_same_meshes_and_triangles_in_every_written_file(written) -> None:
    found = read_with("assimp", list(written))
    wrong = {}
    for path, (name, scene) in written.items():
        sizes = np.concatenate([m.polygon_sizes for m in scene.meshes])
        expected = {k: v for k, v in _expected(scene).items() if v > 0}
        if (sizes < 3).any():
            # assimp-py refuses meshes that keep points or lines (see the corpus README).
            assert "error" in found[path] or set(found[path]["meshes"]) <= set(expected)
            continue
        result = found[path]
        if "error" in result:
            wrong[name] = result
        elif (sizes > 4).any():
            # assimp's n-gon triangulation drops triangles of non-planar n-gons: names only.
            if set(result["meshes"]) != set(expected):
                wrong[name] = result
        elif result["meshes"] != expected:
            wrong[name] = result
    assert wrong == {}
