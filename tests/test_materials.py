"""Parts keep the input's appearance: materials, UVs and textures in OBJ, FBX and GLB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh
from independent_readers import read_with
from PIL import Image

import part3d.io
from part3d.pipeline import PipelineOptions, run

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
FORMATS = ("obj", "fbx", "glb", "json", "png")


def _size(path: Path) -> int:
    """A model file with what it brings along (an OBJ's MTL and textures)."""
    total = path.stat().st_size
    if path.suffix == ".obj":
        total += path.with_suffix(".mtl").stat().st_size
        total += sum(p.stat().st_size for p in path.parent.glob(f"{path.stem}_*"))
    return total


@pytest.fixture(scope="module", params=["spot.obj", "trellis_uanu2002_sample.glb"])
def textured(request, tmp_path_factory):
    source = REAL / request.param
    out = tmp_path_factory.mktemp("parts")
    result = run(source, out, PipelineOptions(formats=FORMATS))
    scene = part3d.io.load(source)
    image = Image.open(io.BytesIO(scene.meshes[0].materials[0].image))
    return source, scene, result, image.size


def test_obj_parts_keep_the_texture_beside_them(textured) -> None:
    source, scene, result, size = textured
    mtl = result.outputs["mtl"].read_text()
    maps = [line.split()[1] for line in mtl.splitlines() if line.startswith("map_Kd")]
    assert len(maps) == 1
    texture = result.outputs["obj"].parent / maps[0]
    assert Image.open(texture).size == size
    loaded = trimesh.load(result.outputs["obj"], force="scene", process=False)
    with_image = [
        g for g in loaded.geometry.values() if getattr(g.visual.material, "image", None) is not None
    ]
    assert with_image and all(g.visual.uv is not None for g in with_image)
    assert {g.visual.material.image.size for g in with_image} == {size}


def test_glb_parts_embed_the_texture_with_their_uvs(textured) -> None:
    source, scene, result, size = textured
    names = [p["name"] for p in result.parts]
    glb = trimesh.load(result.outputs["glb"], process=False)
    for name in names:
        geom = glb.geometry[name]
        assert geom.visual.uv is not None and len(geom.visual.uv) == len(geom.vertices)
        assert geom.visual.material.baseColorTexture.size == size
        # The parts' own faces first: the texture-coordinates stay inside the image.
        assert np.isfinite(geom.visual.uv).all()


def test_fbx_parts_embed_the_texture(textured, tmp_path) -> None:
    source, scene, result, size = textured
    parts = part3d.io.load(result.outputs["fbx"])
    original = scene.meshes[0].materials[0]
    for mesh in parts.meshes:
        assert mesh.materials[0].name == original.name
        assert Image.open(io.BytesIO(mesh.materials[0].image)).size == size
        assert mesh.uv_values is not None
    found = read_with("assimp", [str(result.outputs["fbx"])])[str(result.outputs["fbx"])]
    names = {p["name"] for p in result.parts}
    assert set(found["meshes"]) >= names
    # assimp finds each part's texture and texture coordinates.
    texture = Path(original.texture).name
    assert all(found["textures"][n] == texture and found["uvs"][n] for n in names)


def test_split_files_stay_within_one_and_a_half_times_the_whole(textured, tmp_path) -> None:
    source, scene, result, _ = textured
    for fmt in ("obj", "fbx", "glb"):
        whole = tmp_path / f"whole.{fmt}"
        part3d.io.save(scene, whole)
        assert _size(result.outputs[fmt]) <= 1.5 * _size(whole), fmt


def test_palette_paints_the_parts_and_the_preview_always_shows_the_palette(tmp_path) -> None:
    result = run(
        REAL / "spot.obj", tmp_path, PipelineOptions(formats=("obj", "glb"), colors="palette")
    )
    mtl = result.outputs["mtl"].read_text()
    assert "map_Kd" not in mtl
    colours = {p["color"] for p in result.parts}
    assert len(colours) == len(result.parts)
    glb = trimesh.load(result.outputs["glb"], process=False)
    got = set()
    for part in result.parts:
        rgba = glb.geometry[part["name"]].visual.material.baseColorFactor
        got.add("#{:02X}{:02X}{:02X}".format(*rgba[:3]))
    assert got == colours


FBX = REAL.parent / "fbx"


def _png(color: tuple[int, int, int], size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def test_an_fbx_texture_file_beside_it_is_read_and_kept_by_the_parts(tmp_path) -> None:
    # Maya's export names its textures "textures\checkerboard_*.png" without embedding them;
    # the diffuse one sits under a layered texture, beside an emissive and a transparency map.
    source = tmp_path / "cube.fbx"
    source.write_bytes((FBX / "maya_texture_layers_7500_ascii.fbx").read_bytes())
    (tmp_path / "textures").mkdir()
    diffuse = _png((200, 30, 30))
    (tmp_path / "textures" / "checkerboard_diffuse.png").write_bytes(diffuse)
    (tmp_path / "textures" / "checkerboard_emissive.png").write_bytes(_png((0, 0, 255)))
    material = part3d.io.load(source).meshes[0].materials[0]
    assert material.texture == "checkerboard_diffuse.png"
    assert material.image == diffuse
    result = run(source, tmp_path / "out", PipelineOptions(formats=("obj", "glb")))
    mtl = result.outputs["mtl"].read_text()
    maps = {line.split()[1] for line in mtl.splitlines() if line.startswith("map_Kd")}
    assert len(maps) == 1
    kept = Image.open(result.outputs["obj"].parent / maps.pop()).convert("RGB")
    assert kept.getpixel((0, 0)) == (200, 30, 30)


def test_an_fbx_texture_is_found_by_name_beside_the_file(tmp_path) -> None:
    # The file gives a path from the machine that made it; the image lies beside the FBX.
    source = tmp_path / "cube.fbx"
    source.write_bytes((FBX / "maya_absolute_texture_7700_ascii.fbx").read_bytes())
    image = _png((10, 200, 10))
    (tmp_path / "checkerboard_diffuse.png").write_bytes(image)
    assert part3d.io.load(source).meshes[0].materials[0].image == image


def test_an_fbx_texture_path_never_reads_outside_the_files_folder(tmp_path) -> None:
    # A hostile file naming "../secret.png" (or an absolute path) gets its colour, not the
    # bytes of a file outside its folder.
    text = (FBX / "maya_absolute_texture_7700_ascii.fbx").read_text(errors="surrogateescape")
    names = {line.split('"')[1] for line in text.splitlines() if "Filename" in line}
    assert names, "the sample names its texture"
    (tmp_path / "secret.png").write_bytes(_png((1, 2, 3)))
    folder = tmp_path / "model"
    folder.mkdir()
    for name in names:
        text = text.replace(f'"{name}"', '"../secret.png"')
    (folder / "cube.fbx").write_text(text, errors="surrogateescape")
    material = part3d.io.load(folder / "cube.fbx").meshes[0].materials[0]
    assert material.texture == "secret.png"
    assert material.image is None
