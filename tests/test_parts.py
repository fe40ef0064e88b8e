"""Parts: one mesh per part, names, colours, and face ids that survive the JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from part3d.errors import Part3DError
from part3d.io import load
from part3d.parts import PALETTE, dumps_info, from_info, split, to_info
from part3d.segment import SegmentOptions, segment

MODELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "models"


@pytest.fixture(scope="module")
def rifle():
    scene = load(MODELS / "mar_rifle.fbx")
    return scene, segment(scene, SegmentOptions(parts=5))


def test_split_gives_one_mesh_per_part_with_every_face_once(rifle) -> None:
    scene, seg = rifle
    parts = split(scene, seg, colors="palette")
    n_parts = seg.part_count
    assert n_parts >= 5
    assert [m.name for m in parts.meshes] == [f"m_rifle_part_{n}" for n in range(1, n_parts + 1)]
    assert sum(m.polygon_count for m in parts.meshes) == scene.polygon_count
    assert sum(len(m.tri_face) for m in parts.meshes) == scene.triangle_count
    areas = [m.area() for m in parts.meshes]
    assert areas == sorted(areas, reverse=True)
    colors = [m.materials[0].color for m in parts.meshes]
    assert len(set(colors)) == len(colors)


def test_part_faces_are_the_original_faces_in_order(rifle) -> None:
    scene, seg = rifle
    info = to_info(scene, seg)
    parts = split(scene, seg)
    source = scene.meshes[0]
    for part in parts.meshes:
        ids = info[part.name]["face_ids"]
        assert ids == sorted(ids)
        for new_id, old_id in enumerate(ids[:50]):
            a = source.vertices[source.corners[source.offsets[old_id] : source.offsets[old_id + 1]]]
            b = part.vertices[part.corners[part.offsets[new_id] : part.offsets[new_id + 1]]]
            np.testing.assert_array_equal(a, b)
        if source.normal_values is not None:
            corners = np.concatenate(
                [np.arange(source.offsets[i], source.offsets[i + 1]) for i in ids]
            )
            np.testing.assert_array_equal(part.normals, source.normals[corners])


def test_info_json_round_trip_gives_the_same_parts(rifle) -> None:
    scene, seg = rifle
    info = to_info(scene, seg)
    text = dumps_info(info)
    assert json.loads(text) == info
    assert all(v["color"] in PALETTE for v in info.values())
    again = from_info(scene, text)
    assert to_info(scene, again) == info


def test_global_face_ids_and_unlisted_faces(rifle) -> None:
    scene, seg = rifle
    n = scene.polygon_count
    # Tencent-style keys use global ids; faces no part lists join a neighbouring part.
    info = {"part_0": {"face_ids": list(range(0, n // 2))}, "part_1": {"face_ids": [n - 1]}}
    labels = from_info(scene, info).labels[0]
    assert labels.shape == (n,)
    assert len(set(labels[: n // 2].tolist())) == 1


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"part_0": {"face_ids": [0, 99999]}}, "face id 99999 is out of range"),
        (
            {"a": {"face_ids": [1, 2]}, "b": {"face_ids": [2]}},
            "face 2 of mesh 'm_rifle' is listed twice",
        ),
        ({"part_0": {"face_ids": "1,2"}}, "must be a list of integers"),
        ({"part_0": {}}, "has no face_ids"),
    ],
)
def test_bad_info_is_refused_with_the_key_and_id(rifle, info, message) -> None:
    scene, _ = rifle
    with pytest.raises(Part3DError, match=message):
        from_info(scene, info)
