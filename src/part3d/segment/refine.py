"""Boundaries along creases, smooth between them: a minimum cut (PyMaxflow) along each
boundary between two segments.

For every pair of adjacent segments, the faces of both within a band around their shared
boundary are free to change sides; the faces beyond the band are tied to their segment. The
cut minimises the summed weight of the edges it crosses, where an edge weighs its length,
discounted where the surface folds inward: the new boundary is the shortest path through the
band that prefers concave creases, with no saw-tooth.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree


def refine_boundaries(
    labels: np.ndarray,
    pairs: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    area: np.ndarray,
    band: float,
) -> np.ndarray:
    """(q,) labels after a min cut along each boundary.

    ``pairs`` (e, 2) adjacent faces with cut cost ``weight`` (e,); ``band`` scales the free
    band's width, as a fraction of the square root of the smaller segment's area."""
    labels = labels.copy()
    q = len(labels)
    if q < 3 or len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    la, lb = labels[a], labels[b]
    cross = la != lb
    if not cross.any():
        return labels
    key = np.unique(np.sort(np.stack([la[cross], lb[cross]], axis=1), axis=1), axis=0)
    # Segment areas as they were before any boundary moved (the bands' widths).
    seg_area = np.bincount(labels, weights=area, minlength=int(labels.max()) + 1)
    # The edges of each face (each boundary only looks at the edges of its two segments).
    order, start = _incidence(a, b, q)
    face_edges = order % len(a)
    index = np.full(q, -1, dtype=np.int64)
    seen = np.zeros(len(a), dtype=bool)  # marks of the edges gathered for one boundary
    for s, t in key.tolist():
        members = np.flatnonzero((labels == s) | (labels == t))
        seen[face_edges[_gather(start, members)[0]]] = True
        near = np.flatnonzero(seen)  # sorted and unique, without sorting
        seen[near] = False
        ea, eb = a[near], b[near]
        la, lb = labels[ea], labels[eb]
        on = ((la == s) & (lb == t)) | ((la == t) & (lb == s))
        if not on.any():
            continue
        width = band * np.sqrt(max(min(seg_area[s], seg_area[t]), 0.0))
        free = _band(members, centroids, 0.5 * (centroids[ea[on]] + centroids[eb[on]]), width)
        if len(free) < 3:
            continue
        index[free] = np.arange(len(free))
        to_t = _two_label_cut(len(free), index[ea], index[eb], weight[near], la, lb, s, t)
        index[free] = -1
        if to_t is not None:  # None: the band swallowed a whole segment; leave it alone
            labels[free] = np.where(to_t, t, s)
    return _keep_largest_pieces(labels, pairs, weight)


def _incidence(a: np.ndarray, b: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges (``a``, ``b``) at each of ``q`` faces: ``order`` (2e,) indexes
    ``concatenate([a, b])`` grouped by face (edge ``order % e``), face ``f``'s run being
    ``start[f]:start[f + 1]``."""
    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    return order, np.searchsorted(ends[order], np.arange(q + 1))


def _gather(start: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the runs ``start[r]:start[r + 1]`` of every ``r`` in ``rows``, one
    after the other, and each run's length."""
    counts = start[rows + 1] - start[rows]
    offsets = np.repeat(start[rows] - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(int(counts.sum())), counts


def _band(faces: np.ndarray, centroids: np.ndarray, mids: np.ndarray, width: float) -> np.ndarray:
    """The faces of ``faces`` whose centroids lie within ``width`` of a boundary's edge
    midpoints ``mids`` (only those inside the boundary's box, grown by the width, can)."""
    points = centroids[faces]
    box = np.flatnonzero(
        ((points >= mids.min(axis=0) - width) & (points <= mids.max(axis=0) + width)).all(1)
    )
    if len(box) * len(mids) <= BRUTE_FORCE:
        # Every distance at once: cheaper than building a tree for a few dozen midpoints. The
        # same test as cKDTree's (squared distance summed x, y, z, strictly under the bound).
        p = points[box]
        dx = p[:, 0, None] - mids[None, :, 0]
        dy = p[:, 1, None] - mids[None, :, 1]
        dz = p[:, 2, None] - mids[None, :, 2]
        near = ((dx * dx + dy * dy + dz * dz) < width * width).any(axis=1)
        return faces[box[near]]
    dist, _ = cKDTree(mids).query(points[box], distance_upper_bound=width)
    return faces[box[np.isfinite(dist)]]


#: ``_band`` compares every face with every midpoint up to this many pairs.
BRUTE_FORCE = 1 << 16


def _two_label_cut(
    n: int,
    ia: np.ndarray,
    ib: np.ndarray,
    w: np.ndarray,
    la: np.ndarray,
    lb: np.ndarray,
    s: int,
    t: int,
) -> np.ndarray | None:
    """The minimum cut of ``n`` free faces between labels ``s`` and ``t``: (n,) True where a
    face goes to ``t``. Per edge: the free index of each end (``ia``, ``ib``; -1 when not
    free), its cost ``w`` and the labels at its ends (``la``, ``lb``); an edge from a free face
    to a fixed one of label ``s`` or ``t`` ties the free face to that side. None when one side
    has no tie."""
    import maxflow

    g = maxflow.Graph[float]()
    nodes = g.add_nodes(n)
    inner = (ia >= 0) & (ib >= 0)
    if inner.any():
        g.add_edges(nodes[ia[inner]], nodes[ib[inner]], w[inner], w[inner])
    source = np.zeros(n)
    sink = np.zeros(n)
    for ix, ly in ((ia, lb), (ib, la)):
        edge = (ix >= 0) & ~inner
        to_s = edge & (ly == s)
        to_t = edge & (ly == t)
        np.add.at(source, ix[to_s], w[to_s])
        np.add.at(sink, ix[to_t], w[to_t])
    if not source.any() or not sink.any():
        return None
    g.add_grid_tedges(nodes, source, sink)
    g.maxflow()
    return g.get_grid_segments(nodes)


def _keep_largest_pieces(labels: np.ndarray, pairs: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each label keeps its largest connected piece; stray pieces join the neighbouring label
    they share the most boundary with."""
    q = len(labels)
    a, b = pairs[:, 0], pairs[:, 1]
    for _ in range(3):
        same = labels[a] == labels[b]
        g = sp.coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(q, q))
        _, piece = connected_components(g, directed=False)
        size = np.bincount(piece)
        k = int(labels.max()) + 1
        lab_of_piece = np.zeros(len(size), dtype=np.int64)
        lab_of_piece[piece] = labels
        # Each label's main piece: its largest (the lowest id on ties).
        order = np.lexsort((np.arange(len(size)), -size))
        _, first = np.unique(lab_of_piece[order], return_index=True)
        is_stray = np.ones(len(size), dtype=bool)
        is_stray[order[first]] = False
        if not is_stray.any():
            return labels
        cross = ~same & is_stray[piece[a]] & ~is_stray[piece[b]]
        cross2 = ~same & is_stray[piece[b]] & ~is_stray[piece[a]]
        src = np.concatenate([piece[a[cross]], piece[b[cross2]]])
        dst = np.concatenate([labels[b[cross]], labels[a[cross2]]])
        w = np.concatenate([weight[cross], weight[cross2]]) + 1e-12
        if len(src) == 0:
            return labels
        # Each stray piece joins the label it shares the most boundary weight with.
        uniq, inv = np.unique(src.astype(np.int64) * k + dst, return_inverse=True)
        tot = np.bincount(inv, weights=w)
        up, ul = uniq // k, uniq % k
        best = np.lexsort((-tot, up))
        lead = np.ones(len(best), dtype=bool)
        lead[1:] = up[best][1:] != up[best][:-1]
        change = np.full(len(size), -1, dtype=np.int64)
        change[up[best][lead]] = ul[best][lead]
        moved = change[piece]
        labels = np.where(moved >= 0, moved, labels)
    return labels


def smooth_boundaries(
    labels: np.ndarray,
    pairs: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    width: float,
) -> np.ndarray:
    """(t,) labels of a full-resolution surface whose boundaries were drawn on a coarser proxy
    and carried over face by face (so they zigzag along the proxy's triangles), each boundary
    re-cut by a minimum cut among the faces of its two labels within ``width`` of it.

    ``pairs`` (e, 2) adjacent faces with cut cost ``weight`` (e,); ``centroids`` (t, 3). A face
    near several boundaries belongs to the band of the nearest (graph distance through the
    centroids). Faces beyond the bands keep their label; each label keeps its largest
    connected piece."""
    q = len(labels)
    if width <= 0 or q < 3 or len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    cross = labels[a] != labels[b]
    if not cross.any():
        return labels
    # The boundary each face is nearest to (its pair of labels), within ``width``.
    ca, cb = a[cross], b[cross]
    lo = np.minimum(labels[ca], labels[cb])
    hi = np.maximum(labels[ca], labels[cb])
    keys, boundary = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    boundary = boundary.reshape(-1)
    seed_face = np.concatenate([ca, cb])
    seeds, first = np.unique(seed_face, return_index=True)
    seed_boundary = np.concatenate([boundary, boundary])[first]
    dist, source = _reach(pairs, centroids, seeds, width)
    near = np.isfinite(dist) & (source >= 0)
    owner = np.full(q, -1, dtype=np.int64)
    owner[near] = seed_boundary[np.searchsorted(seeds, source[near])]
    # A face is free for its boundary only if it has one of the boundary's two labels.
    own = owner >= 0
    own[own] = (labels[own] == keys[owner[own], 0]) | (labels[own] == keys[owner[own], 1])
    owner[~own] = -1
    faces_by = np.argsort(owner, kind="stable")
    face_start = np.searchsorted(owner[faces_by], np.arange(len(keys) + 1))
    # The edges touching each boundary's free faces.
    oa, ob = owner[a], owner[b]
    e_id = np.concatenate([np.flatnonzero(oa >= 0), np.flatnonzero((ob >= 0) & (ob != oa))])
    e_owner = np.concatenate([oa[oa >= 0], ob[(ob >= 0) & (ob != oa)]])
    order = np.argsort(e_owner, kind="stable")
    e_id, e_owner = e_id[order], e_owner[order]
    edge_start = np.searchsorted(e_owner, np.arange(len(keys) + 1))
    out = labels.copy()
    index = np.full(q, -1, dtype=np.int64)
    for k, (s, t) in enumerate(keys.tolist()):
        free = faces_by[face_start[k] : face_start[k + 1]]
        if len(free) < 3:
            continue
        index[free] = np.arange(len(free))
        e = e_id[edge_start[k] : edge_start[k + 1]]
        ea, eb = a[e], b[e]
        to_t = _two_label_cut(len(free), index[ea], index[eb], weight[e], out[ea], out[eb], s, t)
        index[free] = -1
        if to_t is not None:
            out[free] = np.where(to_t, t, s)
    return _keep_largest_pieces(out, pairs, weight)


def near_boundaries(
    labels: np.ndarray, pairs: np.ndarray, centroids: np.ndarray, radius: float
) -> np.ndarray:
    """(q,) bool: the faces within ``radius`` (through the centroids) of a face on a boundary
    between ``labels``."""
    a, b = pairs[:, 0], pairs[:, 1]
    cross = labels[a] != labels[b]
    if not cross.any():
        return np.zeros(len(labels), dtype=bool)
    seeds = np.unique(np.concatenate([a[cross], b[cross]]))
    return np.isfinite(_reach(pairs, centroids, seeds, radius)[0])


def _reach(
    pairs: np.ndarray, centroids: np.ndarray, seeds: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (through adjacent faces' centroids) from the nearest of ``seeds`` to every
    face, infinite beyond ``radius``, and that nearest seed (-9999 where none)."""
    a, b = pairs[:, 0], pairs[:, 1]
    q = len(centroids)
    step = np.linalg.norm(centroids[a] - centroids[b], axis=1) + 1e-300
    graph = sp.coo_matrix((step, (a, b)), shape=(q, q)).tocsr()
    dist, _, source = dijkstra(
        graph, directed=False, indices=seeds, min_only=True, limit=radius,
        return_predecessors=True,
    )  # fmt: skip
    return dist, source


#: A re-cut (``refine_tree``) is not made when it would leave a part of the protected cut
#: less than this share of its faces in the segment being split.
PART_KEPT = 0.25


def refine_tree(
    leaf: np.ndarray,
    merges: list[tuple[int, int]],
    heights: list[float],
    level: float,
    pairs: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    area: np.ndarray,
    band: float,
) -> tuple[np.ndarray, list[tuple[int, int]], list[float]]:
    """The leaves of one piece and its merges after the boundaries its tree's cuts draw are
    re-cut at their own scale, from the top of the tree down.

    ``merges`` (leaf pairs in merge order, ``heights`` their evidence) join the leaves
    ``0..k-1`` of the faces (``leaf``) into one segment. Undone in the order in which cuts take
    them apart (the strongest evidence first), each merge above ``level`` splits a segment in
    two; the faces of that segment within ``band`` times the square root of the smaller side's
    area of the boundary between them are free to change sides, and a minimum cut (``pairs``
    adjacent faces, cut cost ``weight``) draws the boundary again. Left as the leaves drew it,
    a boundary between two large parts zigzags from leaf to leaf across a smooth surface.

    A face stays below the side it was given, so every cut of the tree is still a union of
    leaves (cuts nest and cost nothing more). Faces that changed sides join the leaves of
    their new side by adjacency; a leaf left with no face leaves the tree with its merge. A
    re-cut is not made if it would break a side in pieces or leave any part of the cut at
    ``level`` less than ``PART_KEPT`` of its faces: cuts at that level or above keep their
    part counts. Returns the leaves (renumbered), merges and heights."""
    k = int(leaf.max()) + 1 if len(leaf) else 0
    if k < 2 or len(pairs) == 0 or not any(h > level for h in heights):
        return leaf, merges, heights
    # The tree's nodes: leaves 0..k-1, then node k + i made by merge i (children[i]), built in
    # the order in which cuts apply the merges (rising evidence; the specks' merges, of no
    # evidence, first), so the merges above ``level`` are the last ones (``top``).
    rising = sorted(range(len(merges)), key=lambda i: (heights[i], i))
    node_of = list(range(k))
    parent = list(range(k))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    children: list[tuple[int, int] | None] = [None] * len(merges)
    part_node = None  # the node of each leaf's part in the cut at ``level``
    top = []
    for i in rising:
        if heights[i] > level:
            if part_node is None:
                part_node = np.array([node_of[find(x)] for x in range(k)])
            top.append(i)
        ra, rb = find(merges[i][0]), find(merges[i][1])
        if ra == rb:
            continue
        children[i] = (node_of[ra], node_of[rb])
        parent[rb] = ra
        node_of[ra] = k + i
    if part_node is None or len({find(x) for x in range(k)}) != 1:
        return leaf, merges, heights
    members: list[np.ndarray | None] = [np.array([x]) for x in range(k)] + [None] * len(merges)
    for i in rising:
        if children[i]:
            na, nb = children[i]
            members[k + i] = np.concatenate([members[na], members[nb]])
    a, b = pairs[:, 0], pairs[:, 1]
    q = len(leaf)
    # Each face's neighbours, to give faces that came over a side.
    order, start = _incidence(a, b, q)
    nbr = np.concatenate([b, a])[order]
    cur = np.full(q, node_of[find(0)], dtype=np.int64)
    index = np.full(q, -1, dtype=np.int64)
    side_of_leaf = np.zeros(k, dtype=np.int64)
    lab = np.full(q, -1, dtype=np.int64)
    part = part_node[leaf]
    for i in reversed(top):
        pair = children[i]
        if pair is None:
            continue
        na, nb = pair
        faces = np.flatnonzero(cur == k + i)
        if len(faces) == 0:
            continue
        side_of_leaf[:] = 0
        side_of_leaf[members[na]] = 1
        side_of_leaf[members[nb]] = 2
        lab[faces] = side_of_leaf[leaf[faces]]
        alone = _fill_unsided(lab, faces[lab[faces] == 0], nbr, start)
        lab[alone] = 2  # joined to neither side: not in a connected piece
        new = _recut_split(lab, faces, a, b, weight, centroids, area, band, index)
        if new is not None and _split_is_sound(new, lab, faces, part[faces], a, b):
            lab[faces] = new
        cur[faces] = np.where(lab[faces] == 1, na, nb)
        lab[faces] = -1
    # Below the cut at ``level`` the leaves stay as they were; a face that came over to
    # another part joins the leaf of a neighbour in that part.
    moved = np.flatnonzero(part != cur)
    if len(moved) == 0:
        return leaf, merges, heights
    out = leaf + 1  # sides numbered from 1 for the spreading
    out[moved] = 0
    alone = _fill_unsided(out, moved, nbr, start, cur)
    for f in alone.tolist():  # no neighbour in its part: any leaf of the part
        out[f] = int(members[cur[f]][0]) + 1
    out -= 1
    # Leaves that lost every face leave the tree, with the merges that joined them.
    has = np.bincount(out, minlength=k) > 0
    if has.all():
        return out, merges, heights
    first = [x if has[x] else -1 for x in range(k)] + [-1] * len(merges)
    for i in rising:  # a leaf with faces under each node
        if children[i]:
            first[k + i] = max(first[children[i][0]], first[children[i][1]])
    kept_merges, kept_heights = [], []
    for pair, h in zip(children, heights, strict=True):
        if pair and first[pair[0]] >= 0 and first[pair[1]] >= 0:
            kept_merges.append((first[pair[0]], first[pair[1]]))
            kept_heights.append(h)
    new_id = np.cumsum(has) - 1
    return new_id[out], [(int(new_id[x]), int(new_id[y])) for x, y in kept_merges], kept_heights


def _fill_unsided(
    lab: np.ndarray,
    todo: np.ndarray,
    nbr: np.ndarray,
    start: np.ndarray,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Faces ``todo`` with no label yet (``lab`` 0) take that of their first neighbour that has
    one (``nbr``, ``start``: each face's neighbours; ``within``: only a neighbour of the same
    value there), spreading until every one has a label. Returns the faces joined to no
    labelled face (left at 0)."""
    while len(todo):
        at, counts = _gather(start, todo)
        near = nbr[at]
        row = np.repeat(np.arange(len(todo)), counts)
        ok = lab[near] > 0
        if within is not None:
            ok &= within[near] == within[todo[row]]
        if not ok.any():
            return todo
        rows, first = np.unique(row[ok], return_index=True)
        lab[todo[rows]] = lab[near[ok][first]]
        todo = todo[lab[todo] == 0]
    return todo


def _recut_split(
    lab: np.ndarray,
    faces: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    weight: np.ndarray,
    centroids: np.ndarray,
    area: np.ndarray,
    band: float,
    index: np.ndarray,
) -> np.ndarray | None:
    """(len(faces),) the sides (1, 2 in ``lab``) of ``faces`` with the boundary between them
    drawn again by a minimum cut in its band (``refine_tree``); None when they share no
    boundary or the band holds a whole side."""
    la, lb = lab[a], lab[b]
    on = (la > 0) & (lb > 0) & (la != lb)
    if not on.any():
        return None
    side_area = np.bincount(lab[faces], weights=area[faces], minlength=3)
    width = band * np.sqrt(max(min(side_area[1], side_area[2]), 0.0))
    free = _band(faces, centroids, 0.5 * (centroids[a[on]] + centroids[b[on]]), width)
    if len(free) < 3:
        return None
    index[free] = np.arange(len(free))
    touch = (index[a] >= 0) | (index[b] >= 0)
    ea, eb = a[touch], b[touch]
    to_t = _two_label_cut(len(free), index[ea], index[eb], weight[touch], lab[ea], lab[eb], 1, 2)
    index[free] = -1
    if to_t is None:
        return None
    new = lab.copy()
    new[free] = np.where(to_t, 2, 1)
    return new[faces]


def _split_is_sound(
    new: np.ndarray, lab: np.ndarray, faces: np.ndarray, part: np.ndarray, a, b
) -> bool:
    """Whether the re-cut sides ``new`` of ``faces`` (``lab`` before) keep each side in as
    many pieces as before and every part (``part`` of each face) ``PART_KEPT`` of its faces
    on its side."""
    old = lab[faces]
    same = new == old
    if same.all():
        return False  # nothing to apply
    _, inv = np.unique(part, return_inverse=True)
    kept = np.bincount(inv, weights=same)
    if (kept < PART_KEPT * np.bincount(inv)).any():
        return False
    trial = lab.copy()
    trial[faces] = new
    pieces = _pieces(trial, faces, a, b)
    return pieces <= 2 or pieces <= _pieces(lab, faces, a, b)


def _pieces(lab: np.ndarray, faces: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Connected pieces of the sides of ``faces`` (edges joining faces of one side)."""
    local = np.full(len(lab), -1, dtype=np.int64)
    local[faces] = np.arange(len(faces))
    keep = (local[a] >= 0) & (local[b] >= 0) & (lab[a] == lab[b])
    n = len(faces)
    g = sp.coo_matrix((np.ones(int(keep.sum())), (local[a[keep]], local[b[keep]])), shape=(n, n))
    return int(connected_components(g, directed=False)[0])
