"""Big benchmark models: made from a sample (WusonOBJ.obj subdivided, first N triangles kept,
smooth per-vertex normals, as exporters write them), and a scene of many small meshes (a game
level's props: every mesh is a part, so every stage runs once per part)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from part3d.io import load
from part3d.io.meshes import build_mesh
from part3d.model import Scene

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "models" / "WusonOBJ.obj"


def wuson(triangles: int) -> Scene:
    """A one-mesh scene of exactly ``triangles`` triangles."""
    base = load(SOURCE).meshes[0]
    v, f = base.vertices, base.triangles
    while len(f) < triangles:
        v, f = trimesh.remesh.subdivide(v, f)
    f = f[:triangles]
    used, inverse = np.unique(f.reshape(-1), return_inverse=True)
    v, f = v[used], inverse.reshape(-1, 3)
    normals = trimesh.Trimesh(v, f, process=False).vertex_normals
    corners = f.reshape(-1)
    mesh = build_mesh(
        "wuson",
        v,
        corners,
        np.arange(0, len(corners) + 1, 3),
        normal_values=normals,
        normal_index=corners,
    )
    return Scene([mesh], unit_meters=1.0, format="bench")


def boxes(meshes: int, seed: int = 0) -> Scene:
    """A scene of ``meshes`` separate meshes, each a box of twelve triangles, scattered."""
    rng = np.random.default_rng(seed)
    box = trimesh.creation.box((0.5, 0.5, 0.5))
    corners = box.faces.reshape(-1)
    offsets = np.arange(0, len(corners) + 1, 3)
    side = 3.0 * meshes ** (1 / 3)  # one box per 27 cubic units, on average
    at = rng.uniform(0, side, (meshes, 3))
    out = [build_mesh(f"box{i}", box.vertices + p, corners, offsets) for i, p in enumerate(at)]
    return Scene(out, unit_meters=1.0, format="bench")
