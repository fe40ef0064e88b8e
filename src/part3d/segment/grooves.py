"""Repeated parallel grooves: a boundary that is one of a series is texture, not a cut.

A finned cylinder, a ribbed handle or a threaded shaft has many concave creases, each a loop
around the same axis at the same radius, a short step apart. Each one looks like a good place
to cut (concave, closed, short for its sides), and learned evidence trained on the PSB, which
has hardly any such shapes, rates them as highly as a neck. A person sees one fluted part.

``Grooves`` measures a boundary (a set of proxy edges) against the creases of its surface: if
the boundary runs around an axis (its points lie near a plane, spread in two directions) and,
on *both* sides along that axis, between ``GAP`` and ``WINDOW`` radii from it (beyond the
concave band of its own groove), other concave creases run parallel to it at about its
radius, at least ``SIDE`` times its length and round at least ``ROUND`` of the sectors it goes
round, the boundary is in a series and its evidence is multiplied by ``DAMP``. The last
groove of a series (grooves on one side only) keeps its evidence on a single surface (a
ribbed grip may meet a shaft there); in an assembly of several meshes, where the modeller has
already made each part a mesh, it is damped too when its one side holds ``END`` times
``SIDE``. A boundary that is no groove (its points are not near a plane: a ragged cut across
the fins) is damped when most of it lies among a series around the axis the surface's creases
turn around.
"""

from __future__ import annotations

import numpy as np

from part3d.model import plane_basis

#: Parallel crease length needed on each side, as a multiple of the boundary's length.
SIDE = 0.75
#: In an assembly, the last groove of a series is damped when its one side holds this many
#: times ``SIDE``.
END = 2.0
#: A surface's creases turn around one axis when the smallest eigenvalue of their tangents'
#: scatter is under this share of the total.
AXIS_FLAT = 0.1
#: A boundary that is not a groove lies among a series when, for ``ZONE_SHARE`` of its length,
#: parallel coaxial creases within ``ZONE_ANGLE`` radians either way round the axis hold at
#: least ``ZONE`` times that arc's length on each side.
ZONE_ANGLE = 0.5
ZONE = 0.25
ZONE_SHARE = 0.7
#: Boundary edges measured at once against every crease (bounds the memory of the test).
ZONE_ROWS = 256
#: Evidence of a boundary in a series is multiplied by this.
DAMP = 0.3
#: A crease is parallel when its tangent is within this cosine of the loop's plane.
PARALLEL = 0.3
#: ... and coaxial when its distance from the axis is within this fraction of the radius.
COAXIAL = 0.35
#: Loop-like: the smallest eigenvalue of the boundary's point spread under this share of the
#: total, the middle one above ``SPREAD`` of it (it goes round an axis, not along a line).
FLAT = 0.15
SPREAD = 0.2
#: The series is looked for from ``GAP`` to ``WINDOW`` radii of the boundary, along the axis.
GAP = 0.15
WINDOW = 0.6
#: Sectors around the axis; the creases on each side must reach ``ROUND`` of the sectors the
#: boundary reaches.
SECTORS = 12
ROUND = 0.5


class Grooves:
    """The creases of one proxy surface, to test boundaries against.

    ``midpoints`` (e, 3), ``tangents`` (e, 3) unit, ``length`` (e,) of every proxy edge;
    ``crease`` (e,) bool: the edges that are concave creases; ``assembly``: the surface is one
    mesh of several (the last groove of a series is damped too); ``ends`` (e, 2): each edge's
    vertices, to test a boundary of several loops loop by loop."""

    def __init__(
        self,
        midpoints: np.ndarray,
        tangents: np.ndarray,
        length: np.ndarray,
        crease: np.ndarray,
        assembly: bool = False,
        ends: np.ndarray | None = None,
    ):
        self.midpoints = midpoints
        #: (e, 2) vertex ids of every edge (None: a boundary is tested as one loop).
        self.ends = ends
        self.tangents = tangents
        self.length = length
        self.crease_ids = np.flatnonzero(crease)
        #: Each edge's place in ``crease_ids`` (-1: no crease).
        self._slot = np.full(len(crease), -1, dtype=np.int64)
        self._slot[self.crease_ids] = np.arange(len(self.crease_ids))
        self.assembly = assembly
        self.axis = self._series_axis()
        if self.axis is not None:
            # The creases of the series: parallel to the plane round the axis, measured from
            # their centre along the axis (``_step``) and across it (``_across``).
            c = self.crease_ids[np.abs(self.tangents[self.crease_ids] @ self.axis) < PARALLEL]
            w = self.length[c]
            self._weight = w
            self._origin = (self.midpoints[c] * w[:, None]).sum(axis=0) / max(w.sum(), 1e-300)
            q = self.midpoints[c] - self._origin
            self._step = q @ self.axis
            self._across = q - np.outer(self._step, self.axis)
            self._radius = np.linalg.norm(self._across, axis=1)

    def _series_axis(self) -> np.ndarray | None:
        """The axis the surface's creases turn around, when most of them do (a finned or
        fluted part): the normal of their tangents' plane."""
        c = self.crease_ids
        if len(c) < 12:
            return None
        t, w = self.tangents[c], self.length[c]
        values, vectors = np.linalg.eigh((t * w[:, None]).T @ t)
        trace = float(values.sum())
        if trace <= 0 or values[0] > AXIS_FLAT * trace or values[1] < SPREAD * trace:
            return None
        return vectors[:, 0]

    def _crosses_series(self, edge_ids: np.ndarray, total: float) -> bool:
        """Whether most of the boundary lies among a series of grooves around the surface's
        axis: at each of its points, parallel creases at about its radius, in the same
        direction round the axis, both ``GAP``–``WINDOW`` radii above and below it."""
        if self.axis is None or len(self._weight) == 0:
            return False
        m = self.midpoints[edge_ids] - self._origin
        dm = m @ self.axis
        pm = m - np.outer(dm, self.axis)
        rm = np.linalg.norm(pm, axis=1)
        inside = np.zeros(len(edge_ids), dtype=bool)
        w = self._weight[None, :]
        for start in range(0, len(edge_ids), ZONE_ROWS):  # bounded memory: rows x creases
            r = slice(start, start + ZONE_ROWS)
            step = self._step[None, :] - dm[r, None]  # along the axis
            near_r = np.abs(self._radius[None, :] - rm[r, None]) < COAXIAL * rm[r, None]
            cos = (pm[r] @ self._across.T) / np.maximum(np.outer(rm[r], self._radius), 1e-300)
            local = near_r & (cos > np.cos(ZONE_ANGLE))
            lo, hi = GAP * rm[r, None], WINDOW * rm[r, None]
            below = ((local & (step < -lo) & (step >= -hi)) * w).sum(axis=1)
            above = ((local & (step > lo) & (step <= hi)) * w).sum(axis=1)
            need = ZONE * 2.0 * ZONE_ANGLE * rm[r]
            inside[r] = (rm[r] > 0) & (below >= need) & (above >= need)
        return float(self.length[edge_ids][inside].sum()) >= ZONE_SHARE * total

    @classmethod
    def of_proxy(cls, proxy, crease: np.ndarray, assembly: bool = False) -> Grooves | None:
        """From an ``evidence.Proxy`` and the crease mask of its edges; None when the surface
        has too few creases to hold a series."""
        if np.count_nonzero(crease) < 6:
            return None
        a, b = proxy.vertices[proxy.edges[:, 0]], proxy.vertices[proxy.edges[:, 1]]
        d = b - a
        length = np.linalg.norm(d, axis=1)
        tangents = d / np.maximum(length, 1e-300)[:, None]
        return cls(0.5 * (a + b), tangents, length, crease, assembly, proxy.edges)

    def factor(self, edge_ids: np.ndarray) -> float:
        """``DAMP`` if the boundary made of ``edge_ids`` is one of a series of grooves, else
        1. A boundary of several loops (a finned block whose two end flanges are one segment
        through the bore: a loop at each end of the series) is damped when loops holding
        ``ZONE_SHARE`` of its length each are."""
        if len(edge_ids) < 3 or len(self.crease_ids) == 0:
            return 1.0
        loops = self._loops(edge_ids)
        if len(loops) > 1:
            total = float(self.length[edge_ids].sum())
            damped = sum(float(self.length[e].sum()) for e in loops if self._factor(e) < 1.0)
            return DAMP if total > 0 and damped >= ZONE_SHARE * total else 1.0
        return self._factor(edge_ids)

    def _loops(self, edge_ids: np.ndarray) -> list[np.ndarray]:
        """The boundary's edges by connected loop (edges sharing a vertex). A union-find in
        Python: boundaries hold tens to hundreds of edges, where building a sparse graph
        cost more than the rest of the groove test."""
        if self.ends is None or len(edge_ids) < 2:
            return [edge_ids]
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            root = parent.setdefault(x, x)
            while root != parent[root]:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        pairs = self.ends[edge_ids].tolist()
        for a, b in pairs:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        loop = np.array([find(a) for a, _ in pairs])
        if (loop == loop[0]).all():
            return [edge_ids]
        return [edge_ids[loop == c] for c in np.unique(loop)]

    def _factor(self, edge_ids: np.ndarray) -> float:
        """``factor`` of one connected loop."""
        if len(edge_ids) < 3:
            return 1.0
        lb = self.length[edge_ids]
        total = float(lb.sum())
        if total <= 0:
            return 1.0
        p = self.midpoints[edge_ids]
        center = (p * lb[:, None]).sum(axis=0) / total
        rel = p - center
        # The loop's plane: its points' spread (the tangents zigzag on a decimated surface).
        values, vectors = np.linalg.eigh((rel * lb[:, None]).T @ rel)  # ascending
        trace = float(values.sum())
        if trace <= 0 or values[0] > FLAT * trace or values[1] < SPREAD * trace:
            return DAMP if self._crosses_series(edge_ids, total) else 1.0
        axis = vectors[:, 0]
        offset = rel @ axis
        radius = float(np.median(np.linalg.norm(rel - np.outer(offset, axis), axis=1)))
        if radius <= 0:
            return 1.0
        lo, hi = float(offset.min()), float(offset.max())
        others = np.ones(len(self.crease_ids), dtype=bool)
        own = self._slot[edge_ids]
        others[own[own >= 0]] = False
        c = self.crease_ids[others]
        if len(c) == 0:
            return 1.0
        q = self.midpoints[c] - center
        d = q @ axis
        rho = np.linalg.norm(q - np.outer(d, axis), axis=1)
        ok = (np.abs(self.tangents[c] @ axis) < PARALLEL) & (
            np.abs(rho - radius) < COAXIAL * radius
        )
        # Around the axis: a groove of the series goes as far round as the boundary does
        # (the creases where limbs join a body near a neck do not).
        u, v = plane_basis(axis)
        own = np.unique(_sectors(rel @ u, rel @ v))
        sector = _sectors(q @ u, q @ v)
        lc = self.length[c]
        # Beyond the boundary's own groove (its concave band, ``GAP`` radii wide), each side
        # holds parallel creases going as far round.
        near, far = GAP * radius, WINDOW * radius
        held: list[float] = []
        for side in (
            ok & (d < lo - near) & (d >= lo - far),
            ok & (d > hi + near) & (d <= hi + far),
        ):
            covered = np.zeros(SECTORS, dtype=bool)
            covered[sector[side]] = True
            round_ = np.count_nonzero(covered[own]) >= ROUND * len(own)
            held.append(float(lc[side].sum()) / total if round_ else 0.0)
        if min(held) >= SIDE:
            return DAMP
        if self.assembly and max(held) >= END * SIDE:
            return DAMP
        return 1.0


def _sectors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The angular sector (of ``SECTORS``) of each point around the axis."""
    turn = (np.arctan2(y, x) + np.pi) / (2 * np.pi)
    return np.floor(turn * SECTORS).astype(np.int64) % SECTORS
