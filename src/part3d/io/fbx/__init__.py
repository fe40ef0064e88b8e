"""part3d's own FBX codec: a byte layer (``nodes``) and a scene layer (``scene``, ``writer``)."""

from __future__ import annotations

from pathlib import Path

from part3d.errors import InputError, LimitExceededError
from part3d.io.fbx.nodes import FbxDocument, FbxNode, parse
from part3d.io.fbx.scene import read_scene
from part3d.model import Scene

__all__ = ["FbxDocument", "FbxNode", "parse", "read", "read_scene"]

#: Largest FBX file read (bytes); Tencent's API takes models up to 200 MB.
MAX_FILE_BYTES = 2 * 10**9


def read(path: str | Path) -> Scene:
    """Read an FBX file (binary or ASCII, 6100 and later) into a scene."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read the file ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise LimitExceededError(
            f"{path.name}: the file is {size / 1e6:.0f} MB, "
            f"over the {MAX_FILE_BYTES // 10**6} MB limit"
        )
    # The file's bytes are dropped as soon as the node tree exists (arrays that are not
    # compressed keep their part of them alive through numpy views).
    doc = parse(path.read_bytes(), path.name)
    return read_scene(doc, path.name)
