"""The scene model: plain dataclasses over numpy arrays.

Face-id convention (the contract users edit): a face id is the index of a polygon in its
mesh, in file order. Polygons are stored as a flat corner array plus offsets, so polygon ``i``
has the corners ``corners[offsets[i]:offsets[i + 1]]``. A polygon with fewer than three corners
keeps its id and yields no triangles. ``tri_corners`` holds the triangulation as corner
indices and ``tri_face`` maps each triangle back to its polygon id; nothing renumbers faces.

Vertices are in world space (the node's geometry-to-world transform applied); that transform,
the parent's name and the file's unit and axes are kept for writers that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


def _per_corner(values: np.ndarray | None, index: np.ndarray | None) -> np.ndarray | None:
    if values is None:
        return None
    return values if index is None else values[index]


def unique_names(names: list[str]) -> list[str]:
    """Mesh names made unique in order: a name used again gets ``_2``, ``_3``, ... (skipping
    any suffix another mesh already has as its own name)."""
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        if name in seen:
            k = 2
            while f"{name}_{k}" in taken or f"{name}_{k}" in seen:
                k += 1
            name = f"{name}_{k}"
        seen.add(name)
        out.append(name)
    return out


@dataclass
class Material:
    """A surface material: ``color`` is linear RGBA in [0, 1]; ``texture`` the base colour
    texture's file name (or None) and ``image`` its encoded bytes (PNG, JPEG) when the reader
    found them (beside an OBJ, embedded in a GLB)."""

    name: str
    color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    texture: str | None = None
    image: bytes | None = field(default=None, repr=False)


@dataclass
class Mesh:
    """One node that carries geometry.

    Shapes (index arrays are int32): ``vertices`` (n, 3) float64; ``corners`` (k,) vertex index
    per corner; ``offsets`` (p + 1,) with ``offsets[0] == 0`` and ``offsets[-1] == k``;
    ``tri_corners`` (t, 3) corner indices; ``tri_face`` (t,) polygon ids; ``face_material``
    (p,) indices into ``materials`` (0 when there are none); ``transform`` (4, 4) the
    geometry-to-world matrix already applied to ``vertices``.

    Normals and UVs are per corner, stored compactly as in the file: ``normal_values`` (m, 3)
    with ``normal_index`` (k,) picking one per corner, or ``normal_index`` None when
    ``normal_values`` already has one row per corner (m == k). ``normals`` and ``uvs`` give the
    per-corner arrays. ``uvs`` is the first UV set; ``uv_set_names`` names every set the file had.
    """

    name: str
    vertices: np.ndarray
    corners: np.ndarray
    offsets: np.ndarray
    tri_corners: np.ndarray
    tri_face: np.ndarray
    face_material: np.ndarray
    normal_values: np.ndarray | None = None
    normal_index: np.ndarray | None = None
    uv_values: np.ndarray | None = None
    uv_index: np.ndarray | None = None
    uv_set_names: list[str] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    parent: str | None = None

    @property
    def normals(self) -> np.ndarray | None:
        """(k, 3) float: the normal at each corner, or None when the mesh has none."""
        return _per_corner(self.normal_values, self.normal_index)

    @property
    def uvs(self) -> np.ndarray | None:
        """(k, 2) float: the first UV set's coordinate at each corner, or None."""
        return _per_corner(self.uv_values, self.uv_index)

    @property
    def polygon_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def polygon_sizes(self) -> np.ndarray:
        """(p,) int: number of corners of each polygon."""
        return np.diff(self.offsets)

    @property
    def triangles(self) -> np.ndarray:
        """(t, 3) int32: the triangulation as vertex indices."""
        return self.corners[self.tri_corners]

    @property
    def corner_face(self) -> np.ndarray:
        """(k,) int32: the polygon id of each corner."""
        return np.repeat(np.arange(self.polygon_count, dtype=np.int32), self.polygon_sizes)

    def used_vertices(self) -> np.ndarray:
        """(m,) int: indices of the vertices used by polygons with three or more corners."""
        sizes = self.polygon_sizes
        used = np.zeros(len(self.vertices), dtype=bool)
        used[self.corners if (sizes >= 3).all() else self.corners[np.repeat(sizes >= 3, sizes)]] = (
            True
        )
        return np.flatnonzero(used)

    def bounds(self) -> np.ndarray | None:
        """(2, 3) float64 min and max over the vertices of polygons; None without polygons."""
        used = self.used_vertices()
        if len(used) == 0:
            return None
        v = self.vertices[used]
        return np.stack([v.min(axis=0), v.max(axis=0)])

    def polygon_areas(self) -> np.ndarray:
        """(p,) float64: each polygon's vector area magnitude (0 for fewer than three corners).

        For a planar simple polygon this is its area whatever its triangulation.
        """
        p = self.polygon_count
        if p == 0:
            return np.zeros(0)
        sizes = self.polygon_sizes
        if len(self.corners) == 3 * p and (sizes == 3).all():  # triangles: no sums per polygon
            v = self.vertices[self.corners.reshape(p, 3)]
            vec = _cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
            return 0.5 * np.sqrt(np.einsum("ij,ij->i", vec, vec))
        face = self.corner_face
        first = self.vertices[self.corners[self.offsets[:-1]]]
        pts = self.vertices[self.corners] - first[face]
        # The corner that follows each corner inside its polygon (wrapping to the first).
        nxt = np.arange(len(self.corners)) + 1
        ends = self.offsets[1:] - 1
        nxt[ends[sizes > 0]] = self.offsets[:-1][sizes > 0]
        cross = _cross(pts, pts[nxt])
        # Summed per polygon (bincount: np.add.at is far slower).
        vec = np.stack([np.bincount(face, cross[:, i], minlength=p) for i in range(3)], axis=1)
        area = 0.5 * np.sqrt(np.einsum("ij,ij->i", vec, vec))
        area[sizes < 3] = 0.0
        return area

    def area(self) -> float:
        """World-space surface area: the sum of ``polygon_areas``."""
        return float(self.polygon_areas().sum())

    def triangle_areas(self) -> np.ndarray:
        """(t,) float64: the area of each triangle of the triangulation."""
        tri = self.vertices[self.triangles]
        return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


@dataclass
class Scene:
    """A loaded model: its meshes plus what the file said about itself.

    ``unit_meters`` is the length of one file unit in metres; ``axes`` the file's
    (right, up, front) axes as ``+X``/``-Y``/...; neither is applied to the vertices.
    """

    meshes: list[Mesh] = field(default_factory=list)
    unit_meters: float = 1.0
    axes: tuple[str, str, str] = ("+X", "+Y", "+Z")
    format: str = ""
    version: int | None = None
    creator: str = ""
    source: str = ""

    @property
    def polygon_count(self) -> int:
        return sum(m.polygon_count for m in self.meshes)

    @property
    def triangle_count(self) -> int:
        return sum(len(m.tri_face) for m in self.meshes)

    def group_nodes(self) -> list[str | None]:
        """For each mesh, the node writers put it under: its parent when that is not itself
        one of the scene's meshes (a part under the mesh it was cut from), else None (the
        mesh is written at the root; vertices are in world space either way)."""
        names = {mesh.name for mesh in self.meshes}
        return [
            mesh.parent if mesh.parent and mesh.parent not in names else None
            for mesh in self.meshes
        ]

    def bounds(self) -> np.ndarray | None:
        """(2, 3) float64 union of the meshes' bounds, or None when no mesh has a polygon."""
        boxes = [b for b in (m.bounds() for m in self.meshes) if b is not None]
        if not boxes:
            return None
        stacked = np.stack(boxes)
        return np.stack([stacked[:, 0].min(axis=0), stacked[:, 1].max(axis=0)])

    def converted(
        self, unit_meters: float | None = None, axes: tuple[str, str, str] | None = None
    ) -> Scene:
        """A copy of the scene with vertices (and normals) expressed in another unit and axes.

        ``unit_meters`` is the target unit's length in metres (1.0 for metres); ``axes`` the
        target (right, up, front), e.g. ``("+X", "+Y", "+Z")`` for glTF's Y-up. Face ids,
        names and everything else are unchanged. Raises ValueError when the scene's axes are
        unknown and ``axes`` is asked for.
        """
        scale = 1.0 if unit_meters is None else self.unit_meters / unit_meters
        rotation = np.eye(3)
        if axes is not None and tuple(axes) != tuple(self.axes):
            rotation = axis_basis(axes).T @ axis_basis(self.axes)
        linear = rotation * scale
        meshes = []
        for mesh in self.meshes:
            normals = mesh.normal_values
            if normals is not None and not np.array_equal(rotation, np.eye(3)):
                normals = normals @ rotation.T
            meshes.append(
                replace(
                    mesh,
                    vertices=mesh.vertices @ linear.T,
                    normal_values=normals,
                    transform=_linear4(linear) @ mesh.transform,
                )
            )
        return replace(
            self,
            meshes=meshes,
            unit_meters=self.unit_meters if unit_meters is None else unit_meters,
            axes=self.axes if axes is None else tuple(axes),
        )


def axis_basis(axes: tuple[str, str, str]) -> np.ndarray:
    """(3, 3) rows: the unit vectors of the (right, up, front) axes named like ``+X``/``-Z``."""
    basis = np.zeros((3, 3))
    for row, axis in enumerate(axes):
        if len(axis) != 2 or axis[0] not in "+-" or axis[1] not in "XYZ":
            raise ValueError(f"unknown axis {axis!r}: the file does not state its axes")
        basis[row, "XYZ".index(axis[1])] = 1.0 if axis[0] == "+" else -1.0
    if abs(np.linalg.det(basis)) != 1.0:
        raise ValueError(f"axes {axes} do not name three different directions")
    return basis


def plane_basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (u, v) across ``normal`` (3,), with (u, v, normal) right-handed."""
    n = normal / np.linalg.norm(normal)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = _cross(n[None], helper[None])[0]
    u /= np.linalg.norm(u)
    return u, _cross(n[None], u[None])[0]


def _linear4(m3: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = m3
    return m


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross products of (n, 3) arrays (np.cross is several times slower)."""
    return np.stack(
        [a[:, i] * b[:, j] - a[:, j] * b[:, i] for i, j in ((1, 2), (2, 0), (0, 1))], axis=1
    )
