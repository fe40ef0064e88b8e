"""`part3d split` end to end: a real process, real files, independent readers on the outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import trimesh
from independent_readers import read_with
from PIL import Image

from part3d.io import load


def part3d(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "part3d.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_split_writes_every_output_and_they_open_elsewhere(models: Path, tmp_path: Path) -> None:
    proc = part3d("split", str(models / "spider.fbx"), "-o", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    out = {k: Path(v) for k, v in summary["outputs"].items()}
    assert set(out) == {"obj", "mtl", "fbx", "glb", "png", "json"}
    assert set(summary["seconds"]) >= {"load", "segment", "split", "write fbx", "write png"}
    names = [p["name"] for p in summary["parts"]]

    # The segmentation JSON lists every face of every mesh exactly once.
    info = json.loads(out["json"].read_text())
    assert list(info) == names
    scene = load(models / "spider.fbx")
    for mesh in scene.meshes:
        ids = sorted(
            i for k, v in info.items() if k.startswith(mesh.name + "_part_") for i in v["face_ids"]
        )
        assert ids == list(range(mesh.polygon_count))

    # FBX: ufbx (its own process) finds one node per part with the same triangles.
    parts = load(out["fbx"])
    assert [m.name for m in parts.meshes] == names
    found = read_with("ufbx", [str(out["fbx"])])[str(out["fbx"])]
    assert found == {"meshes": {m.name: len(m.tri_face) for m in parts.meshes}}
    # GLB and OBJ: trimesh finds every part and every triangle.
    glb = trimesh.load(out["glb"], process=False)
    # One node per part; a part of several materials has a child node per further one
    # (its cap, say).
    nodes = set(glb.graph.nodes_geometry)
    assert nodes >= set(names)
    assert all(n.rsplit("_", 1)[0] in names or n.endswith("_cap") for n in nodes - set(names))
    # Every triangle of the input, plus the caps over the cuts (a material of their own).
    caps = sum(
        int((m.face_material[m.tri_face] == len(m.materials) - 1).sum())
        for m in parts.meshes
        if m.materials[-1].name.endswith("_cap")
    )
    assert sum(len(g.faces) for g in glb.geometry.values()) == scene.triangle_count + caps
    obj = trimesh.load(out["obj"], process=False, force="scene", split_object=True)
    assert sum(len(g.faces) for g in obj.geometry.values()) == scene.triangle_count + caps
    assert Image.open(out["png"]).size == (1024, 1024)


def test_split_is_deterministic_and_takes_a_part_count(models: Path, tmp_path: Path) -> None:
    runs = []
    for folder in ("a", "b"):
        proc = part3d(
            "split",
            str(models / "mar_rifle.fbx"),
            "-o",
            str(tmp_path / folder),
            "--parts",
            "10",
            "--formats",
            "json",
        )
        assert proc.returncode == 0, proc.stderr
        runs.append((tmp_path / folder / "mar_rifle_segmentation.json").read_text())
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])) == 10


def test_split_says_when_the_asked_count_is_too_low(models: Path, tmp_path: Path) -> None:
    proc = part3d(
        "split", str(models / "mar_rifle.fbx"), "-o", str(tmp_path), "--parts", "3",
        "--formats", "json", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "warning" in line]
    # 9 separate pieces (the smallest, 0.8 % of the rifle, 2.5 % of its largest piece).
    assert len(warning) == 1 and "cannot have fewer than 9 parts" in warning[0]
    summary = json.loads(proc.stdout)
    assert summary["parts_requested"] == 3 and summary["parts_achieved"] == 9
    assert len(json.loads((tmp_path / "mar_rifle_segmentation.json").read_text())) == 9


def test_split_of_a_corrupt_file_is_one_line(fbx_dir: Path, tmp_path: Path) -> None:
    proc = part3d(
        "split", str(fbx_dir / "bad" / "crafted_deflate_corrupt_stream.fbx"), "-o", str(tmp_path)
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "crafted_deflate_corrupt_stream.fbx" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_part_faces_keep_their_geometry(models: Path, tmp_path: Path) -> None:
    proc = part3d(
        "split", str(models / "WusonOBJ.obj"), "-o", str(tmp_path), "--formats", "obj,json"
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "WusonOBJ_segmentation.json").read_text())
    source = load(models / "WusonOBJ.obj").meshes[0]
    parts = {m.name: m for m in load(tmp_path / "WusonOBJ_parts.obj").meshes}
    for name, value in info.items():
        part = parts[name]
        ids = value["face_ids"]
        # The part's own faces come first, in input order; caps over the cuts after them.
        np.testing.assert_allclose(
            part.vertices[part.triangles[: len(ids)]],
            source.vertices[source.triangles[ids]],
            rtol=1e-6,
        )


def test_split_takes_an_edited_segmentation(models: Path, tmp_path: Path) -> None:
    """Stage 1's JSON, edited as a user would (two parts merged, faces moved), gives exactly
    those parts; faces the edit leaves out join a neighbour; a bad edit is one line naming
    the part and the face."""
    model = str(models / "mar_rifle.fbx")
    assert part3d("split", model, "-o", str(tmp_path / "a"), "--formats", "json").returncode == 0
    first = json.loads((tmp_path / "a" / "mar_rifle_segmentation.json").read_text())
    names = list(first)
    edited = {
        "body": {"face_ids": sorted(first[names[0]]["face_ids"] + first[names[1]]["face_ids"]
                                    + first[names[2]]["face_ids"][:5])},
        "rest": {"face_ids": first[names[2]]["face_ids"][5:]},
        **{n: first[n] for n in names[3:]},
    }  # fmt: skip
    left_out = edited[names[3]]["face_ids"].pop()
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    proc = part3d("split", model, "-o", str(tmp_path / "b"), "--segmentation", str(path),
                  "--formats", "json,fbx")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads((tmp_path / "b" / "mar_rifle_segmentation.json").read_text())
    assert len(got) == len(edited)
    got_sets = sorted(sorted(p["face_ids"]) for p in got.values())
    edited[names[3]]["face_ids"].append(left_out)
    assert got_sets == sorted(sorted(p["face_ids"]) for p in edited.values())
    path.write_text(json.dumps({"m_rifle_part_1": {"face_ids": [3, 3]}}))
    proc = part3d("split", model, "-o", str(tmp_path / "c"), "--segmentation", str(path))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "part3d: error: PartSegmentationInfo['m_rifle_part_1']: face 3 of mesh 'm_rifle' is "
        "listed twice"
    )


def test_stage_one_writes_the_model_carrying_its_parts(tmp_path: Path) -> None:
    """--stage segment: every input mesh kept with its faces in order, one material per part
    (named as in the JSON) in the FBX, the same triangles in order with part colours in the
    GLB; no OBJ. Splitting that file with its JSON gives the same parts."""
    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "spot.obj"
    proc = part3d("split", str(real), "-o", str(tmp_path), "--stage", "segment")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "spot_preview.png", "spot_segmentation.json", "spot_segmented.fbx", "spot_segmented.glb",
    ]  # fmt: skip
    info = json.loads((tmp_path / "spot_segmentation.json").read_text())
    original = load(real).meshes[0]
    fbx = load(tmp_path / "spot_segmented.fbx").meshes[0]
    np.testing.assert_allclose(fbx.vertices[fbx.triangles], original.vertices[original.triangles])
    assert [m.name for m in fbx.materials] == list(info)
    for k, name in enumerate(info):
        assert sorted(np.flatnonzero(fbx.face_material == k).tolist()) == info[name]["face_ids"]
    glb = trimesh.load(tmp_path / "spot_segmented.glb", force="mesh", process=False)
    assert len(glb.faces) == original.polygon_count
    colors = glb.visual.vertex_colors[glb.faces[:, 0], :3]
    part0 = info[next(iter(info))]
    want = tuple(int(part0["color"][i : i + 2], 16) for i in (1, 3, 5))
    assert {tuple(c) for c in colors[part0["face_ids"]].tolist()} == {want}
    again = part3d("split", str(tmp_path / "spot_segmented.fbx"), "-o", str(tmp_path / "b"),
                   "--segmentation", str(tmp_path / "spot_segmentation.json"),
                   "--formats", "json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    got = json.loads((tmp_path / "b" / "spot_segmented_segmentation.json").read_text())
    assert sorted(map(sorted, (p["face_ids"] for p in got.values()))) == sorted(
        map(sorted, (p["face_ids"] for p in info.values()))
    )


def test_parts_carry_only_what_their_faces_use(tmp_path: Path) -> None:
    """LittlestTokyo (71 meshes, 139 parts): the parts' OBJ/FBX/GLB together stay within 1.5x
    of the same format written for the unsplit model (each part used to carry its mesh's
    whole normal and UV arrays: a 120 MB OBJ for a 23 MB one)."""
    from part3d.io import save

    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "LittlestTokyo.glb"
    proc = part3d("split", str(real), "-o", str(tmp_path), "--formats", "obj,fbx,glb")
    assert proc.returncode == 0, proc.stderr
    scene = load(real)
    for fmt in ("obj", "fbx", "glb"):
        whole = save(scene, tmp_path / f"whole.{fmt}").stat().st_size
        parts = (tmp_path / f"LittlestTokyo_parts.{fmt}").stat().st_size
        assert parts <= 1.5 * whole, (fmt, parts, whole)
    # The normals and UVs a part keeps are its faces' own.
    mesh = scene.meshes[0]
    parts = load(tmp_path / "LittlestTokyo_parts.fbx")
    first = [m for m in parts.meshes if m.name.startswith(mesh.name + "_part_")]
    assert sum(m.polygon_count for m in first) == mesh.polygon_count
    if mesh.uv_values is not None:
        uv_total = sum(len(m.uv_values) for m in first if m.uv_values is not None)
        assert uv_total <= 1.5 * len(mesh.uv_values) + 16 * len(first)


def test_parts_are_grouped_under_the_mesh_they_were_cut_from(models: Path, tmp_path: Path):
    proc = part3d("split", str(models / "jeep1.fbx"), "-o", str(tmp_path), "--formats",
                  "fbx,glb,json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "jeep1_segmentation.json").read_text())
    meshes = {m.name for m in load(models / "jeep1.fbx").meshes}
    source = {name: name.rsplit("_part_", 1)[0] for name in info}
    assert set(source.values()) == meshes
    # FBX: every part node's parent is a node named after its mesh (read back by part3d).
    parts = load(tmp_path / "jeep1_parts.fbx")
    assert {m.name: m.parent for m in parts.meshes} == source
    # GLB: the same in the node hierarchy, as trimesh reads it.
    glb = trimesh.load(tmp_path / "jeep1_parts.glb", process=False)
    parents = glb.graph.transforms.parents
    assert {name: parents[name] for name in info} == source
    # And an independent reader still finds every part with its faces.
    found = read_with("assimp", [str(tmp_path / "jeep1_parts.fbx")])
    assert set(found[str(tmp_path / "jeep1_parts.fbx")]["meshes"]) == set(info)
