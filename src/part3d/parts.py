"""From a segmentation to parts: ``split(scene, segmentation) -> Scene`` and the
PartSegmentationInfo JSON (out and in).

Part names are ``<MeshName>_part_<n>``, n from 1 within each mesh, ordered by surface area
(largest first). Each part is one mesh carrying its faces' original normals and UVs, and one
material named after the part, in the part's colour (keeping the texture of the material most
of its faces used). Colours come from a fixed palette of clearly distinguishable colours,
assigned across the whole scene so that no two parts share one while the palette lasts.
"""

from __future__ import annotations

import colorsys
import json
import re
from dataclasses import replace
from itertools import pairwise

import numpy as np

from part3d.errors import Part3DError, SegmentationInfoError
from part3d.model import Material, Mesh, Scene
from part3d.segment import Segmentation, rank_by_area
from part3d.segment.graph import compact, one_key

#: Distinct colours (after Kelly's and Tableau's palettes), light enough for shading.
PALETTE = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4", "#F032E6", "#BFEF45",
    "#FABED4", "#469990", "#DCBEFF", "#9A6324", "#FFE119", "#800000", "#AAFFC3", "#808000",
    "#FFD8B1", "#000075", "#A9A9A9", "#FF7F0E",
)  # fmt: skip


def part_color(index: int) -> str:
    """The colour of the ``index``-th part of a scene (0-based): the palette, then hues spaced
    by the golden ratio."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.9)
    return "#{:02X}{:02X}{:02X}".format(*(round(c * 255) for c in (r, g, b)))


def hex_to_rgba(color: str) -> tuple[float, float, float, float]:
    return (int(color[1:3], 16) / 255, int(color[3:5], 16) / 255, int(color[5:7], 16) / 255, 1.0)


def part_order(mesh: Mesh, labels: np.ndarray) -> list[np.ndarray]:
    """The face ids of each part of ``mesh``, largest surface area first (ties: lowest face)."""
    if len(labels) != mesh.polygon_count:
        raise Part3DError(
            f"mesh {mesh.name!r}: {len(labels)} labels for {mesh.polygon_count} faces"
        )
    rank = rank_by_area(labels, mesh.polygon_areas())
    groups = np.argsort(rank, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(rank))])
    return [groups[bounds[r] : bounds[r + 1]] for r in range(len(bounds) - 1)]


def part_names(scene: Scene, segmentation: Segmentation) -> list[list[str]]:
    return [
        [f"{mesh.name}_part_{n}" for n in range(1, len(set(labels.tolist())) + 1)]
        for mesh, labels in zip(scene.meshes, segmentation.labels, strict=True)
    ]


def sub_mesh(mesh: Mesh, faces: np.ndarray, name: str) -> Mesh:
    """The faces ``faces`` (ascending ids) of ``mesh`` as a mesh of their own; face ``faces[i]``
    becomes face ``i``."""
    sizes = mesh.polygon_sizes[faces]
    offsets = np.zeros(len(faces) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    starts = mesh.offsets[faces]
    corner_ids = np.repeat(starts - offsets[:-1], sizes) + np.arange(offsets[-1])
    old_vertices = mesh.corners[corner_ids]
    used, corners = compact(old_vertices, len(mesh.vertices))
    corner_map = np.full(len(mesh.corners), -1, dtype=np.int64)
    corner_map[corner_ids] = np.arange(len(corner_ids))
    face_map = np.full(mesh.polygon_count, -1, dtype=np.int64)
    face_map[faces] = np.arange(len(faces))
    keep = face_map[mesh.tri_face] >= 0
    normal_values, normal_index = _layer(mesh.normal_values, mesh.normal_index, corner_ids)
    uv_values, uv_index = _layer(mesh.uv_values, mesh.uv_index, corner_ids)
    return Mesh(
        name=name,
        vertices=mesh.vertices[used],
        corners=corners.astype(np.int32),
        offsets=offsets,
        tri_corners=corner_map[mesh.tri_corners[keep]].astype(np.int32),
        tri_face=face_map[mesh.tri_face[keep]].astype(np.int32),
        face_material=mesh.face_material[faces],
        normal_values=normal_values,
        normal_index=normal_index,
        uv_values=uv_values,
        uv_index=uv_index,
        uv_set_names=list(mesh.uv_set_names),
        materials=list(mesh.materials),
        transform=mesh.transform,
        parent=mesh.parent,
    )


def _layer(values, index, corner_ids):
    """A per-corner layer (normals, UVs) for the corners ``corner_ids``: only the values they
    use, re-indexed (a part carries none of the rest of its mesh's values)."""
    if values is None:
        return None, None
    if index is None:
        return values[corner_ids], None
    used, new_index = compact(index[corner_ids], len(values))
    return values[used], new_index.astype(np.int32)


#: How parts look in the model files: ``auto`` keeps the input's materials where a mesh has
#: any and paints the others in the palette; ``original``; ``palette`` paints every part.
COLORS = ("auto", "original", "palette")


def split(
    scene: Scene, segmentation: Segmentation, close: bool = False, colors: str = "auto"
) -> Scene:
    """A scene with one mesh per part (see the module docstring). ``close``: cap every opening
    the cut made (``caps``), with a material ``<part>_cap``; the part's own faces come first,
    in the order of their input face ids. ``colors``: see ``COLORS``."""
    if colors not in COLORS:
        raise Part3DError(f"unknown colours {colors!r} (choose from {', '.join(COLORS)})")
    if len(segmentation.labels) != len(scene.meshes):
        raise Part3DError(
            f"segmentation has labels for {len(segmentation.labels)} meshes, "
            f"the scene has {len(scene.meshes)}"
        )
    out = Scene(
        unit_meters=scene.unit_meters,
        axes=scene.axes,
        format=scene.format,
        version=scene.version,
        creator=scene.creator,
        source=scene.source,
    )
    index = 0
    for mesh, labels in zip(scene.meshes, segmentation.labels, strict=True):
        order = part_order(mesh, labels)
        closer = None
        if close and len(order) > 1:
            face_part = np.empty(mesh.polygon_count, dtype=np.int64)
            for n, faces in enumerate(order):
                face_part[faces] = n
            closer = _Closer(mesh, face_part)
        for n, faces in enumerate(order, 1):
            name = f"{mesh.name}_part_{n}"
            part = sub_mesh(mesh, faces, name)
            part.parent = mesh.name  # FBX and GLB group the parts under their mesh's name
            color = hex_to_rgba(part_color(index))
            if mesh.materials and colors != "palette":
                # The input's materials that the part's faces use, in their order.
                used, face_material = np.unique(
                    np.clip(part.face_material, 0, len(mesh.materials) - 1), return_inverse=True
                )
                part.materials = [mesh.materials[i] for i in used.tolist()]
                part.face_material = face_material.astype(np.int32)
            else:
                part.materials = [Material(name, color)]
                part.face_material = np.zeros(part.polygon_count, dtype=np.int32)
            if closer is not None:
                cap_color = (color[0] * 0.7, color[1] * 0.7, color[2] * 0.7, 1.0)
                part = closer.close(part, n - 1, Material(f"{name}_cap", cap_color))
            out.meshes.append(part)
            index += 1
    return out


def painted(parts: Scene) -> Scene:
    """The scene of parts with every part in its palette colour (one material per part, in
    the order ``split`` made them) and without its caps: what the preview shows, whatever the
    model files keep. (Caps lie inside a closed model; on an open one, a garment, they would
    hide the parts behind them.)"""
    meshes = []
    for i, mesh in enumerate(parts.meshes):
        cap = [k for k, m in enumerate(mesh.materials) if m.name == f"{mesh.name}_cap"]
        if cap:
            # Only the triangles are drawn: the part's own ones, as a mesh of triangles over
            # the same vertices (far cheaper than cutting out the polygons, sub_mesh).
            own = mesh.triangles[~np.isin(mesh.face_material[mesh.tri_face], cap)]
            t = len(own)
            mesh = replace(
                mesh,
                corners=own.ravel().astype(np.int32),
                offsets=np.arange(0, 3 * t + 1, 3, dtype=np.int32),
                tri_corners=np.arange(3 * t, dtype=np.int32).reshape(t, 3),
                tri_face=np.arange(t, dtype=np.int32),
                normal_values=None,
                normal_index=None,
                uv_values=None,
                uv_index=None,
            )
        meshes.append(
            replace(
                mesh,
                materials=[Material(mesh.name, hex_to_rgba(part_color(i)))],
                face_material=np.zeros(mesh.polygon_count, dtype=np.int32),
            )
        )
    return replace(parts, meshes=meshes)


class _Closer:
    """Caps the cut openings of the parts of one mesh; a loop's cap is made once and shared
    by the parts on either side of it (so their volumes add up). ``face_part`` (p,) is the
    part of each face."""

    def __init__(self, mesh: Mesh, face_part: np.ndarray) -> None:
        import scipy.sparse as sp

        from part3d.segment.graph import weld

        self.mesh = mesh
        self.welded_tris, self.positions = weld(mesh.vertices, mesh.triangles)
        self.m = m = len(self.positions)
        self.tri_part = face_part[mesh.tri_face]
        t = self.welded_tris.astype(np.int64)
        directed = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        owner = np.tile(self.tri_part, 3)
        ok = directed[:, 0] != directed[:, 1]
        directed, owner = directed[ok], owner[ok]
        lo, hi = directed[:, 0], directed[:, 1]
        keys = np.minimum(lo, hi) * m + np.maximum(lo, hi)
        # A cut edge: shared by two or more faces of the mesh, but by one face of its part.
        both = one_key(keys, owner)
        order = np.lexsort((owner, keys)) if both is None else np.argsort(both, kind="stable")
        k, o = keys[order], owner[order]
        group = np.concatenate([[True], k[1:] != k[:-1]])
        run = group | np.concatenate([[True], o[1:] != o[:-1]])
        group_size = np.diff(np.append(np.flatnonzero(group), len(k)))
        run_size = np.diff(np.append(np.flatnonzero(run), len(k)))
        in_group = group_size[np.cumsum(group) - 1]
        in_run = run_size[np.cumsum(run) - 1]
        is_cut = (in_group >= 2) & (in_run == 1)
        # The part across each cut edge: another owner of the same edge.
        starts = np.flatnonzero(group)
        gid = np.cumsum(group) - 1
        first, last = o[starts][gid], o[np.append(starts[1:], len(k)) - 1][gid]
        across = np.where(o == first, last, first)[is_cut]
        cut = order[is_cut]
        by_part = np.argsort(owner[cut], kind="stable")
        self.cut_edges, self.cut_owner = directed[cut[by_part]], owner[cut[by_part]]
        self.cut_across = across[by_part]
        edge = self.positions[self.cut_edges[:, 0]] - self.positions[self.cut_edges[:, 1]]
        self.spacing = float(np.median(np.linalg.norm(edge, axis=1))) if len(edge) else 0.0
        # Where three parts meet, the interfaces between them share a line through the solid
        # from one junction to the other: its points, ids m, m+1, ... (``lines``, by junction).
        self.lines: dict[tuple[int, int], np.ndarray] = {}
        self.line_points = np.zeros((0, 3))
        # Which welded vertices the mesh's edges join (for the chords a cap must avoid).
        und = k[group]  # the sorted keys, once each
        a, b = und // m, und % m
        self.adjacency = sp.csr_matrix(
            (
                np.ones(2 * len(und), dtype=np.int8),
                (np.concatenate([a, b]), np.concatenate([b, a])),
            ),
            shape=(m, m),
        )
        self.caps: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _chords(self, loop: np.ndarray) -> np.ndarray:
        """(c, 2) positions in ``loop`` of pairs of its vertices joined by an edge of the mesh
        that is not an edge of the loop: a cap must not use them (they are faces' edges)."""
        n = len(loop)
        if n <= 3:
            return np.zeros((0, 2), dtype=np.int64)
        welded = np.flatnonzero(loop < self.m)  # a junction line's points join nothing
        sub = self.adjacency[loop[welded]][:, loop[welded]].tocoo()
        pos = np.stack([welded[sub.row], welded[sub.col]], axis=1).astype(np.int64)
        pos = pos[pos[:, 0] < pos[:, 1]]
        gap = pos[:, 1] - pos[:, 0]
        return np.unique(pos[(gap != 1) & (gap != n - 1)], axis=0)

    def _line(self, a: int, b: int) -> np.ndarray:
        """Ids of the points of the junction line from welded vertex ``a`` to ``b`` (ends
        excluded; at least one point), made once per pair of junctions."""
        key = (min(a, b), max(a, b))
        if key not in self.lines:
            pa, pb = self._position(np.array(key))
            length = float(np.linalg.norm(pb - pa))
            n = int(np.clip(round(length / max(self.spacing, 1e-300)) - 1, 1, 200))
            t = np.arange(1, n + 1)[:, None] / (n + 1)
            start = self.m + len(self.line_points)
            self.line_points = np.concatenate([self.line_points, pa + t * (pb - pa)])
            self.lines[key] = start + np.arange(n)
        ids = self.lines[key]
        return ids if a == key[0] else ids[::-1]

    def _interfaces(self, loop: np.ndarray, across: dict[tuple[int, int], int]) -> list:
        """The openings to cap for one cut loop of a part (welded ids, cap orientation): the
        loop itself when one part lies across all of it; else one interface per part across,
        closed by the junction line between its two ends. The parts across close their
        interfaces the same way, so each interface is capped once for both of its sides and
        the volumes add up. Where the loop borders three or more parts, the junction lines
        also close a polygon of their own (this part's only: the volumes then add up to
        within its small volume)."""
        nxt = np.roll(loop, -1)
        who = np.array([across.get((int(b), int(a)), -1) for a, b in zip(loop, nxt, strict=True)])
        change = np.flatnonzero(who != np.roll(who, 1))
        if len(change) < 2:
            return [loop]
        loop = np.roll(loop, -change[0])
        change = np.append(change - change[0], len(loop))
        runs = [np.append(loop[lo:hi], loop[hi % len(loop)]) for lo, hi in pairwise(change)]
        out = [np.concatenate([r, self._line(int(r[-1]), int(r[0]))]) for r in runs]
        if len(runs) > 2:
            out.append(
                np.concatenate([[int(r[0]), *self._line(int(r[0]), int(r[-1]))] for r in runs])
            )
        return out

    def _position(self, ids: np.ndarray) -> np.ndarray:
        """(n, 3) positions of welded vertices (ids below m) and junction-line points."""
        welded = ids < self.m
        out = np.empty((len(ids), 3))
        out[welded] = self.positions[ids[welded]]
        out[~welded] = self.line_points[ids[~welded] - self.m]
        return out

    def close(self, part: Mesh, index: int, material: Material) -> Mesh:
        from part3d.caps import canonical, cut_loops, make_cap

        lo, hi = np.searchsorted(self.cut_owner, [index, index + 1])
        loops = cut_loops(self.cut_edges[lo:hi])
        if not loops:
            return part
        across = {
            (int(a), int(b)): int(c)
            for (a, b), c in zip(
                self.cut_edges[lo:hi].tolist(), self.cut_across[lo:hi].tolist(), strict=True
            )
        }
        openings = [face for loop in loops for face in self._interfaces(loop, across)]
        part_welded = self.welded_tris[self.tri_part == index]
        vertex_of = np.full(self.m, -1, dtype=np.int64)
        vertex_of[part_welded.ravel()] = part.triangles.ravel()
        # Caps over welded ids (below m), junction-line ids (from m) and, after those, their
        # interior points.
        new_points, cap_tris = [], []
        lines = len(self.line_points)
        next_id = self.m + lines
        for opening in openings:
            canon, turned = canonical(opening)
            key = canon.tobytes()
            if key not in self.caps:
                self.caps[key] = make_cap(self._position(canon), self._chords(canon))
            points, tris, _ = self.caps[key]
            ids = np.concatenate([canon, next_id + np.arange(len(points))])
            tris = ids[tris]
            cap_tris.append(tris[:, ::-1] if turned else tris)
            new_points.append(points)
            next_id += len(points)
        points = np.concatenate([self.line_points[:lines], *new_points])
        caps = np.concatenate(cap_tris)
        points, caps = _split_shared_edges(part_welded, caps, self.positions, points, self.m)
        # Only the points the caps use (junction lines of other parts are not this part's),
        # back to the part's vertex indices.
        used = np.unique(caps[caps >= self.m]) - self.m
        local = np.full(len(points), -1, dtype=np.int64)
        local[used] = np.arange(len(used))
        ids = np.concatenate([vertex_of, len(part.vertices) + local])
        return _with_caps(part, points[used], ids[caps], material)


def _split_shared_edges(
    faces: np.ndarray, caps: np.ndarray, positions: np.ndarray, points: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where a cap edge is used by more than two triangles of the closed part (two caps that
    touch at a pinch, a cap chord along a face's edge), split it in the cap: a new point just
    inside the cap, four triangles for the two. Ids below ``m`` are welded vertices
    (``positions``), from ``m`` on the caps' ``points``."""

    def edge_keys(tris: np.ndarray) -> np.ndarray:
        e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]).astype(np.int64)
        return e.min(axis=1) * (1 << 31) + e.max(axis=1)

    # Edges of the part's own faces, counted once.
    face_keys, face_counts = np.unique(edge_keys(faces), return_counts=True)
    for _ in range(8):
        cap_keys = edge_keys(caps)
        # Only edges a cap uses can be crowded by a cap.
        uniq, counts = np.unique(cap_keys, return_counts=True)
        where_face = np.searchsorted(face_keys, uniq).clip(0, max(len(face_keys) - 1, 0))
        found = (face_keys[where_face] == uniq) if len(face_keys) else np.zeros(len(uniq), bool)
        counts = counts + np.where(found, face_counts[where_face], 0)
        crowded = {(int(k >> 31), int(k & ((1 << 31) - 1))) for k in uniq[counts > 2].tolist()}
        if not crowded:
            break
        cap_edges = np.concatenate([caps[:, [0, 1]], caps[:, [1, 2]], caps[:, [2, 0]]])
        owner = np.tile(np.arange(len(caps)), 3)
        where: dict[tuple[int, int], list[int]] = {}
        for (a, b), t in zip(cap_edges.tolist(), owner.tolist(), strict=True):
            if (min(a, b), max(a, b)) in crowded:
                where.setdefault((a, b), []).append(t)
        done: set[int] = set()
        add_points, add_tris, drop = [], [], []
        for (a, c), ts in where.items():
            back = where.get((c, a), [])
            pair = next(((t, u) for t in ts for u in back if t not in done and u not in done), None)
            if pair is None:
                continue
            t, u = pair
            p = next(x for x in caps[t].tolist() if x not in (a, c))
            q = next(x for x in caps[u].tolist() if x not in (a, c))

            pa, pc, pp, pq = (positions[i] if i < m else points[i - m] for i in (a, c, p, q))
            mid = 0.5 * (pa + pc)
            new = m + len(points) + len(add_points)
            add_points.append(mid + 0.2 * (0.5 * (pp + pq) - mid))
            # t runs a -> c (then p), u runs c -> a (then q): orientation kept.
            add_tris += [(a, new, p), (new, c, p), (c, new, q), (new, a, q)]
            drop += [t, u]
            done.update((t, u))
        if not drop:
            break
        keep = np.ones(len(caps), dtype=bool)
        keep[drop] = False
        caps = np.concatenate([caps[keep], np.asarray(add_tris, dtype=caps.dtype)])
        points = np.concatenate([points, np.asarray(add_points)])
    return points, caps


def _with_caps(part: Mesh, points: np.ndarray, tris: np.ndarray, material: Material) -> Mesh:
    """``part`` with ``points`` appended and the triangles ``tris`` (over its vertices and
    the new points) appended as faces of a new material."""
    vertices = np.concatenate([part.vertices, points])
    t = len(tris)
    corners = np.concatenate([part.corners, tris.ravel().astype(np.int32)])
    first = len(part.corners)
    offsets = np.concatenate([part.offsets, first + 3 * np.arange(1, t + 1)]).astype(np.int32)
    tri_corners = np.concatenate(
        [part.tri_corners, (first + np.arange(3 * t)).reshape(t, 3)]
    ).astype(np.int32)
    tri_face = np.concatenate([part.tri_face, part.polygon_count + np.arange(t)]).astype(np.int32)
    face_material = np.concatenate(
        [part.face_material, np.full(t, len(part.materials), dtype=np.int32)]
    )
    # Normals: the cap's smooth vertex normals; UVs: none of the texture (the cap's corner).
    normal_values, normal_index = part.normal_values, part.normal_index
    if normal_values is not None:
        cap_normals = _vertex_normals(vertices, tris)[tris.ravel()]
        normal_values, normal_index = _append_layer(normal_values, normal_index, cap_normals)
    uv_values, uv_index = part.uv_values, part.uv_index
    if uv_values is not None:
        cap_uvs = np.zeros((3 * t, uv_values.shape[1]), dtype=uv_values.dtype)
        uv_values, uv_index = _append_layer(uv_values, uv_index, cap_uvs)
    return replace(
        part,
        vertices=vertices,
        corners=corners,
        offsets=offsets,
        tri_corners=tri_corners,
        tri_face=tri_face,
        face_material=face_material,
        normal_values=normal_values,
        normal_index=normal_index,
        uv_values=uv_values,
        uv_index=uv_index,
        materials=[*part.materials, material],
    )


def _append_layer(values, index, per_corner):
    per_corner = per_corner.astype(values.dtype)
    if index is None:
        return np.concatenate([values, per_corner]), None
    new_index = len(values) + np.arange(len(per_corner), dtype=np.int32)
    return np.concatenate([values, per_corner]), np.concatenate([index, new_index]).astype(np.int32)


def _vertex_normals(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    face = np.cross(
        vertices[tris[:, 1]] - vertices[tris[:, 0]], vertices[tris[:, 2]] - vertices[tris[:, 0]]
    )
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, tris[:, k], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(length > 0, length, 1.0)


def marked(scene: Scene, segmentation: Segmentation) -> Scene:
    """The input scene carrying the segmentation (staged generation, stage 1): every mesh kept
    whole with its faces in their order, and one material per part, named and coloured as the
    part (``<Mesh>_part_<n>``), so that a user can edit the parts in any 3D tool."""
    out = replace(scene, meshes=[])
    index = 0
    for mesh, labels in zip(scene.meshes, segmentation.labels, strict=True):
        face_material = np.zeros(mesh.polygon_count, dtype=np.int32)
        materials = []
        for n, faces in enumerate(part_order(mesh, labels), 1):
            face_material[faces] = n - 1
            materials.append(Material(f"{mesh.name}_part_{n}", hex_to_rgba(part_color(index))))
            index += 1
        out.meshes.append(replace(mesh, materials=materials, face_material=face_material))
    return out


def to_info(scene: Scene, segmentation: Segmentation) -> dict[str, dict]:
    """PartSegmentationInfo: ``{"<MeshName>_part_<n>": {"face_ids": [...], "color": "#RRGGBB"}}``
    with face ids of the input mesh, parts in the order (and colours) ``split`` gives them."""
    info: dict[str, dict] = {}
    index = 0
    for mesh, labels in zip(scene.meshes, segmentation.labels, strict=True):
        for n, faces in enumerate(part_order(mesh, labels), 1):
            info[f"{mesh.name}_part_{n}"] = {
                "face_ids": faces.tolist(),
                "color": part_color(index),
            }
            index += 1
    return info


def dumps_info(info: dict[str, dict]) -> str:
    return json.dumps(info, separators=(",", ":"))


_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: PartSegmentationInfo larger than this (JSON text) is refused.
MAX_INFO_BYTES = 64 * 1024 * 1024


def check_info(info: dict | str) -> dict:
    """PartSegmentationInfo (API.md §6.3), checked for what needs no model: a non-empty JSON
    object of part name -> ``{"face_ids": [int >= 0, ...], "color": "#RRGGBB"}`` (colour
    optional). One message names the part and the first offending value. Returns the dict.
    ``from_info`` checks the face ids against the model as well."""
    if isinstance(info, str | bytes):
        if len(info) > MAX_INFO_BYTES:
            raise SegmentationInfoError(f"PartSegmentationInfo is over {MAX_INFO_BYTES >> 20} MB")
        try:
            info = json.loads(info)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SegmentationInfoError(f"PartSegmentationInfo is not valid JSON ({exc})") from None
        except RecursionError:
            raise SegmentationInfoError("PartSegmentationInfo nests too deeply") from None
    if not isinstance(info, dict) or not info:
        raise SegmentationInfoError("PartSegmentationInfo must be a non-empty JSON object")
    for key, part in info.items():
        if not key:
            raise SegmentationInfoError("PartSegmentationInfo has an empty part name")
        if not isinstance(part, dict) or "face_ids" not in part:
            raise SegmentationInfoError(f"PartSegmentationInfo[{key!r}] has no face_ids")
        ids = part["face_ids"]
        if not isinstance(ids, list):
            raise SegmentationInfoError(
                f"PartSegmentationInfo[{key!r}].face_ids must be a list of integers"
            )
        bad = next(
            (i for i in ids if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < 2**31),
            None,
        )
        if bad is not None:
            raise SegmentationInfoError(
                f"PartSegmentationInfo[{key!r}]: face id {str(bad)[:24]!s} is not a face id "
                "(a non-negative integer below 2^31)"
            )
        color = part.get("color")
        if color is not None and (not isinstance(color, str) or not _COLOR.match(color)):
            raise SegmentationInfoError(
                f"PartSegmentationInfo[{key!r}]: color {color!r} is not #RRGGBB"
            )
    return info


def from_info(scene: Scene, info: dict | str) -> Segmentation:
    """A segmentation from PartSegmentationInfo (a dict or its JSON text).

    A key ``<MeshName>_part_<n>`` naming a mesh of ``scene`` refers to that mesh's face ids;
    any other key refers to global face ids (all meshes' faces numbered in file order). Each
    face may be listed once; faces no part lists join the neighbouring part with which they
    share the longest boundary (or stay a part of their own where they touch none).
    """
    info = check_info(info)
    counts = [m.polygon_count for m in scene.meshes]
    starts = np.concatenate([[0], np.cumsum(counts)])
    by_name = {m.name: i for i, m in enumerate(scene.meshes)}
    labels = [np.full(c, -1, dtype=np.int64) for c in counts]
    for part_id, (key, value) in enumerate(info.items()):
        ids = value["face_ids"]
        mesh_name = key.rsplit("_part_", 1)[0] if "_part_" in key else None
        ids_arr = np.asarray(ids, dtype=np.int64)
        if mesh_name in by_name:
            targets = [(by_name[mesh_name], ids_arr, ids)]
        else:
            if len(ids_arr) and (ids_arr.min() < 0 or ids_arr.max() >= starts[-1]):
                bad = next(i for i in ids if i < 0 or i >= starts[-1])
                raise SegmentationInfoError(
                    f"PartSegmentationInfo[{key!r}]: face id {bad} is out of range "
                    f"(the model has {int(starts[-1])} faces)"
                )
            which = np.searchsorted(starts, ids_arr, side="right") - 1
            targets = [(int(m), ids_arr[which == m] - starts[m], ids) for m in np.unique(which)]
        for m, local, raw in targets:
            if len(local) and (local.min() < 0 or local.max() >= counts[m]):
                bad = next(i for i in raw if i < 0 or i >= counts[m])
                raise SegmentationInfoError(
                    f"PartSegmentationInfo[{key!r}]: face id {bad} is out of range "
                    f"(mesh {scene.meshes[m].name!r} has {counts[m]} faces)"
                )
            taken = labels[m][local] >= 0
            if taken.any() or len(np.unique(local)) != len(local):
                dup = (
                    int(local[taken][0])
                    if taken.any()
                    else int(local[np.flatnonzero(np.diff(np.sort(local)) == 0)[0]])
                )
                raise SegmentationInfoError(
                    f"PartSegmentationInfo[{key!r}]: face {dup} of mesh "
                    f"{scene.meshes[m].name!r} is listed twice"
                )
            labels[m][local] = part_id
    filled = [_fill_unlisted(mesh, lab) for mesh, lab in zip(scene.meshes, labels, strict=True)]
    return Segmentation([np.unique(lab, return_inverse=True)[1].astype(np.int32) for lab in filled])


def _fill_unlisted(mesh: Mesh, labels: np.ndarray) -> np.ndarray:
    """Unlisted faces (-1) join the neighbouring part sharing the longest boundary with them,
    growing inwards from the listed faces; faces cut off from every part form one more part."""
    missing = labels < 0
    if not missing.any():
        return labels.astype(np.int32)
    from part3d.segment.graph import face_graph, weld

    welded, positions = weld(mesh.vertices, mesh.triangles)
    graph = face_graph(welded)
    graph.set_lengths(positions)
    fa = mesh.tri_face[graph.pairs[:, 0]]
    fb = mesh.tri_face[graph.pairs[:, 1]]
    cross = fa != fb
    fa, fb, length = fa[cross], fb[cross], graph.edge_length[cross]
    labels = labels.copy()
    while True:
        missing = labels < 0
        if not missing.any():
            break
        # Boundary between an unlisted face and a labelled one, per (face, label).
        la, lb = labels[fa], labels[fb]
        e1 = missing[fa] & (lb >= 0)
        e2 = missing[fb] & (la >= 0)
        faces = np.concatenate([fa[e1], fb[e2]])
        parts = np.concatenate([lb[e1], la[e2]])
        if len(faces) == 0:
            labels[missing] = labels.max() + 1 if (labels >= 0).any() else 0
            break
        weight = np.concatenate([length[e1], length[e2]])
        key = faces.astype(np.int64) * (int(labels.max()) + 2) + parts
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv, weights=weight)
        uf, up = uniq // (int(labels.max()) + 2), uniq % (int(labels.max()) + 2)
        order = np.lexsort((-total, uf))
        first = np.concatenate([[True], uf[order][1:] != uf[order][:-1]])
        labels[uf[order][first]] = up[order][first]
    return labels.astype(np.int32)


def merge_specks(scene: Scene, segmentation: Segmentation, fraction: float = 0.001) -> Segmentation:
    """Post-processing: every connected bit of a part smaller than ``fraction`` of the model's
    area (a floating speck, or a crumb cut off its part) joins the part of the nearest face
    that is not such a bit. A mesh keeps at least one part."""
    from part3d.segment.graph import components, face_graph, nearest_majority, weld

    total = sum(m.area() for m in scene.meshes) or 1.0
    labels = []
    for mesh, lab in zip(scene.meshes, segmentation.labels, strict=True):
        tri_face = mesh.tri_face
        if len(tri_face) == 0:
            labels.append(lab)
            continue
        welded, _ = weld(mesh.vertices, mesh.triangles)
        graph = face_graph(welded)
        tri_label = lab[tri_face]
        same = tri_label[graph.pairs[:, 0]] == tri_label[graph.pairs[:, 1]]
        graph.pairs = graph.pairs[same]
        n, comp = components(len(tri_face), graph)
        area = np.bincount(comp, weights=mesh.triangle_areas(), minlength=n)
        speck = area < fraction * total
        if speck.all() or not speck.any():
            labels.append(lab)
            continue
        centroids = mesh.vertices[mesh.triangles].mean(axis=1)
        keep = np.flatnonzero(~speck[comp])
        small = np.flatnonzero(speck[comp])
        # A whole speck goes to the part most of its triangles are nearest to.
        specks, dst = nearest_majority(centroids, small, keep, comp[small], tri_label[keep])
        part_of = np.zeros(n, dtype=np.int64)
        part_of[specks] = dst
        new_tri_label = tri_label.copy()
        new_tri_label[small] = part_of[comp[small]]
        out = lab.copy()
        out[tri_face] = new_tri_label
        labels.append(rank_by_area(out, mesh.polygon_areas()))
    return replace(segmentation, labels=labels)


def clean(scene: Scene) -> Scene:
    """Post-processing of a scene of parts: each part as triangles with coincident vertices
    welded, degenerate and duplicate triangles removed, the winding made consistent (and
    outward for closed parts), normals computed where it had none. Per-corner UVs and
    materials follow their triangles."""
    import trimesh

    from part3d.segment.graph import weld

    out = []
    for mesh in scene.meshes:
        welded, positions = weld(mesh.vertices, mesh.triangles)
        corners = mesh.tri_corners
        a, b, c = positions[welded[:, 0]], positions[welded[:, 1]], positions[welded[:, 2]]
        area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
        scale = float(np.ptp(positions, axis=0).max()) if len(positions) else 1.0
        ok = (
            (welded[:, 0] != welded[:, 1])
            & (welded[:, 1] != welded[:, 2])
            & (welded[:, 0] != welded[:, 2])
            & (area > (scale * 1e-9) ** 2)
        )
        keep = np.flatnonzero(ok)
        _, first = np.unique(np.sort(welded[keep], axis=1), axis=0, return_index=True)
        keep = keep[np.sort(first)]
        welded, corners = welded[keep], corners[keep]
        face_material = mesh.face_material[mesh.tri_face[keep]]
        tm = trimesh.Trimesh(positions, welded.copy(), process=False)
        trimesh.repair.fix_winding(tm)
        if tm.is_watertight:
            trimesh.repair.fix_inversion(tm)
        flipped = ~(tm.faces == welded).all(axis=1)
        welded = np.asarray(tm.faces)
        corners = np.where(flipped[:, None], corners[:, ::-1], corners)
        # Rebuild as a triangle mesh over the welded positions.
        t = len(welded)
        flat = corners.reshape(-1)
        normal_values, normal_index = _layer(mesh.normal_values, mesh.normal_index, flat)
        if normal_values is None:
            # One normal per vertex, picked by each corner (written per vertex, compact).
            normal_values = np.asarray(tm.vertex_normals, dtype=np.float64)
            normal_index = welded.reshape(-1).astype(np.int32)
        uv_values, uv_index = _layer(mesh.uv_values, mesh.uv_index, flat)
        out.append(
            replace(
                mesh,
                vertices=positions,
                corners=welded.reshape(-1).astype(np.int32),
                offsets=(3 * np.arange(t + 1)).astype(np.int32),
                tri_corners=np.arange(3 * t, dtype=np.int32).reshape(t, 3),
                tri_face=np.arange(t, dtype=np.int32),
                face_material=face_material.astype(np.int32),
                normal_values=normal_values,
                normal_index=normal_index,
                uv_values=uv_values,
                uv_index=uv_index,
            )
        )
    return replace(scene, meshes=out)
