"""part3d's own FBX codec: a byte layer (``nodes``) and a scene layer (``scene``, ``writer``)."""

from __future__ import annotations

from pathlib import Path

from part3d.io.fbx.nodes import FbxDocument, FbxNode, parse
from part3d.io.fbx.scene import read_scene
from part3d.model import Scene

__all__ = ["FbxDocument", "FbxNode", "parse", "read", "read_scene"]


def read(path: str | Path) -> Scene:
    """Read an FBX file (binary or ASCII, 6100 and later) into a scene."""
    path = Path(path)
    data = path.read_bytes()
    doc = parse(data, path.name)
    return read_scene(doc, path.name)
