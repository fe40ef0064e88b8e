"""Compare what part3d reads from an FBX file with ``reference.json`` (ufbx's reading).

The recipe is the corpus README's: counts, material names, normals and UV sets exactly; areas
and bounding boxes within 1e-4 relative.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np

FBX_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fbx"
TOL = 1e-4


@cache
def reference() -> dict:
    return json.loads((FBX_DIR / "reference.json").read_text())["files"]


def _num(v) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "inf"))


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= TOL * max(abs(b), scale) + 1e-12


def _bbox_ok(ours: np.ndarray | None, ref: list | None) -> bool:
    if ref is None:
        return ours is None
    if ours is None:
        return False
    ref = [_num(x) for x in ref]
    extent = max(ref[3] - ref[0], ref[4] - ref[1], ref[5] - ref[2])
    flat = list(ours[0]) + list(ours[1])
    return all(_close(a, b, extent) for a, b in zip(flat, ref, strict=True))


def _area_ok(ours: float, ref: dict) -> bool:
    area = _num(ref["area"])
    if _close(ours, area, area):
        return True
    if "area_fan" in ref:
        fan = _num(ref["area_fan"])
        lo, hi = min(area, fan), max(area, fan)
        return lo * (1 - TOL) <= ours <= hi * (1 + TOL) or _close(ours, fan, fan)
    return False


def _mesh_record(mesh) -> dict:
    sizes = mesh.polygon_sizes
    return {
        "vertices": len(mesh.vertices),
        "polygons": int((sizes >= 3).sum()),
        "small_faces": int(((sizes > 0) & (sizes < 3)).sum()),
        "triangles": len(mesh.tri_face),
        "materials": [m.name for m in mesh.materials],
        "normals": mesh.normal_values is not None,
        "uv_sets": len(mesh.uv_set_names),
    }


def compare(scene, ref: dict) -> list[str]:
    """Differences between a loaded scene and a reference entry's ``ufbx`` record (empty: match)."""
    problems: list[str] = []
    instances = ref["instances"]
    if len(scene.meshes) != len(instances):
        return [f"{len(scene.meshes)} mesh instances, reference has {len(instances)}"]
    # Match instances by node name; within one name, by order of appearance.
    ours_by_name: dict[str, list] = {}
    ref_names = {inst["node"] for inst in instances}
    for mesh in scene.meshes:
        name = mesh.name
        base, _, suffix = name.rpartition("_")
        if name not in ref_names and suffix.isdigit() and base in ref_names:
            name = base
        ours_by_name.setdefault(name, []).append(mesh)
    ref_by_name: dict[str, list] = {}
    for inst in instances:
        ref_by_name.setdefault(inst["node"], []).append(inst)
    for name, refs in ref_by_name.items():
        ours = ours_by_name.get(name, [])
        if len(ours) != len(refs):
            problems.append(f"node {name!r}: {len(ours)} meshes, reference has {len(refs)}")
            continue
        key = lambda r: (r["vertices"], r["polygons"], r["triangles"])  # noqa: E731
        ours_rec = sorted(((_mesh_record(m), m) for m in ours), key=lambda t: key(t[0]))
        refs = sorted(refs, key=key)
        for (rec, mesh), inst in zip(ours_rec, refs, strict=True):
            for field in (
                "vertices",
                "polygons",
                "small_faces",
                "triangles",
                "materials",
                "normals",
                "uv_sets",
            ):
                if rec[field] != inst[field]:
                    problems.append(f"node {name!r}: {field} {rec[field]!r} != {inst[field]!r}")
            if not _area_ok(mesh.area(), inst):
                problems.append(f"node {name!r}: area {mesh.area():.7g} != {inst['area']}")
            if not _bbox_ok(mesh.bounds(), inst["bbox"]):
                problems.append(f"node {name!r}: bbox {mesh.bounds()} != {inst['bbox']}")
    totals = ref["totals"]
    if not _bbox_ok(scene.bounds(), totals["bbox"]):
        problems.append(f"total bbox {scene.bounds()} != {totals['bbox']}")
    total_area = sum(m.area() for m in scene.meshes)
    if not _area_ok(total_area, totals):
        problems.append(f"total area {total_area:.7g} != {totals['area']}")
    if not math.isclose(scene.unit_meters, _num(ref["unit_meters"]), rel_tol=1e-6):
        problems.append(f"unit {scene.unit_meters} != {ref['unit_meters']}")
    ref_axes = tuple("?" if a == "6" else a for a in ref["axes"])
    if tuple(scene.axes) != ref_axes:
        problems.append(f"axes {scene.axes} != {ref_axes}")
    return problems
