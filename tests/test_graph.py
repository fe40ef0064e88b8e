"""The face-graph helpers give the numbers of the plain numpy expressions they stand for
(segmentation must not move when they are made faster)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from part3d.segment.graph import (
    centroids_of,
    compact,
    face_graph,
    triangle_frames,
    unique_rows,
    weld,
)


def _soup(seed: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """A welded-and-unwelded mixture: an icosphere with duplicated corners, a few degenerate
    and repeated triangles, at scales 1e-3 to 1e3."""
    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(4)
    vertices = np.asarray(sphere.vertices) * rng.choice([1e-3, 1.0, 1e3])
    vertices = np.concatenate([vertices, vertices[:200]]).astype(dtype)
    faces = np.asarray(sphere.faces).copy()
    faces = np.concatenate([faces, faces[:50], faces[::40][:, [0, 0, 1]]])
    moved = faces < 200
    faces[moved & (rng.random(faces.shape) < 0.5)] += len(sphere.vertices)
    return vertices, faces


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_triangle_frames_and_centroids_are_those_of_cross_norm_and_mean(dtype) -> None:
    vertices, faces = _soup(1, dtype)
    p = vertices[faces]
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    length = np.linalg.norm(cross, axis=1)
    normals = np.divide(cross, length[:, None], out=np.zeros_like(cross), where=length[:, None] > 0)
    got = triangle_frames(vertices, faces)
    for want, have in zip((normals, 0.5 * length, p.mean(axis=1)), got, strict=True):
        assert have.dtype == want.dtype
        np.testing.assert_array_equal(have, want)
    np.testing.assert_array_equal(centroids_of(vertices, faces), p.mean(axis=1))


@pytest.mark.parametrize("high", [1000, 2**40])
def test_unique_rows_is_numpys_unique_over_rows(high: int) -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(0, high, size=(4000, 3))
    keys = base[rng.integers(0, len(base), size=15000)]
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    have_first, have_inverse = unique_rows(keys)
    np.testing.assert_array_equal(have_first, first)
    np.testing.assert_array_equal(have_inverse, inverse.reshape(-1))


@pytest.mark.parametrize(
    ("shape", "size"),
    [((4000, 3), 5000), ((7,), 10**6), ((3000,), 3000), ((0,), 10), ((50, 3), 40), ((9,), 5)],
)
def test_compact_is_numpys_unique_with_its_inverse(shape, size) -> None:
    """Every branch: dense values, few values in a large range, values out of range (negative,
    too large), none."""
    rng = np.random.default_rng(sum(shape) + size)
    values = rng.integers(-3 if size == 5 else 0, size, shape)
    if size == 40:
        values[0, 0] = size + 7
    used, inverse = compact(values, size)
    want_used, want_inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(used, want_used)
    np.testing.assert_array_equal(inverse, want_inverse)
    assert inverse.shape == want_inverse.shape


def test_the_face_graph_pairs_each_shared_edge_in_triangle_order() -> None:
    """The graph of a closed sphere, then of the soup (repeated and degenerate triangles):
    the pairs and shared edges a sort of every triangle's edges gives."""
    vertices, faces = _soup(3)
    for tris in (np.asarray(trimesh.creation.icosphere(3).faces), weld(vertices, faces)[0]):
        edges = np.stack([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]], axis=1)
        edges = np.sort(edges.reshape(-1, 2), axis=1)
        owner = np.repeat(np.arange(len(tris)), 3)
        keep = edges[:, 0] != edges[:, 1]
        edges, owner = edges[keep], owner[keep]
        order = np.lexsort((edges[:, 1], edges[:, 0]))
        edges, owner = edges[order], owner[order]
        same = (edges[1:] == edges[:-1]).all(axis=1) & (owner[1:] != owner[:-1])
        graph = face_graph(tris)
        np.testing.assert_array_equal(graph.pairs, np.stack([owner[:-1], owner[1:]], 1)[same])
        np.testing.assert_array_equal(graph.edge_vertices, edges[:-1][same])
    sphere = face_graph(np.asarray(trimesh.creation.icosphere(3).faces))
    assert len(sphere.pairs) == 1280 * 3 // 2  # every edge of a closed surface, once
