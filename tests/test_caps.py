"""Closed parts: caps over the cuts, and post-processing into one clean model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from part3d.caps import make_cap
from part3d.io import build_mesh, load
from part3d.model import Scene
from part3d.parts import clean, merge_specks, split
from part3d.segment import SegmentOptions, segment

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _edge_uses(mesh) -> np.ndarray:
    tm = trimesh.Trimesh(mesh.vertices, mesh.triangles, process=True)
    edges = np.sort(tm.edges, axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]


@pytest.mark.parametrize(
    "name",
    [
        "spot.obj",
        "screwdriver.off",
        "Xbot.glb",
        # Scans and generated meshes: cuts zig-zag along triangles and touch themselves.
        "armadillo.obj",
        "rocker-arm.obj",
        "trellis_uanu2002_sample.glb",
        "hunyuan3d-2_assets_1.glb",
    ],
)
def test_parts_of_a_closed_model_are_watertight_and_add_up(name: str) -> None:
    scene = load(REAL / name)
    parts = split(scene, segment(scene), close=True)
    whole = sum(trimesh.Trimesh(m.vertices, m.triangles).volume for m in scene.meshes)
    total = 0.0
    for mesh in parts.meshes:
        tm = trimesh.Trimesh(mesh.vertices, mesh.triangles, process=True)
        assert tm.is_watertight and tm.is_winding_consistent, mesh.name
        assert (_edge_uses(mesh) == 2).all(), mesh.name
        assert tm.volume > 0, mesh.name
        total += tm.volume
    assert abs(total - whole) <= 0.01 * whole


def test_caps_have_their_own_material_and_come_after_the_faces() -> None:
    scene = load(REAL / "spot.obj")
    seg = segment(scene, SegmentOptions(parts=3))
    opened, closed = split(scene, seg), split(scene, seg, close=True)
    for shell, part in zip(opened.meshes, closed.meshes, strict=True):
        # The input's material (spot's textured one), then the cap's.
        assert [m.name for m in part.materials] == ["spot", f"{shell.name}_cap"]
        own = shell.polygon_count
        assert (part.face_material[:own] == 0).all() and (part.face_material[own:] == 1).all()
        np.testing.assert_array_equal(
            part.vertices[part.corners[: len(shell.corners)]], shell.vertices[shell.corners]
        )
        # spot has UVs: the caps' corners have them too.
        assert len(part.uvs) == len(part.corners)


def test_a_flat_round_opening_gets_a_flat_cap_without_slivers() -> None:
    angle = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    loop = np.stack([np.cos(angle), np.sin(angle), np.zeros(64)], axis=1)
    points, tris, uv = make_cap(loop)
    allp = np.concatenate([loop, points])
    assert len(points) > 20 and np.allclose(allp[:, 2], 0)
    tri = allp[tris]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (cross[:, 2] > 0).all()  # facing +Z: the loop runs counter-clockwise
    assert abs(0.5 * cross[:, 2].sum() - np.pi) < 0.01 * np.pi
    # Smallest angle of any cap triangle.
    angles = []
    for k in range(3):
        a, b = tri[:, (k + 1) % 3] - tri[:, k], tri[:, (k + 2) % 3] - tri[:, k]
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    assert np.min(angles) > 15
    assert uv.shape == (len(allp), 2) and uv.min() >= 0 and uv.max() <= 1


def test_a_bent_opening_gets_a_smooth_cap_through_it() -> None:
    angle = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    loop = np.stack([np.cos(angle), np.sin(angle), 0.3 * np.cos(2 * angle)], axis=1)
    points, tris, _ = make_cap(loop)
    # The membrane stays within the loop's height range and is not flat.
    assert points[:, 2].min() >= -0.3 and points[:, 2].max() <= 0.3
    assert np.ptp(points[:, 2]) > 0.1


def test_a_floating_speck_joins_the_nearest_part() -> None:
    big = trimesh.creation.icosphere(subdivisions=3)
    speck = trimesh.creation.icosphere(subdivisions=1, radius=0.01)
    speck.apply_translation([1.05, 0, 0])
    both = trimesh.util.concatenate([big, speck])
    faces = np.asarray(both.faces)
    mesh = build_mesh(
        "m", np.asarray(both.vertices), faces.reshape(-1), 3 * np.arange(len(faces) + 1)
    )
    scene = Scene([mesh])
    labels = np.zeros(len(faces), dtype=np.int32)
    labels[len(big.faces) :] = 1  # the speck as a part of its own
    labels[: len(big.faces)][big.triangles_center[:, 0] > 0.5] = 2
    from part3d.segment import Segmentation

    merged = merge_specks(scene, Segmentation([labels]))
    out = merged.labels[0]
    assert len(set(out.tolist())) == 2
    # The speck sits beside the +X cap of the sphere, so it joins that part.
    assert len(set(out[len(big.faces) :].tolist())) == 1
    assert out[len(big.faces)] == out[int(np.argmax(big.triangles_center[:, 0]))]


def test_clean_welds_and_drops_degenerate_and_duplicate_faces() -> None:
    box = trimesh.creation.box()
    v = np.asarray(box.vertices)[np.asarray(box.faces).reshape(-1)]  # unwelded: 3 per face
    faces = np.arange(len(v)).reshape(-1, 3)
    faces = np.concatenate([faces, faces[:1], [[0, 0, 1]]])  # a duplicate and a degenerate
    faces[3] = faces[3][::-1]  # one face wound the wrong way
    mesh = build_mesh("box", v, faces.reshape(-1), 3 * np.arange(len(faces) + 1))
    out = clean(Scene([mesh])).meshes[0]
    tm = trimesh.Trimesh(out.vertices, out.triangles, process=False)
    assert len(out.vertices) == 8 and len(tm.faces) == 12
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    assert len(out.normals) == len(out.corners)


def _part3d(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "part3d.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_open_and_post_process(tmp_path: Path) -> None:
    proc = _part3d("split", str(REAL / "spot.obj"), "-o", str(tmp_path / "open"), "--open",
                   "--formats", "obj,json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shells = trimesh.load(tmp_path / "open" / "spot_parts.obj", force="mesh", process=False)
    assert len(shells.faces) == load(REAL / "spot.obj").triangle_count

    proc = _part3d("split", str(REAL / "spot.obj"), "-o", str(tmp_path / "pp"),
                   "--post-process", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary["outputs"]) == {"fbx", "png", "json"}
    model = load(summary["outputs"]["fbx"])
    assert len(model.meshes) == summary["parts_achieved"] >= 2
    for mesh in model.meshes:
        tm = trimesh.Trimesh(mesh.vertices, mesh.triangles, process=True)
        assert tm.is_watertight and tm.volume > 0, mesh.name

    proc = _part3d("split", str(REAL / "spot.obj"), "--post-process", "--open")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
