"""OBJ, glTF/GLB, STL, PLY and OFF through the same scene model, face order kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from part3d.errors import CorruptFileError, EmptySceneError, UnsupportedFormatError
from part3d.io import load, save

OBJ = """\
# two groups: a quad, a triangle and a line in the first; a pentagon in the second
mtllib box.mtl
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 2 0 0
v 2 2 0
o first
usemtl red
f 1 2 3 4
f 2 5 3
l 1 5
g second
usemtl blue
f 1 2 5 6 4
"""
MTL = "newmtl red\nKd 1 0 0\nnewmtl blue\nKd 0 0 1\nd 0.5\n"


@pytest.fixture
def obj_file(tmp_path: Path) -> Path:
    (tmp_path / "box.mtl").write_text(MTL)
    path = tmp_path / "box.obj"
    path.write_text(OBJ)
    return path


def test_obj_face_ids_follow_f_lines_within_each_group(obj_file: Path) -> None:
    scene = load(obj_file)
    assert [m.name for m in scene.meshes] == ["first", "second"]
    first, second = scene.meshes
    assert first.polygon_sizes.tolist() == [4, 3, 2]
    assert first.vertices[first.corners[first.offsets[1] : first.offsets[2]]].tolist() == [
        [1, 0, 0],
        [2, 0, 0],
        [1, 1, 0],
    ]
    assert first.tri_face.tolist() == [0, 0, 1]
    assert second.polygon_sizes.tolist() == [5]
    assert len(second.tri_face) == 3
    assert [m.color for m in first.materials] == [(1.0, 0.0, 0.0, 1.0)]
    assert [m.color for m in second.materials] == [(0.0, 0.0, 1.0, 0.5)]


def test_obj_written_by_part3d_reads_back_with_the_same_polygons(obj_file, tmp_path) -> None:
    scene = load(obj_file)
    out = tmp_path / "out" / "copy.obj"
    out.parent.mkdir()
    save(scene, out)
    assert (tmp_path / "out" / "copy.mtl").exists()
    again = load(out)
    assert [m.name for m in again.meshes] == ["first", "second"]
    for a, b in zip(scene.meshes, again.meshes, strict=True):
        np.testing.assert_array_equal(b.offsets, a.offsets)
        np.testing.assert_allclose(b.vertices[b.corners], a.vertices[a.corners])
        # Each mesh keeps its own material, by name.
        assert b.materials[0].name == a.materials[0].name
        assert b.materials[0].color == pytest.approx(a.materials[0].color)
    # trimesh, an independent reader, finds the same triangles.
    tm = trimesh.load(out, process=False, force="scene", split_object=True)
    assert sum(len(g.faces) for g in tm.geometry.values()) == scene.triangle_count


def test_glb_has_one_named_node_per_mesh_in_order(models: Path, tmp_path: Path) -> None:
    scene = load(models / "spider.fbx")
    out = tmp_path / "spider.glb"
    save(scene, out)
    again = load(out)
    assert [m.name for m in again.meshes] == [m.name for m in scene.meshes]
    # GLB is metres and +Y up: the positions are the input's, converted.
    expected = scene.converted(unit_meters=1.0, axes=("+X", "+Y", "+Z"))
    for a, b in zip(expected.meshes, again.meshes, strict=True):
        assert len(b.tri_face) == len(a.tri_face)
        np.testing.assert_allclose(
            b.vertices[b.triangles], a.vertices[a.triangles], rtol=1e-5, atol=1e-6
        )
        assert b.materials[0].color == pytest.approx(a.materials[0].color, abs=1 / 255)
    tm = trimesh.load(out, process=False)
    assert set(tm.graph.nodes_geometry) == {m.name for m in scene.meshes}


def test_glb_sample_reads_one_mesh_per_node_with_every_triangle(models: Path) -> None:
    scene = load(models / "2CylinderEngine.glb")
    assert scene.triangle_count == 121_496
    assert len(scene.meshes) == 67  # nodes with geometry, primitives concatenated
    assert len({m.name for m in scene.meshes}) == len(scene.meshes)


@pytest.mark.parametrize("fmt", ["stl", "ply"])
def test_stl_and_ply_hold_every_triangle_as_one_mesh(models: Path, tmp_path, fmt) -> None:
    scene = load(models / "jeep1.fbx")
    out = tmp_path / f"jeep.{fmt}"
    save(scene, out)
    tm = trimesh.load(out, process=False)
    assert len(tm.faces) == scene.triangle_count
    again = load(out)
    assert len(again.meshes) == 1 and again.triangle_count == scene.triangle_count
    lo, hi = scene.bounds()
    np.testing.assert_allclose(again.bounds(), [lo, hi], rtol=1e-5, atol=1e-5)


def test_off_faces_keep_file_order(tmp_path: Path) -> None:
    path = tmp_path / "tet.off"
    path.write_text("OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n")
    mesh = load(path).meshes[0]
    assert mesh.triangles.tolist() == [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]


def test_unknown_extension_is_refused_with_the_supported_list(tmp_path: Path) -> None:
    path = tmp_path / "model.abc"
    path.write_text("x")
    with pytest.raises(UnsupportedFormatError, match=r"model.abc: cannot read '.abc' files"):
        load(path)


def test_obj_without_faces_is_an_empty_scene(tmp_path: Path) -> None:
    path = tmp_path / "points.obj"
    path.write_text("v 0 0 0\nv 1 0 0\n")
    with pytest.raises(EmptySceneError, match="points.obj"):
        load(path)


def test_obj_with_a_bad_index_names_the_group_and_vertex(tmp_path: Path) -> None:
    path = tmp_path / "bad.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\ng g1\nf 1 2 9\n")
    with pytest.raises(CorruptFileError, match=r"bad.obj: group 'g1' refers to vertex 9"):
        load(path)


def test_corrupt_glb_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.glb"
    path.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    with pytest.raises(CorruptFileError, match="broken.glb: not a readable GLB file"):
        load(path)


FAST_OBJ = """\
mtllib box.mtl
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 2 0 0
v 2 2 0
vn 0 0 1
vn 0 0 -1
o first
usemtl red
f 1//1 2//1 3//1 4//1
usemtl blue
f 2//2 5//2 3//2
o second
f 1//1 2//1 5//1 6//1 4//1
"""


def test_vectorised_and_line_readers_agree(tmp_path: Path) -> None:
    from part3d.io import meshes

    (tmp_path / "box.mtl").write_text(MTL)
    path = tmp_path / "box.obj"
    path.write_text(FAST_OBJ)
    data = FAST_OBJ.encode()
    fast = meshes._parse_obj_fast(data, "box")
    assert fast is not None, "this layout is meant for the vectorised reader"
    slow = meshes._parse_obj_lines(FAST_OBJ, path)
    assert [g.name for g in fast.groups] == [g.name for g in slow.groups] == ["first", "second"]
    for a, b in zip(fast.groups, slow.groups, strict=True):
        for field in ("v", "vt", "vn", "sizes"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a.material_names == b.material_names
        np.testing.assert_array_equal(a.face_material, b.face_material)
    scene = load(path)
    first = scene.meshes[0]
    assert [m.name for m in first.materials] == ["red", "blue"]
    assert first.face_material.tolist() == [0, 1]
    assert first.normals[:4].tolist() == [[0, 0, 1]] * 4
    assert scene.meshes[1].materials[0].name == "blue"


def test_relative_indices_use_the_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "rel.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\n")
    mesh = load(path).meshes[0]
    assert mesh.triangles.tolist() == [[0, 1, 2]]


def test_unit_and_axes_are_applied_only_when_asked(fbx_dir: Path) -> None:
    scene = load(fbx_dir / "axes_pypz_7400_binary.fbx")  # Z-up: right +X, up +Z, front -Y
    assert scene.axes == ("+X", "+Z", "-Y")
    same = scene.converted()
    np.testing.assert_array_equal(same.meshes[0].vertices, scene.meshes[0].vertices)
    assert scene.unit_meters == pytest.approx(0.01)
    y_up = scene.converted(unit_meters=1.0, axes=("+X", "+Y", "+Z"))
    assert y_up.axes == ("+X", "+Y", "+Z") and y_up.unit_meters == 1.0
    before, after = scene.meshes[0].vertices, y_up.meshes[0].vertices
    # Up was +Z and becomes +Y; front was -Y and becomes +Z; centimetres become metres.
    np.testing.assert_allclose(after[:, 1], before[:, 2] * 0.01)
    np.testing.assert_allclose(after[:, 2], -before[:, 1] * 0.01)
    np.testing.assert_allclose(after[:, 0], before[:, 0] * 0.01)
    assert scene.meshes[0].vertices is before  # the original is untouched


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.mark.parametrize("name", ["Xbot.glb", "LittlestTokyo.glb"])
def test_skinned_and_draco_gltf_have_their_real_height(name: str) -> None:
    """Xbot is skinned (placed by its joints, not its 0.01-scaled node); LittlestTokyo is
    Draco-compressed with 8 skinned meshes. Heights from the manifest (bind pose, +Y)."""
    import json

    entry = {e["file"]: e for e in json.loads((REAL / "manifest.json").read_text())}[name]
    scene = load(REAL / name)
    points = np.concatenate([m.vertices for m in scene.meshes])
    height = points[:, 1].max() - points[:, 1].min()
    assert height == pytest.approx(entry["expect_height"], rel=0.01)
    assert len(scene.meshes) == entry["meshes"]


def test_glb_output_is_metres_and_y_up(tmp_path: Path) -> None:
    """An FBX in centimetres (the carrot, 200 units tall) becomes a 2 m GLB; OBJ and FBX keep
    the input's units."""
    scene = load(REAL / "unirig_tripo_carrot.fbx")
    save(scene, tmp_path / "carrot.glb")
    save(scene, tmp_path / "carrot.fbx")
    glb = trimesh.load(tmp_path / "carrot.glb")
    assert glb.extents[1] == pytest.approx(2.0, rel=0.01)
    again = load(tmp_path / "carrot.fbx")
    assert np.ptp(np.concatenate([m.vertices for m in again.meshes])[:, 1]) == pytest.approx(200)
    # A Z-up file comes out Y-up: the up extent moves to glTF's Y.
    zup = scene.converted(axes=("+X", "-Z", "+Y"))
    save(zup, tmp_path / "zup.glb")
    assert trimesh.load(tmp_path / "zup.glb").extents[1] == pytest.approx(2.0, rel=0.01)


def test_ply_triangle_strips_become_triangles(tmp_path: Path) -> None:
    """Cyberware's scans (igea.ply) store faces as triangle strips; -1 restarts a strip."""
    header = (
        "ply\nformat ascii 1.0\nelement vertex 6\nproperty float x\nproperty float y\n"
        "property float z\nelement tristrips 1\nproperty list int int vertex_indices\n"
        "end_header\n"
    )
    points = "0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 2 0\n1 2 0\n"
    path = tmp_path / "strips.ply"
    path.write_text(header + points + "8 0 1 2 3 -1 2 3 4\n")
    mesh = load(path).meshes[0]
    assert mesh.triangles.tolist() == [[0, 1, 2], [2, 1, 3], [2, 3, 4]]
    path.write_text(header + points + "4 0 1 2 9\n")
    with pytest.raises(CorruptFileError, match="strips.ply: a triangle strip"):
        load(path)


def test_an_obj_reads_material_libraries_from_its_own_folder_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "outside.mtl").write_text("newmtl red\nKd 1 0 0\n")
    (tmp_path / "sub" / "inside.mtl").write_text("newmtl red\nKd 0 1 0\n")
    path = tmp_path / "sub" / "m.obj"
    body = "v 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl red\nf 1 2 3\n"
    path.write_text("mtllib /dev/zero\nmtllib ../outside.mtl\n" + body)
    assert load(path).meshes[0].materials[0].color[:3] != (1.0, 0.0, 0.0)
    path.write_text("mtllib inside.mtl\n" + body)
    assert load(path).meshes[0].materials[0].color[:3] == (0.0, 1.0, 0.0)


def test_textures_are_images_read_once_however_many_materials_name_them(tmp_path: Path) -> None:
    # A library of 300 materials all naming one image reads it once (one bytes object), and a
    # material naming the model itself (not an image) keeps its colour: a hostile file cannot
    # multiply a large file in memory.
    from PIL import Image

    Image.new("RGB", (4, 4), (9, 9, 9)).save(tmp_path / "skin.png")
    names = [f"m{i}" for i in range(300)]
    lines = [f"newmtl {n}\nKd 1 1 1\nmap_Kd skin.png\n" for n in names]
    lines.append("newmtl self\nKd 0 0 1\nmap_Kd m.obj\n")
    (tmp_path / "m.mtl").write_text("".join(lines))
    body = "".join(f"v {i} 0 0\nv {i} 1 0\nv {i} 0 1\n" for i in range(301))
    faces = "".join(
        f"usemtl {n}\nf {3 * i + 1} {3 * i + 2} {3 * i + 3}\n"
        for i, n in enumerate([*names, "self"])
    )
    (tmp_path / "m.obj").write_text("mtllib m.mtl\n" + body + faces)
    materials = {m.name: m for mesh in load(tmp_path / "m.obj").meshes for m in mesh.materials}
    images = {id(materials[n].image) for n in names}
    assert len(images) == 1 and materials["m0"].image[:4] == b"\x89PNG"
    assert materials["self"].image is None and materials["self"].color[:3] == (0.0, 0.0, 1.0)
