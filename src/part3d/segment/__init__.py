"""Part segmentation: ``segment(scene, options) -> Segmentation``.

One merge tree per model (``tree.MergeTree``). Its roots are the parts the file already has:
every mesh, and within a mesh every connected piece (after welding coincident vertices) that is
not a speck; specks join the nearest piece of their mesh. Each piece is reduced to a proxy of
bounded size on which the boundary evidence is measured at the model's scale
(``evidence``: concave curvature from smoothed normals, thickness), over-segmented into leaves
(``spectral``: crease-respecting patches, spectral embedding, k-means), and the leaves'
boundaries are moved onto creases by minimum cuts (``refine``). Leaves merge in order of
evidence (by default the learned probability that people cut there, ``learned``); the
cut undoes the merges above the granularity's level, or gives exactly ``parts`` parts for the
whole model.

Labels are per face, with the face ids of ``part3d.model`` (a polygon's index in its mesh, in
file order); identical input and options give identical labels.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial import cKDTree

from part3d.model import Mesh, Scene
from part3d.segment.evidence import build_proxy, diffuse_normals, thickness
from part3d.segment.graph import (
    FaceGraph,
    bridge_dead,
    compact,
    components,
    concave_bend,
    face_graph,
    island_targets,
    nearest_majority,
    triangle_frames,
    weld,
)
from part3d.segment.grooves import Grooves
from part3d.segment.learned import boundary_model
from part3d.segment.refine import (
    near_boundaries,
    refine_boundaries,
    refine_tree,
    smooth_boundaries,
)
from part3d.segment.spectral import (
    KMEANS_ITERATIONS,
    dust_components,
    kmeans_labels,
    make_patches,
    spectral_embedding,
    split_disconnected,
    symmetric,
)
from part3d.segment.tree import (
    CREASE,
    GRANULARITY,
    LEARNED_LEVEL,
    STAT_ABOVE,
    STAT_CONCAVE,
    STAT_CONCAVE2,
    STAT_CONVEX,
    STAT_CREASE,
    STAT_LENGTH,
    STAT_MID,
    STAT_THIN,
    STAT_WEAK,
    STATS,
    MergeTree,
    assemble,
    build_piece_merges,
)

log = logging.getLogger(__name__)

__all__ = [
    "GRANULARITY",
    "SegmentOptions",
    "Segmentation",
    "rank_by_area",
    "segment",
    "segment_mesh",
]


@dataclass(frozen=True)
class SegmentOptions:
    """How to segment.

    ``parts`` None cuts the merge tree where its evidence has the largest gap, within the
    bounds of ``granularity`` (coarse, balanced, fine); an integer asks for exactly that many
    parts for the whole model (at least one per mesh and piece). ``seed`` makes the random
    choices (patch seeds, k-means) repeatable."""

    parts: int | None = None
    granularity: str = "balanced"
    seed: int = 0
    #: Faces of the proxy of the whole model (each piece gets its share of the area).
    proxy_faces: int = 8000
    #: Leaves of the merge tree for the whole model (each piece its share of the area).
    leaves: int = 40
    patches: int = 1500
    eigenvectors: int = 16
    #: Radius of the normal smoothing, as a fraction of the model's diagonal.
    smoothing: float = 0.02
    #: Concavity counts above its average over this many smoothing radii (0: raw).
    background: float = 3.0
    #: Curvature (in 1/diagonal) that counts as one unit of crease.
    crease_scale: float = 10.0
    barrier: float = 30.0
    boundary_crease_weight: float = 3.0
    convex_merge: float = 2.0
    #: Multiplies the evidence levels of the granularities (above 1: fewer cuts).
    evidence_scale: float = 1.0
    thickness_weight: float = 10.0
    evidence: str = "learned"
    #: The learned boundary model (a LightGBM text file) for ``evidence="learned"``; empty:
    #: the one inside the package.
    boundary_model: str = ""
    #: How much a short boundary (a neck) raises the evidence of a cut.
    neck: float = 1.0
    #: Leaves smaller than this fraction of their piece merge first.
    min_part_area: float = 0.01
    #: Pieces smaller than this fraction of their mesh's largest piece join the nearest
    #: larger piece.
    min_piece_area: float = 0.01
    #: ... and pieces smaller than this fraction of the whole model's area.
    min_speck: float = 0.001
    #: Width of the band a boundary may move in, times sqrt(smaller segment area).
    band: float = 0.25
    #: The boundaries between parts (the merges above the fine level) are re-cut from the top
    #: of the tree down, each by a minimum cut in a band this many times the square root of
    #: its smaller side's area (``refine.refine_tree``): a boundary between two parts is drawn
    #: at their scale, not along the leaves it happened to follow (an edge costs its length
    #: discounted by its crease, down to ``TREE_FLOOR`` of it). 0: left as the leaves draw
    #: them.
    tree_band: float = 0.25
    #: On a decimated surface, each boundary is re-cut on the surface's own triangles within
    #: this many proxy edge lengths of where it was (0: boundaries follow the proxy's triangles).
    smooth: float = 2.0
    #: ... weighing concave folds of the surface's face normals averaged over this many proxy
    #: edge lengths (a scan's noise and sliver triangles would otherwise lure the cut into
    #: saw-teeth; 0: the raw normals).
    fold_radius: float = 2.0
    #: A boundary that is one of a series of parallel grooves (fins, flutes, threads) is
    #: texture: its evidence is damped (``grooves``). False: every groove is evidence.
    grooves: bool = True
    #: A boundary across a handle (a chain of two segments joined to the rest at both ends,
    #: a cup's or a bottle's handle cut at its waist) is weaker evidence: people keep a handle
    #: whole. False: no such damping.
    handles: bool = True


@dataclass
class Segmentation:
    """``labels[i]`` (p_i,) int32: the part of each face of ``scene.meshes[i]``; parts are
    numbered 0..k_i-1 per mesh, largest surface area first.

    ``tree`` and ``leaves`` (per mesh, the leaf of each face) let ``cut`` choose another
    number of parts without segmenting again. ``requested`` is the part count asked for
    (None: automatic); ``warning`` says why it could not be met."""

    labels: list[np.ndarray] = field(default_factory=list)
    tree: MergeTree | None = None
    leaves: list[np.ndarray] = field(default_factory=list)
    areas: list[np.ndarray] = field(default_factory=list)
    options: SegmentOptions = field(default_factory=SegmentOptions)
    requested: int | None = None
    warning: str | None = None

    @property
    def part_counts(self) -> list[int]:
        return [int(lab.max()) + 1 if len(lab) else 0 for lab in self.labels]

    @property
    def part_count(self) -> int:
        return sum(self.part_counts)

    def cut(self, parts: int | None = None, granularity: str | None = None) -> Segmentation:
        """The same tree cut for ``parts`` parts (or automatically at ``granularity``)."""
        if self.tree is None:
            raise ValueError("this segmentation has no merge tree to cut")
        options = replace(
            self.options, parts=parts, granularity=granularity or self.options.granularity
        )
        return _cut(self.tree, self.leaves, self.areas, options)


def segment(
    scene: Scene, options: SegmentOptions | None = None, _trace: list | None = None
) -> Segmentation:
    """A part label for every face of every mesh of ``scene``. (``_trace``, for training a
    boundary model: receives (first leaf id of the piece, the piece's boundaries considered).)"""
    options = options or SegmentOptions()
    if options.granularity not in GRANULARITY:
        raise ValueError(
            f"unknown granularity {options.granularity!r} (choose from {', '.join(GRANULARITY)})"
        )
    with _one_blas_thread():
        return _segment(scene, options, _trace)


def _segment(scene: Scene, options: SegmentOptions, _trace: list | None) -> Segmentation:
    rng = np.random.default_rng(options.seed)
    meshes = [_MeshData.of(mesh) for mesh in scene.meshes]
    points = [m.vertices for m in meshes if len(m.vertices)]
    if points:
        allp = np.concatenate(points)
        diagonal = math.hypot(*(allp.max(axis=0) - allp.min(axis=0)))
    else:
        diagonal = 1.0
    diagonal = diagonal if diagonal > 0 else 1.0
    total_area = sum(float(m.tri_area.sum()) for m in meshes) or 1.0
    leaves_total = max(options.leaves, (options.parts or 0) + 8)
    assembly = sum(1 for m in meshes if len(m.tri_area)) > 1

    next_leaf = 0
    roots = 0
    merges: list[tuple[int, int]] = []
    heights: list[float] = []
    leaf_of_face: list[np.ndarray] = []
    for m in meshes:
        tri_leaf = np.zeros(len(m.tri_area), dtype=np.int64)
        for piece in m.pieces(options.min_piece_area, options.min_speck * total_area):
            share = float(m.tri_area[piece].sum()) / total_area
            k = int(round(leaves_total * share))
            piece_trace: list | None = [] if _trace is not None else None
            local, piece_merges, piece_heights = _segment_piece(
                m, piece, k, share, diagonal, options, rng, assembly, piece_trace
            )
            if _trace is not None:
                _trace.append((next_leaf, piece_trace))
            tri_leaf[piece] = local + next_leaf
            merges.extend((a + next_leaf, b + next_leaf) for a, b in piece_merges)
            heights.extend(piece_heights)
            next_leaf += int(local.max()) + 1 if len(local) else 1
            roots += 1
        leaf_of_face.append(m.face_labels(tri_leaf))
    tree = assemble(next_leaf, roots, merges, heights)
    areas = [m.polygon_area for m in meshes]
    return _cut(tree, leaf_of_face, areas, options)


@functools.cache
def _blas():
    """threadpoolctl's view of the BLAS libraries loaded (numpy's and scipy's OpenBLAS), made
    on the first segmentation."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    """A context in which BLAS and LAPACK run on the calling thread alone. The segmentation's
    matrices are small (a proxy's 1,500 patches at most), and waking OpenBLAS's threads cost
    more than they saved: when the other cores were busy (a second worker, a second job),
    ARPACK's eigenvector step took up to 0.12 s instead of 1 ms, waiting for them. (Threads
    segmenting at once may leave the process at one BLAS thread, as the limit is global:
    slower elsewhere at most, with the same numbers.)"""
    return _blas().limit(limits=1, user_api="blas")


def segment_mesh(mesh: Mesh, options: SegmentOptions | None = None) -> np.ndarray:
    """(p,) part label per face of one mesh segmented on its own (``segment`` of a scene
    holding only ``mesh``)."""
    return segment(Scene([mesh]), options).labels[0]


def _cut(
    tree: MergeTree, leaves: list[np.ndarray], areas: list[np.ndarray], options: SegmentOptions
) -> Segmentation:
    warning = None
    if options.parts is not None:
        if options.parts < tree.roots:
            warning = (
                f"the model has {tree.roots} separate meshes and pieces, so it cannot have "
                f"fewer than {tree.roots} parts; made {tree.roots}"
            )
        elif options.parts > tree.max_parts:
            warning = (
                f"the model cannot be cut into more than {tree.max_parts} parts; "
                f"made {tree.max_parts}"
            )
        cuts = options.parts - tree.roots
    else:
        cuts = tree.auto_cuts(
            options.granularity, options.evidence_scale, options.evidence == "learned"
        )
    part_of_leaf = tree.labels(cuts)
    labels = [
        rank_by_area(part_of_leaf[leaf], area) if len(leaf) else np.zeros(0, dtype=np.int32)
        for leaf, area in zip(leaves, areas, strict=True)
    ]
    return Segmentation(labels, tree, leaves, areas, options, options.parts, warning)


def steady_positions(vertices: np.ndarray) -> np.ndarray:
    """``vertices`` rounded to single precision. A loaded model's positions differ in their
    last bits from one CPU to the next (trimesh and numpy compose and apply node transforms
    with BLAS, whose kernels depend on the CPU), and a symmetric CAD part's segmentation
    followed such bits: 2CylinderEngine's finned cylinder came out whole or in two by the
    BLAS kernel. Single-precision steps are 10^8 times coarser than those differences, so
    both round to the same numbers; positions that are single-precision numbers already
    (most files store them so) are unchanged. A model far from the origin for its size
    (more than ``FAR`` sizes) is rounded relative to a power-of-two grid point below it, so
    that it keeps seven digits of its own size."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if len(vertices) == 0 or not np.isfinite(vertices).all():
        return vertices
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    span = float((hi - lo).max())
    if span <= 0 or float(np.abs(np.concatenate([lo, hi])).max()) <= FAR * span:
        return vertices.astype(np.float32).astype(np.float64)
    step = 2.0 ** math.ceil(math.log2(span))
    origin = np.floor(lo / step) * step
    return origin + (vertices - origin).astype(np.float32).astype(np.float64)


#: How far from the origin, in sizes of the model, positions are still rounded to single
#: precision as they are (``steady_positions``): a thousandth of a percent of the size.
FAR = 256.0


@dataclass
class _MeshData:
    """One mesh's triangles, welded for connectivity, with areas and centroids."""

    mesh: Mesh
    vertices: np.ndarray
    welded: np.ndarray
    positions: np.ndarray
    tri_area: np.ndarray
    centroids: np.ndarray
    tri_face: np.ndarray
    polygon_area: np.ndarray
    #: The welded triangles' adjacency.
    graph: FaceGraph

    @classmethod
    def of(cls, mesh: Mesh) -> _MeshData:
        triangles = mesh.triangles
        tri_face = mesh.tri_face.astype(np.int64)
        vertices = steady_positions(mesh.vertices)
        _, tri_area, centroids = triangle_frames(vertices, triangles)
        welded, positions = weld(vertices, triangles)
        polygon_area = np.bincount(tri_face, weights=tri_area, minlength=mesh.polygon_count)
        return cls(
            mesh,
            vertices,
            welded,
            positions,
            tri_area,
            centroids,
            tri_face,
            polygon_area,
            face_graph(welded),
        )

    @functools.cached_property
    def live_graph(self) -> FaceGraph:
        """The adjacency of the triangles with an area, joined through runs of degenerate
        ones (``bridge_dead``)."""
        return bridge_dead(self.graph, self.tri_area <= 0)

    def flat_share(self, piece: np.ndarray) -> float:
        """The share of the edge length between triangles of ``piece`` that lies between
        coplanar ones (within ``FLAT_ANGLE``): a machined or modelled hard surface (flat faces
        meeting at sharp edges) holds much of its length so; a sculpted or scanned one
        little."""
        local = np.full(len(self.welded), -1, dtype=np.int64)
        local[piece] = np.arange(len(piece))
        a, b = local[self.graph.pairs[:, 0]], local[self.graph.pairs[:, 1]]
        keep = (a >= 0) & (b >= 0)
        if not keep.any():
            return 0.0
        a, b, ev = a[keep], b[keep], self.graph.edge_vertices[keep]
        n = triangle_frames(self.positions, self.welded[piece])[0]
        # Written out, not a BLAS dot product: the same bits on every CPU.
        cos = n[a, 0] * n[b, 0] + n[a, 1] * n[b, 1] + n[a, 2] * n[b, 2]
        length = np.linalg.norm(self.positions[ev[:, 0]] - self.positions[ev[:, 1]], axis=1)
        total = float(length.sum())
        return float(length[cos > math.cos(FLAT_ANGLE)].sum()) / total if total > 0 else 0.0

    def pieces(self, min_share: float, min_area: float) -> list[np.ndarray]:
        """Triangle ids of each connected piece; specks (under ``min_share`` of the largest
        piece's area, or under ``min_area``) join the nearest larger piece. Largest first."""
        t = len(self.welded)
        if t == 0:
            return []
        n, comp = components(t, self.graph)
        if n == 1:
            return [np.arange(t)]
        area = np.bincount(comp, weights=self.tri_area, minlength=n)
        # Against the largest piece, not the mesh: a mesh of 200 equal objects keeps them.
        big = (area >= min_share * float(area.max())) & (area >= min_area)
        big[int(np.argmax(area))] = True
        if not big.all():
            big_tris = np.flatnonzero(big[comp])
            small_tris = np.flatnonzero(~big[comp])
            # A whole speck goes to the piece most of its triangles are nearest to.
            specks, dst = nearest_majority(
                self.centroids, small_tris, big_tris, comp[small_tris], comp[big_tris]
            )
            remap = np.arange(n)
            remap[specks] = dst
            comp = remap[comp]
        groups = np.unique(comp, return_inverse=True)[1]
        garea = np.bincount(groups, weights=self.tri_area)
        order = np.lexsort((np.arange(len(garea)), -garea))
        return [np.flatnonzero(groups == g) for g in order]

    def face_labels(self, tri_label: np.ndarray) -> np.ndarray:
        """(p,) the label of each polygon's largest triangle; polygons without triangles
        (points, lines) take the label of the nearest polygon that has one."""
        p = self.mesh.polygon_count
        out = np.full(p, -1, dtype=np.int64)
        if len(tri_label):
            order = np.lexsort((self.tri_area, self.tri_face))
            out[self.tri_face[order]] = tri_label[order]  # the last write (largest) wins
        missing = np.flatnonzero(out < 0)
        if len(missing):
            have = np.flatnonzero(out >= 0)
            if len(have) == 0:
                return np.zeros(p, dtype=np.int64)
            means = _polygon_vertex_means(self.mesh, self.vertices)
            _, near = cKDTree(means[have]).query(means[missing])
            out[missing] = out[have[near]]
        return out


def _segment_piece(
    m: _MeshData,
    piece: np.ndarray,
    k: int,
    share: float,
    diagonal: float,
    options: SegmentOptions,
    rng: np.random.Generator,
    assembly: bool = False,
    trace: list | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]], list[float]]:
    """Leaves of one piece: (t_piece,) local leaf per triangle, and the piece's merges.
    ``assembly``: the model has several meshes."""
    live = piece[m.tri_area[piece] > 0]
    if k < 2 or len(live) < 8:
        return np.zeros(len(piece), dtype=np.int64), [], []
    used, faces = compact(m.welded[live], len(m.positions))
    budget = max(200, int(round(options.proxy_faces * share)))
    proxy, mapping = build_proxy(
        m.positions[used], faces, budget, diagonal, options.smoothing, options.background
    )
    q = len(proxy.faces)
    k = min(k, max(1, q // 20))
    if k < 2 or len(proxy.pairs) == 0:
        return np.zeros(len(piece), dtype=np.int64), [], []
    crease = proxy.concave / options.crease_scale
    convex = np.minimum(proxy.convex / options.crease_scale, 3.0)
    frac = proxy.area / proxy.area.sum()
    scale = np.sqrt(proxy.area.sum())
    strength = (
        (proxy.length / scale)
        * np.maximum(np.exp(-options.boundary_crease_weight * crease), 1e-3)
        * (1.0 + options.convex_merge * convex)
    )
    n_patches = max(k + 1, int(round(options.patches * min(1.0, share * 1.5))))
    patch = make_patches(
        q, frac, proxy.centroids / scale, proxy.pairs, crease, n_patches, rng, options.barrier
    )
    n_patch = int(patch.max()) + 1
    if n_patch <= k:
        leaf = patch
    else:
        pa, pb = patch[proxy.pairs[:, 0]], patch[proxy.pairs[:, 1]]
        cross = pa != pb
        w = symmetric(n_patch, np.stack([pa[cross], pb[cross]], axis=1), strength[cross])
        w.sum_duplicates()
        # Bits of the surface joined to it by no edge (through a vertex or a non-manifold
        # edge), each smaller than a leaf, are leaves of their own (``split_disconnected``
        # below) whatever their embedding: left out of it, they do not take the
        # eigenvectors that would tell the rest of the surface apart.
        keep = np.flatnonzero(~dust_components(w, n_patch / k))
        if len(keep) <= k:  # all dust (pieces joined at a vertex): embedded as they are
            keep = np.arange(n_patch)
        elif len(keep) < n_patch:
            w = w[keep][:, keep]
        emb = spectral_embedding(w, options.eigenvectors)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty cluster is fine: fewer leaves
            patch_label = np.full(n_patch, k, dtype=np.int64)  # dust: a label of its own
            patch_label[keep] = kmeans_labels(emb, k, rng, KMEANS_ITERATIONS)
        leaf = patch_label[patch]
    leaf = split_disconnected(leaf, proxy.pairs)
    cut_weight = proxy.length * np.exp(-options.boundary_crease_weight * crease)
    leaf = refine_boundaries(
        leaf, proxy.pairs, cut_weight, proxy.centroids, proxy.area, options.band
    )
    leaf = np.unique(leaf, return_inverse=True)[1]
    n_leaf = int(leaf.max()) + 1
    leaf_area = np.bincount(leaf, weights=frac, minlength=n_leaf)
    la, lb = leaf[proxy.pairs[:, 0]], leaf[proxy.pairs[:, 1]]
    cross = la != lb
    learned = options.evidence == "learned" or trace is not None
    if options.thickness_weight > 0 or learned:
        sdf = thickness(proxy, diagonal)
        leaf_thick = np.bincount(leaf, weights=sdf * frac, minlength=n_leaf) / np.maximum(
            leaf_area, 1e-300
        )
    else:
        sdf = np.ones(q)
        leaf_thick = np.ones(n_leaf)
    length = proxy.length[cross]
    conc = proxy.concave[cross]
    stats = np.zeros((int(cross.sum()), STATS))
    stats[:, STAT_LENGTH] = length
    stats[:, STAT_CONCAVE] = length * conc
    stats[:, STAT_WEAK] = cut_weight[cross]
    stats[:, STAT_ABOVE] = length * proxy.above[cross]
    stats[:, STAT_CONCAVE2] = length * conc**2
    stats[:, STAT_CREASE] = length * (conc > CREASE)
    stats[:, STAT_CONVEX] = length * proxy.convex[cross]
    pc = proxy.pairs[cross]
    stats[:, STAT_THIN] = length * np.minimum(sdf[pc[:, 0]], sdf[pc[:, 1]])
    middle = 0.5 * (proxy.centroids[pc[:, 0]] + proxy.centroids[pc[:, 1]])
    stats[:, STAT_MID : STAT_MID + 3] = length[:, None] * middle
    leaf_normal = np.stack(
        [np.bincount(leaf, weights=proxy.normals[:, i] * frac, minlength=n_leaf) for i in range(3)],
        axis=1,
    )
    merges, heights = build_piece_merges(
        leaf_area,
        np.stack([la[cross], lb[cross]], axis=1),
        stats,
        leaf_thick,
        leaf_normal,
        mode=options.evidence,
        scale=scale,
        share=share,
        min_area=options.min_part_area,
        thickness_weight=options.thickness_weight,
        neck=options.neck,
        model=boundary_model(options.boundary_model) if options.evidence == "learned" else None,
        trace=trace,
        pair_edges=np.flatnonzero(cross),
        grooves=Grooves.of_proxy(proxy, proxy.concave > CREASE, assembly)
        if options.grooves
        else None,
        handles=options.handles,
        attach=island_targets(leaf, proxy.pairs, proxy.centroids, proxy.area),
    )
    if assembly and heights and m.flat_share(live) >= HARD_FLAT:
        # A hard surface among the meshes of an assembly: its modeller made the parts meshes,
        # and a machined part's every fin and boss looks like a cut to evidence learned on
        # sculpted shapes. Its cuts come at lower levels (fine, or asked for by count).
        heights = [h * HARD_DAMP for h in heights]
    if options.tree_band > 0 and options.evidence == "learned":
        # The parts' boundaries re-cut at their own scale, keeping every part of the cuts at
        # the fine level and above (the hand-made evidence has no fixed levels to keep).
        leaf, merges, heights = refine_tree(
            leaf,
            merges,
            heights,
            LEARNED_LEVEL["fine"] * options.evidence_scale,
            proxy.pairs,
            TREE_FLOOR * proxy.length + (1.0 - TREE_FLOOR) * cut_weight,
            proxy.centroids,
            proxy.area,
            options.tree_band,
        )
    # Back to the piece's triangles (dead ones: the nearest live triangle's leaf).
    tri_leaf = np.zeros(len(piece), dtype=np.int64)
    pos = np.searchsorted(piece, live)
    live_leaf = leaf[mapping]
    if q < len(faces) and options.smooth > 0:
        live_leaf = _smooth_on_surface(
            m, live, leaf, mapping, proxy, options.smooth, options.fold_radius
        )
    tri_leaf[pos] = live_leaf
    dead = np.flatnonzero(m.tri_area[piece] <= 0)
    if len(dead):
        _, near = cKDTree(m.centroids[live]).query(m.centroids[piece[dead]])
        tri_leaf[dead] = tri_leaf[pos[near]]
    return tri_leaf, merges, heights


#: Two triangles are coplanar (``_MeshData.flat_share``) when their normals are within this
#: angle (radians, half a degree).
FLAT_ANGLE = math.radians(0.5)
#: A piece of an assembly is a hard surface when this share of its edge length lies between
#: coplanar triangles (2CylinderEngine's machined parts 0.32-0.53, LittlestTokyo's buildings
#: 0.42-0.53; characters and AI-generated meshes 0.02-0.13) ...
HARD_FLAT = 0.3
#: ... and the evidence of its cuts is multiplied by this: at balanced (0.7) only a cut above
#: 0.93 is made, at coarse none.
HARD_DAMP = 0.75
#: A proxy edge's cut cost in the re-cut of the parts' boundaries (``refine_tree``) never
#: falls below this fraction of its length, however concave the edge: inside a wide fold (the
#: fillet between a CAD part's hub and its arm, a scan's noisy blend) the smoothed creases
#: are a band of near-free edges, and the cut through it followed their noise in tongues and
#: wedges (the rocker-arm's pad took a wedge of the hub) instead of taking the short way.
TREE_FLOOR = 0.1
#: Concave bend (1 - cos of the dihedral angle) at which the discount of a full-resolution
#: edge's cut cost for lying on a fold falls to 1/e (``_smooth_on_surface``): about 18 degrees.
SMOOTH_BEND = 0.05
#: ... but never less than this fraction of its length: inside a wide fold (a fillet, a
#: pinched neck, normals averaged over ``fold_radius``) every edge is cheap, and the cut must
#: still take the short way through it rather than saw-teeth.
FOLD_FLOOR = 0.2
#: The averaging of ``fold_radius`` takes at most this many steps of one face spacing (the
#: noise it removes is a few triangles wide; on millions of faces two proxy edges are dozens).
FOLD_STEPS = 24


def _smooth_on_surface(
    m: _MeshData,
    live: np.ndarray,
    proxy_labels: np.ndarray,
    mapping: np.ndarray,
    proxy,
    smooth: float,
    fold_radius: float,
) -> np.ndarray:
    """Labels of the triangles ``live`` of a decimated surface, carried over from its proxy
    (``proxy_labels[mapping]``: ``mapping`` is the proxy face of each of ``live``), with each
    boundary re-cut at full resolution within ``smooth`` proxy edge lengths of where it was
    (the carried-over boundary zigzags along the proxy's triangles). The cut prefers short
    paths and concave folds, judged on normals averaged over ``fold_radius`` proxy edge
    lengths near the boundaries."""
    labels = proxy_labels[mapping]
    local = np.full(len(m.welded), -1, dtype=np.int64)
    local[live] = np.arange(len(live))
    graph = m.live_graph
    pa, pb = local[graph.pairs[:, 0]], local[graph.pairs[:, 1]]
    keep = (pa >= 0) & (pb >= 0)
    if not keep.any():
        return labels
    a, b = pa[keep], pb[keep]
    ev = graph.edge_vertices[keep]
    length = np.linalg.norm(m.positions[ev[:, 0]] - m.positions[ev[:, 1]], axis=1)
    normals, area, centroids = triangle_frames(m.positions, m.welded[live])
    if float(np.einsum("ij,ij->", centroids, normals * area[:, None])) < 0:
        normals = -normals  # outward, as on the proxy: concavity is judged along the normals
    pairs = np.stack([a, b], axis=1)
    coarse = float(np.median(proxy.length)) if len(proxy.length) else 0.0
    if fold_radius > 0:
        reach = (smooth + fold_radius + 1) * coarse
        near = near_boundaries(proxy_labels, proxy.pairs, proxy.centroids, reach)
        band = np.flatnonzero(near[mapping])
        inside = np.full(len(live), -1, dtype=np.int64)
        inside[band] = np.arange(len(band))
        both = (inside[a] >= 0) & (inside[b] >= 0)
        normals[band] = diffuse_normals(
            normals[band],
            area[band],
            inside[pairs[both]],
            length[both],
            fold_radius * coarse,
            max_steps=FOLD_STEPS,
        )
    bend = concave_bend(pairs, normals, centroids)
    weight = length * (FOLD_FLOOR + (1.0 - FOLD_FLOOR) * np.exp(-bend / SMOOTH_BEND))
    return smooth_boundaries(labels, pairs, weight, centroids, smooth * coarse)


def _polygon_vertex_means(mesh: Mesh, vertices: np.ndarray) -> np.ndarray:
    sizes = mesh.polygon_sizes
    face = mesh.corner_face
    pts = vertices[mesh.corners]
    sums = np.stack(
        [np.bincount(face, weights=pts[:, i], minlength=len(sizes)) for i in range(3)], 1
    )
    return sums / np.maximum(sizes, 1)[:, None]


def rank_by_area(labels: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(p,) int32: ``labels`` (any integers) renumbered 0..k-1 by decreasing total ``area``
    (p,), ties broken by the lowest face id."""
    uniq, inverse = compact(labels, int(labels.max()) + 1 if len(labels) else 0)
    seg_area = np.bincount(inverse, weights=area, minlength=len(uniq))
    # The first face of each label: written from the last face to the first, the last write
    # (the first face) stays.
    first = np.empty(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(labels) - 1, -1, -1)
    order = np.lexsort((first, -seg_area))
    rank = np.empty(len(uniq), dtype=np.int32)
    rank[order] = np.arange(len(uniq), dtype=np.int32)
    return rank[inverse]
