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
