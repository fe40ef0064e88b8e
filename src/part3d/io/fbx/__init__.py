"""part3d's own FBX codec: a byte layer (``nodes``) and a scene layer (``scene``, ``writer``)."""

from __future__ import annotations

from pathlib import Path

from part3d.errors import CorruptFileError, InputError, LimitExceededError
from part3d.io.fbx.nodes import FbxDocument, FbxNode, parse
from part3d.io.fbx.scene import read_scene
from part3d.model import Scene

__all__ = ["FbxDocument", "FbxNode", "parse", "read", "read_scene"]

#: Array bytes a face may need at most, all layers together (positions, indices, normals,
#: UVs, tangents, colours per corner, with room to spare): 1.5 M faces -> 1.5 GB.
BYTES_PER_FACE = 1024
#: Largest FBX file read (bytes); Tencent's API takes models up to 200 MB.
MAX_FILE_BYTES = 2 * 10**9


def read(path: str | Path, max_faces: int | None = None) -> Scene:
    """Read an FBX file (binary or ASCII, 6100 and later) into a scene. With ``max_faces``,
    the arrays a file declares may take at most BYTES_PER_FACE bytes a face in all: a file
    declaring more is refused before anything is inflated."""
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
    budget = None if max_faces is None else max(max_faces * BYTES_PER_FACE, 1 << 20)
    try:
        doc = parse(path.read_bytes(), path.name, budget)
    except CorruptFileError as exc:
        if budget is not None and "arrays would take more than" in str(exc):
            raise LimitExceededError(
                f"{path.name}: its arrays declare more data than a model of {max_faces} faces "
                f"can hold ({budget >> 20} MB); refused before inflating"
            ) from None
        raise
    return read_scene(doc, path.name, path.parent)
