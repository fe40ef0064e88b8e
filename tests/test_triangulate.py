from __future__ import annotations

import numpy as np

from part3d.io.triangulate import triangulate
from part3d.model import Mesh


def _mesh(vertices, polygons) -> Mesh:
    vertices = np.asarray(vertices, dtype=float)
    corners = np.concatenate([np.asarray(p) for p in polygons]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in polygons])]).astype(np.int64)
    tri_corners, tri_face = triangulate(vertices, corners, offsets)
    return Mesh(
        "m",
        vertices,
        corners,
        offsets,
        tri_corners,
        tri_face,
        np.zeros(len(polygons), dtype=np.int32),
    )


def test_concave_quad_is_split_along_its_inner_diagonal() -> None:
    # An arrowhead: corner 2 points inwards, so only the 0-2 diagonal lies inside.
    m = _mesh([[0, 0, 0], [2, 2, 0], [0, 1, 0], [-2, 2, 0]], [[0, 1, 2, 3]])
    assert np.isclose(m.triangle_areas().sum(), m.area())
    assert np.isclose(m.area(), 2.0)


def test_concave_ngon_triangulation_keeps_its_area_and_face_ids() -> None:
    # An L-shaped hexagon (area 3) followed by a triangle and a line.
    verts = [[0, 0, 0], [2, 0, 0], [2, 1, 0], [1, 1, 0], [1, 2, 0], [0, 2, 0], [5, 5, 0]]
    m = _mesh(verts, [[0, 1, 2, 3, 4, 5], [0, 1, 6], [2, 6]])
    assert len(m.tri_face) == 4 + 1
    assert list(m.tri_face) == [0, 0, 0, 0, 1]
    assert np.isclose(m.triangle_areas()[m.tri_face == 0].sum(), 3.0)
    assert np.isclose(m.polygon_areas()[0], 3.0)
    assert m.polygon_areas()[2] == 0.0


def test_triangles_face_the_same_way_as_their_polygon() -> None:
    verts = [[0, 0, 0], [2, 0, 0], [2, 1, 0], [1, 1, 0], [1, 2, 0], [0, 2, 0]]
    m = _mesh(verts, [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]])
    tri = m.vertices[m.triangles]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (normals[m.tri_face == 0, 2] > 0).all()
    assert (normals[m.tri_face == 1, 2] < 0).all()
