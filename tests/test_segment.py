"""Segmentation: real geometry in, one label per face out, the same every time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from part3d.io import load
from part3d.io.meshes import build_mesh
from part3d.model import Scene
from part3d.segment import SegmentOptions, segment, segment_mesh

PSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "psb"


def _psb_mesh(model_id: int):
    z = np.load(PSB / f"{model_id}.npz")
    faces = z["faces"].astype(np.int64)
    return build_mesh(
        str(model_id),
        z["vertices"].astype(float),
        faces.reshape(-1),
        np.arange(0, 3 * len(faces) + 1, 3),
    ), z


def _from_trimesh(tm: trimesh.Trimesh, name: str = "m"):
    faces = np.asarray(tm.faces)
    return build_mesh(name, tm.vertices, faces.reshape(-1), np.arange(0, 3 * len(faces) + 1, 3))


def test_labels_are_identical_for_identical_input() -> None:
    mesh, _ = _psb_mesh(1)
    a = segment_mesh(mesh, SegmentOptions(seed=7))
    b = segment_mesh(mesh, SegmentOptions(seed=7))
    assert a.shape == (mesh.polygon_count,)
    np.testing.assert_array_equal(a, b)


def test_parts_are_numbered_by_decreasing_area() -> None:
    mesh, _ = _psb_mesh(101)  # a chair
    labels = segment_mesh(mesh, SegmentOptions())
    area = np.bincount(labels, weights=mesh.polygon_areas())
    assert labels.min() == 0 and len(area) == labels.max() + 1
    assert (np.diff(area) <= 0).all()


def test_asked_part_count_is_honoured() -> None:
    mesh, _ = _psb_mesh(181)  # a hand
    for parts in (2, 6):
        labels = segment_mesh(mesh, SegmentOptions(parts=parts))
        assert labels.max() + 1 == parts


def test_separate_pieces_of_one_mesh_are_separate_parts() -> None:
    a = trimesh.creation.box(extents=(1, 1, 1))
    b = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    b.apply_translation((3, 0, 0))
    both = trimesh.util.concatenate([a, b])
    labels = segment_mesh(_from_trimesh(both), SegmentOptions())
    assert len(set(labels[:12].tolist())) == 1
    assert len(set(labels[12:].tolist())) == 1
    assert labels[0] != labels[12]


def test_a_tiny_separate_piece_joins_its_nearest_part() -> None:
    big = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    speck = trimesh.creation.box(extents=(0.01, 0.01, 0.01))
    speck.apply_translation((1.05, 0, 0))
    labels = segment_mesh(_from_trimesh(trimesh.util.concatenate([big, speck])), SegmentOptions())
    assert labels.max() == 0


def test_separate_meshes_are_labelled_separately(models: Path) -> None:
    scene = load(models / "jeep1.fbx")
    seg = segment(scene)
    assert len(seg.labels) == len(scene.meshes)
    for mesh, labels in zip(scene.meshes, seg.labels, strict=True):
        assert labels.shape == (mesh.polygon_count,)


def test_faces_without_area_take_a_neighbours_part(tmp_path: Path) -> None:
    path = tmp_path / "mixed.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\nl 1 4\n")
    scene = load(path)
    labels = segment(scene).labels[0]
    assert labels.tolist() == [0, 0, 0]


@pytest.mark.parametrize("model_id", [21, 141])
def test_benchmark_models_segment_into_plausible_parts(model_id: int) -> None:
    from_bench = _psb_mesh(model_id)
    mesh, z = from_bench
    labels = segment_mesh(mesh, SegmentOptions())
    humans = [int(s.max()) + 1 for s in z["segs"]]
    assert 2 <= labels.max() + 1 <= 3 * max(humans)


def test_empty_scene_segments_to_nothing() -> None:
    assert segment(Scene()).labels == []
