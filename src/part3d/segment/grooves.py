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
turn around (most of them roughly, or, on a machined part whose flanges and bolt holes hide it,
half of them or more exactly).

Flutes are the same texture turned a quarter: concave creases *along* an axis, side by side
all the way round it (a fluted screwdriver handle, a faceted goblet, a grooved column). A
boundary is damped when most of its crease length runs along the axis among them: at each of
those points, creases along the axis at about its radius run on both sides of it round the
axis (``FLUTE_GAP`` to ``FLUTE_ANGLE`` radians away) and on along the axis above or below it;
the section of the surface there is round (no fins reaching far out); and the creases near
the boundary repeat evenly all the way round (``_comb``: a figure's limbs beside its body
make creases along it on two sides only). Where a boundary crosses a smooth cap, or follows
a crease round the axis (a guard, a cap's rim), it has no flute evidence and keeps its own.
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
#: Flutes: creases within ``FLUTE_COS`` of the surface's main crease direction are along it;
#: they make a series when they hold ``FLUTE_SHARE`` of the crease length.
FLUTE_COS = 0.8
FLUTE_SHARE = 0.3
#: Round the axis, a flute on either side of a boundary point lies ``FLUTE_GAP`` to
#: ``FLUTE_ANGLE`` radians away (beyond the concave band of a flute the point may lie in),
#: within ``WINDOW`` radii along the axis, with at least ``FLUTE`` radii of crease length; the
#: band of flutes goes on ``GAP`` to ``WINDOW`` radii above or below it.
FLUTE_GAP = 0.2
FLUTE_ANGLE = 1.7
FLUTE = 0.25
#: Flutes are a comb round the axis: near the boundary, the creases along the axis at its
#: radius, counted in ``COMB_SECTORS`` sectors (a sector is taken when it holds ``COMB_FLOOR``
#: of the fullest one's length), repeat at least ``FLUTES`` times round it: the strongest
#: harmonic of the taken sectors has that period and ``COMB_POWER`` of their count, and
#: no stretch of empty sectors is longer than ``COMB_GAP`` periods (the creases beside a
#: figure's limbs are on two sides of it, not all the way round).
COMB_SECTORS = 36
COMB_FLOOR = 0.2
FLUTES = 4
COMB_POWER = 0.45
COMB_GAP = 1.5
#: ... and the surface there is a round section: within ``WINDOW`` radii along the axis of a
#: boundary point, nothing reaches further from the axis than ``SECTION`` times the median
#: reach of the surface there (the creases where a fuselage meets its tail fins are along
#: the axis and round it too, but the fins reach far out).
SECTION = 1.6
SECTION_BINS = 256
#: A surface has flutes only if, in one of ``SLABS`` - 1 overlapping slabs along the axis, its
#: creases along it are a comb round it (``_comb``).
SLABS = 12
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
        self._crease_mid = midpoints[self.crease_ids]
        self._crease_len = length[self.crease_ids]
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
        self.flute_axis = self._flute_axis()
        if self.flute_axis is not None:
            c = self.crease_ids[
                np.abs(self.tangents[self.crease_ids] @ self.flute_axis) > FLUTE_COS
            ]
            w = self.length[c]
            self._flute_weight = w
            self._flute_origin = (self.midpoints[c] * w[:, None]).sum(axis=0) / max(w.sum(), 1e-300)
            q = self.midpoints[c] - self._flute_origin
            self._flute_step = q @ self.flute_axis
            across = q - np.outer(self._flute_step, self.flute_axis)
            self._flute_radius = np.linalg.norm(across, axis=1)
            u, v = plane_basis(self.flute_axis)
            self._flute_turn = np.arctan2(across @ v, across @ u)
            if not self._combed():
                self.flute_axis = None
        if self.flute_axis is not None:
            # How far the surface reaches from the axis, by height along it (``SECTION_BINS``
            # slices): the section round a fluted part is round, not a fuselage with fins.
            q = self.midpoints - self._flute_origin
            h = q @ self.flute_axis
            reach = np.linalg.norm(q - np.outer(h, self.flute_axis), axis=1)
            self._section_low = float(h.min())
            self._section_step = max(float(h.max() - h.min()) / SECTION_BINS, 1e-300)
            slot = np.minimum(
                ((h - self._section_low) / self._section_step).astype(np.int64), SECTION_BINS - 1
            )
            self._section_far = np.zeros(SECTION_BINS)
            np.maximum.at(self._section_far, slot, reach)
            order = np.lexsort((reach, slot))
            counts = np.bincount(slot, minlength=SECTION_BINS)
            first = np.concatenate([[0], np.cumsum(counts)[:-1]])
            self._section_mid = np.where(
                counts > 0, reach[order][np.minimum(first + counts // 2, len(reach) - 1)], 0.0
            )

    def _combed(self) -> bool:
        """Whether, in some two neighbouring slabs of ``SLABS`` along the flute axis, the creases
        along it are a comb round it (``_comb``). Most surfaces have none: their boundaries are
        spared the flute test."""
        h = self._flute_step
        edges = np.linspace(float(h.min()), float(h.max()), SLABS + 1)
        for lo, hi in zip(edges[:-2], edges[2:], strict=True):
            slab = (h >= lo) & (h <= hi)
            if _comb(self._flute_turn[slab], self._flute_weight[slab]):
                return True
        return False

    def _flute_axis(self) -> np.ndarray | None:
        """The direction most of the surface's creases run along, when at least
        ``FLUTE_SHARE`` of their length does, else None."""
        c = self.crease_ids
        if len(c) < 12:
            return None
        t, w = self.tangents[c], self.length[c]
        along = np.ones(len(c), dtype=bool)
        for _ in range(3):  # the main direction of the creases along it, refined
            tw = t[along]
            direction = np.linalg.eigh((tw * w[along, None]).T @ tw)[1][:, 2]
            along = np.abs(t @ direction) > FLUTE_COS
            if not along.any():
                return None
        if float(w[along].sum()) < FLUTE_SHARE * float(w.sum()):
            return None
        return direction

    def _among_flutes(self, edge_ids: np.ndarray) -> bool:
        """Whether most of the boundary's crease length runs along the axis among flutes
        (``_flute_zone``): where it crosses a smooth cap or the smooth ends of the flutes it
        has little evidence to damp, and where it follows a crease round the axis (a guard, a
        cap's rim) it is no flute."""
        if self.flute_axis is None or len(self._flute_weight) == 0:
            return False
        creased = self.length[edge_ids] * (self._slot[edge_ids] >= 0)
        total = float(creased.sum())
        if total <= 0:
            return False
        inside, near = self._flute_zone(edge_ids)
        along = np.abs(self.tangents[edge_ids] @ self.flute_axis) > FLUTE_COS
        if float(creased[inside & along].sum()) < ZONE_SHARE * total:
            return False
        return _comb(self._flute_turn[near], self._flute_weight[near])

    def _flute_zone(self, edge_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of the edges lie among flutes (creases along the axis at about the edge's
        radius on both sides round it, the band of flutes going on above or below it, a round
        section there: ``_round_section``), and
        which of the creases along the axis are near those edges (at their radius, within
        ``WINDOW`` radii along the axis)."""
        axis = self.flute_axis
        m = self.midpoints[edge_ids] - self._flute_origin
        dm = m @ axis
        pm = m - np.outer(dm, axis)
        rm = np.linalg.norm(pm, axis=1)
        u, v = plane_basis(axis)
        turn_m = np.arctan2(pm @ v, pm @ u)
        inside = np.zeros(len(edge_ids), dtype=bool)
        near = np.zeros(len(self._flute_weight), dtype=bool)
        w = self._flute_weight[None, :]
        for start in range(0, len(edge_ids), ZONE_ROWS):  # bounded memory: rows x creases
            r = slice(start, start + ZONE_ROWS)
            rr = rm[r, None]
            step = self._flute_step[None, :] - dm[r, None]
            near_r = np.abs(self._flute_radius[None, :] - rr) < COAXIAL * rr
            turn = (self._flute_turn[None, :] - turn_m[r, None] + np.pi) % (2 * np.pi) - np.pi
            level = near_r & (np.abs(step) <= WINDOW * rr)
            side = level & (np.abs(turn) >= FLUTE_GAP) & (np.abs(turn) <= FLUTE_ANGLE)
            left = ((side & (turn < 0)) * w).sum(axis=1)
            right = ((side & (turn > 0)) * w).sum(axis=1)
            band = near_r & (np.abs(turn) <= FLUTE_ANGLE)
            lo, hi = GAP * rr, WINDOW * rr
            below = ((band & (step < -lo) & (step >= -hi)) * w).sum(axis=1)
            above = ((band & (step > lo) & (step <= hi)) * w).sum(axis=1)
            need = FLUTE * rm[r]
            inside[r] = (
                (rm[r] > 0) & (left >= need) & (right >= need) & ((below >= need) | (above >= need))
            )
            for i in start + np.flatnonzero(inside[r]):
                inside[i] = self._round_section(float(dm[i]), float(rm[i]))
            near |= level[inside[r]].any(axis=0)
        return inside, near

    def _round_section(self, height: float, radius: float) -> bool:
        """Whether the surface within ``WINDOW`` radii of ``height`` along the flute axis
        reaches no further from it than ``SECTION`` times its median reach there."""
        a = max(int((height - WINDOW * radius - self._section_low) / self._section_step), 0)
        b = max(int((height + WINDOW * radius - self._section_low) / self._section_step) + 1, a + 1)
        mid = self._section_mid[a:b]
        mid = mid[mid > 0]
        return mid.size == 0 or float(self._section_far[a:b].max()) <= SECTION * _median(mid)

    def _series_axis(self) -> np.ndarray | None:
        """The axis the surface's creases turn around, when most of them do (a finned or
        fluted part): the normal of their tangents' plane; or, when their scatter has no
        such plane, the axis half of them or more turn around exactly (a machined part,
        ``AXIS_SHARE``, ``AXIS_EXACT``)."""
        c = self.crease_ids
        if len(c) < 12:
            return None
        t, w = self.tangents[c], self.length[c]
        values, vectors = np.linalg.eigh((t * w[:, None]).T @ t)
        trace = float(values.sum())
        if trace <= 0 or values[1] < SPREAD * trace:
            return None
        if values[0] <= AXIS_FLAT * trace:
            return vectors[:, 0]
        # A machined part: most of its creases exactly square to one axis (fins, grooves,
        # bores), beside others (a flange's edges, bolt holes, ports) that hide it from the
        # scatter of all of them. The direction most crease length is square to, refined on
        # those creases, is its axis when they are square to it within a few degrees.
        dirs = _half_sphere(AXIS_CANDIDATES)
        # Written out, not a BLAS product: the same bits (and choice) on every CPU.
        dots = t[:, :1] * dirs[:, 0] + t[:, 1:2] * dirs[:, 1] + t[:, 2:] * dirs[:, 2]
        square = (np.abs(dots) < PARALLEL) * w[:, None]
        axis = dirs[int(np.argmax(square.sum(axis=0)))]
        for _ in range(AXIS_ROUNDS):
            keep = np.abs(t @ axis) < PARALLEL
            if float(w[keep].sum()) < AXIS_SHARE * float(w.sum()):
                return None
            tk = t[keep]
            values, vectors = np.linalg.eigh((tk * w[keep, None]).T @ tk)
            axis = vectors[:, 0]
        trace = float(values.sum())
        if values[0] > AXIS_EXACT * trace or values[1] < SPREAD * trace:
            return None
        return axis

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
        if self._among_flutes(edge_ids):
            return DAMP
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
        radius = _median(np.linalg.norm(rel - np.outer(offset, axis), axis=1))
        if radius <= 0:
            return 1.0
        lo, hi = float(offset.min()), float(offset.max())
        # Only creases within reach can count (at about the radius, within ``WINDOW`` radii
        # beyond the loop's ends along the axis): the rest are left out first, and if those
        # within reach are too short to make a series, the test ends there. (The same answer:
        # a bound with a margin for rounding.)
        reach = ((1.0 + COAXIAL) * radius) ** 2 + (max(-lo, hi) + WINDOW * radius) ** 2
        rel_c = self._crease_mid - center
        within = (
            rel_c[:, 0] * rel_c[:, 0] + rel_c[:, 1] * rel_c[:, 1] + rel_c[:, 2] * rel_c[:, 2]
        ) <= reach * (1.0 + 1e-9)
        own = self._slot[edge_ids]
        within[own[own >= 0]] = False
        if float(self._crease_len[within].sum()) * (1.0 + 1e-9) < SIDE * min(2.0, END) * total:
            return 1.0
        c = self.crease_ids[within]
        q = self.midpoints[c] - center
        d = q @ axis
        rho = np.linalg.norm(q - np.outer(d, axis), axis=1)
        ok = (np.abs(self.tangents[c] @ axis) < PARALLEL) & (
            np.abs(rho - radius) < COAXIAL * radius
        )
        # Around the axis: a groove of the series goes as far round as the boundary does
        # (the creases where limbs join a body near a neck do not).
        u, v = plane_basis(axis)
        own = np.flatnonzero(np.bincount(_sectors(rel @ u, rel @ v), minlength=SECTORS))
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


#: A machined part's axis among other creases (``Grooves._series_axis``): of
#: ``AXIS_CANDIDATES`` directions, the one most crease length is square to, refined
#: ``AXIS_ROUNDS`` times on the creases square to it, which hold at least ``AXIS_SHARE`` of
#: the crease length and are square to it within a few degrees (the smallest eigenvalue of
#: their tangents' scatter under ``AXIS_EXACT`` of the total: 2CylinderEngine's finned
#: cylinders and heads 0-0.0054; the voxel terraces of two remeshed PSB models (sigma 0.8:
#: an airplane, a table) 0.009-0.0096, whose wing root a series would hide; PSB airplanes,
#: fish and busts whose creases are roughly square to a direction 0.013-0.027).
AXIS_CANDIDATES = 256
AXIS_ROUNDS = 3
AXIS_SHARE = 0.5
AXIS_EXACT = 0.007


def _half_sphere(n: int) -> np.ndarray:
    """(n, 3) unit vectors spread evenly over the upper half sphere (a Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1.0 - i / n
    r = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    turn = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.stack([r * np.cos(turn), r * np.sin(turn), z], axis=1)


def _comb(turn: np.ndarray, weight: np.ndarray) -> bool:
    """Whether creases at angles ``turn`` round an axis (with lengths ``weight``) are a comb:
    the sectors they take repeat with a period of at least ``FLUTES`` turns round the axis
    (the strongest harmonic of the taken sectors, at ``COMB_POWER`` of their count or more)
    and leave no empty stretch longer than ``COMB_GAP`` periods."""
    if len(turn) == 0:
        return False
    sector = np.floor((turn + np.pi) / (2 * np.pi) * COMB_SECTORS).astype(np.int64) % COMB_SECTORS
    held = np.bincount(sector, weights=weight, minlength=COMB_SECTORS)
    taken = (held > COMB_FLOOR * held.max()).astype(np.float64)
    spectrum = np.round(np.abs(np.fft.rfft(taken)), 9)  # ties break alike on any machine
    k = 1 + int(np.argmax(spectrum[1:]))
    if k < FLUTES or spectrum[k] < COMB_POWER * spectrum[0]:
        return False
    # ... all the way round: no run of empty sectors longer than ``COMB_GAP`` periods.
    empty = np.roll(taken == 0, -int(np.argmax(taken)))  # starts on a taken sector
    edges = np.diff(np.concatenate([[0], empty.astype(np.int8), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return runs.size == 0 or int(runs.max()) <= COMB_GAP * COMB_SECTORS / k


def _median(x: np.ndarray) -> float:
    """``np.median`` of a short 1-d array, the same number in a tenth of the time (it is
    taken for every boundary tested)."""
    s = np.sort(x)
    m = len(s) // 2
    return float(s[m]) if len(s) % 2 else float((s[m - 1] + s[m]) / 2)


def _sectors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The angular sector (of ``SECTORS``) of each point around the axis."""
    turn = (np.arctan2(y, x) + np.pi) / (2 * np.pi)
    return np.floor(turn * SECTORS).astype(np.int64) % SECTORS
