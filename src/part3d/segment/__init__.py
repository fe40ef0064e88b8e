"""Part segmentation: ``segment(scene, options) -> Segmentation``.

Parts the file already has are kept: separate meshes stay separate parts, and within a mesh
each connected component (after welding coincident vertices) is a part of its own unless it is
tiny. Within one connected surface, parts are found from geometry (``spectral``): boundaries
follow concave creases and necks. Labels are per face, with the face ids of
``part3d.model`` (a polygon's index in its mesh, in file order), and identical input and
options give identical labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from part3d.model import Mesh, Scene
from part3d.segment.graph import concave_crease, convex_bend, face_graph, triangle_frames, weld
from part3d.segment.spectral import polygon_graph, segment_polygons

__all__ = ["SegmentOptions", "Segmentation", "rank_by_area", "segment", "segment_mesh"]


@dataclass(frozen=True)
class SegmentOptions:
    """How to segment. ``parts`` None finds the part count automatically; an integer asks for
    that many parts per mesh (fewer when the mesh has fewer faces). ``seed`` makes the random
    choices (patch seeds, k-means) repeatable."""

    parts: int | None = None
    seed: int = 0
    patches: int = 2000
    eigenvectors: int = 16
    oversegment: int = 30
    merge_threshold: float = 1.1
    boundary_crease_weight: float = 8.0
    convex_merge: float = 6.0
    barrier: float = 30.0
    min_part_area: float = 0.01
    crease_floor: float = 0.05
    #: Meshes with more faces are segmented through a simplified copy (fast-simplification),
    #: and every original face takes the label of the nearest simplified face.
    max_faces: int = 100_000


@dataclass
class Segmentation:
    """``labels[i]`` (p_i,) int32: the part of each face of ``scene.meshes[i]``; parts are
    numbered 0..k_i-1 per mesh, largest surface area first."""

    labels: list[np.ndarray] = field(default_factory=list)

    @property
    def part_counts(self) -> list[int]:
        return [int(lab.max()) + 1 if len(lab) else 0 for lab in self.labels]


def segment(scene: Scene, options: SegmentOptions | None = None) -> Segmentation:
    """A part label for every face of every mesh of ``scene``."""
    options = options or SegmentOptions()
    return Segmentation([segment_mesh(mesh, options) for mesh in scene.meshes])


def segment_mesh(mesh: Mesh, options: SegmentOptions) -> np.ndarray:
    """(p,) int32 part label per face of one mesh, parts ordered by decreasing area."""
    p = mesh.polygon_count
    if p == 0:
        return np.zeros(0, dtype=np.int32)
    if len(mesh.tri_face) > options.max_faces:
        return _segment_simplified(mesh, options)
    return _segment_full(mesh, options)


def _segment_full(mesh: Mesh, options: SegmentOptions) -> np.ndarray:
    p = mesh.polygon_count
    triangles = mesh.triangles
    tri_face = mesh.tri_face.astype(np.int64)
    normals, tri_area, centroids = triangle_frames(mesh.vertices, triangles)
    welded, positions = weld(mesh.vertices, triangles)
    graph = face_graph(welded)
    graph.set_lengths(positions)
    # Orient outward: concavity is judged along the normals.
    if float(np.einsum("ij,ij->", centroids, normals * tri_area[:, None])) < 0:
        normals = -normals
    crease = concave_crease(graph, normals, centroids, floor=options.crease_floor)
    convex = convex_bend(graph, normals, centroids)
    pairs, length, (pcrease, pconvex) = polygon_graph(
        tri_face, p, graph.pairs, graph.edge_length, crease, convex
    )

    area = np.bincount(tri_face, weights=tri_area, minlength=p)
    has_area = area > 0
    weight = np.where(has_area, area, 1.0)
    pcent = (
        np.stack(
            [
                np.bincount(tri_face, weights=centroids[:, i] * tri_area, minlength=p)
                for i in range(3)
            ],
            axis=1,
        )
        / weight[:, None]
    )
    pnorm = np.stack(
        [np.bincount(tri_face, weights=normals[:, i] * tri_area, minlength=p) for i in range(3)],
        axis=1,
    )
    # Faces without area (points, lines, degenerate polygons) take their nearest neighbour's
    # part afterwards; segment the rest.
    live = np.flatnonzero(has_area)
    labels = np.zeros(p, dtype=np.int64)
    if len(live):
        remap = np.full(p, -1, dtype=np.int64)
        remap[live] = np.arange(len(live))
        keep = has_area[pairs[:, 0]] & has_area[pairs[:, 1]]
        sub_pairs = remap[pairs[keep]]
        sub = segment_polygons(
            area[live],
            pnorm[live],
            pcent[live],
            sub_pairs,
            length[keep],
            pcrease[keep],
            pconvex[keep],
            parts=options.parts,
            seed=options.seed,
            patches=options.patches,
            eigenvectors=options.eigenvectors,
            oversegment=options.oversegment,
            merge_threshold=options.merge_threshold,
            boundary_crease_weight=options.boundary_crease_weight,
            convex_merge=options.convex_merge,
            barrier=options.barrier,
            min_part_area=options.min_part_area,
        )
        labels[live] = sub
        sub = _absorb_tiny_components(sub, area[live], pcent[live], options.min_part_area)
        labels[live] = sub
    dead = np.flatnonzero(~has_area)
    if len(dead):
        corner_centroid = _polygon_vertex_means(mesh)[dead]
        if len(live):
            _, nearest = cKDTree(pcent[live]).query(corner_centroid)
            labels[dead] = labels[live][nearest]
    return rank_by_area(labels, area)


def _segment_simplified(mesh: Mesh, options: SegmentOptions) -> np.ndarray:
    """Segment a simplified copy of a big mesh and carry the labels back to every face."""
    import fast_simplification

    welded, positions = weld(mesh.vertices, mesh.triangles)
    points, faces = fast_simplification.simplify(
        positions.astype(np.float64), welded.astype(np.int64), target_count=options.max_faces
    )
    small = Mesh(
        name=mesh.name,
        vertices=np.asarray(points, dtype=np.float64),
        corners=np.asarray(faces, dtype=np.int32).reshape(-1),
        offsets=np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int32),
        tri_corners=np.arange(3 * len(faces), dtype=np.int32).reshape(-1, 3),
        tri_face=np.arange(len(faces), dtype=np.int32),
        face_material=np.zeros(len(faces), dtype=np.int32),
    )
    small_labels = _segment_full(small, options)
    small_centroids = small.vertices[small.triangles].mean(axis=1)
    centroids = _polygon_vertex_means(mesh)
    _, nearest = cKDTree(small_centroids).query(centroids, workers=-1)
    return rank_by_area(small_labels[nearest], mesh.polygon_areas())


def _absorb_tiny_components(
    labels: np.ndarray, area: np.ndarray, centroids: np.ndarray, min_area: float
) -> np.ndarray:
    """Segments under ``min_area`` of the mesh that are still separate (disconnected pieces)
    join the segment of the nearest polygon outside them."""
    total = area.sum()
    if total <= 0:
        return labels
    seg_area = np.bincount(labels, weights=area) / total
    present = np.bincount(labels) > 0
    tiny = present & (seg_area < min_area)
    if not tiny.any() or not (present & ~tiny).any():
        return labels
    big_faces = np.flatnonzero(~tiny[labels])
    tree = cKDTree(centroids[big_faces])
    out = labels.copy()
    for s in np.flatnonzero(tiny):
        faces = np.flatnonzero(labels == s)
        _, idx = tree.query(centroids[faces])
        counts = np.bincount(labels[big_faces[idx]])
        out[faces] = int(np.argmax(counts))
    return out


def _polygon_vertex_means(mesh: Mesh) -> np.ndarray:
    sizes = mesh.polygon_sizes
    face = mesh.corner_face
    pts = mesh.vertices[mesh.corners]
    sums = np.stack(
        [np.bincount(face, weights=pts[:, i], minlength=len(sizes)) for i in range(3)], 1
    )
    return sums / np.maximum(sizes, 1)[:, None]


def rank_by_area(labels: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(p,) int32: ``labels`` (any integers) renumbered 0..k-1 by decreasing total ``area``
    (p,), ties broken by the lowest face id."""
    uniq, inverse = np.unique(labels, return_inverse=True)
    seg_area = np.bincount(inverse, weights=area, minlength=len(uniq))
    first = np.full(len(uniq), len(labels))
    np.minimum.at(first, inverse, np.arange(len(labels)))
    order = np.lexsort((first, -seg_area))
    rank = np.empty(len(uniq), dtype=np.int32)
    rank[order] = np.arange(len(uniq), dtype=np.int32)
    return rank[inverse]
