"""Reading and writing models: ``load(path) -> Scene`` and ``save(scene, path)``.

The format follows the file extension: FBX through part3d's own codec, OBJ, glTF/GLB, STL,
PLY and OFF through trimesh.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from part3d.errors import EmptySceneError, InputError, UnsupportedFormatError
from part3d.model import Scene

READ_FORMATS = ("fbx", "obj", "gltf", "glb", "stl", "ply", "off")
WRITE_FORMATS = ("fbx", "obj", "glb", "stl", "ply")


def _format(path: Path, allowed: tuple[str, ...], verb: str) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in allowed:
        what = f"cannot {verb} '.{ext}' files" if ext else "no file extension to tell the format"
        raise UnsupportedFormatError(f"{path.name}: {what} (supported: {', '.join(allowed)})")
    return ext


def load(path: str | Path) -> Scene:
    """Read a model file into a :class:`~part3d.model.Scene` (format by extension)."""
    path = Path(path)
    fmt = _format(path, READ_FORMATS, "read")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a model file")
    if fmt == "fbx":
        from part3d.io import fbx

        scene = fbx.read(path)
    else:
        from part3d.io import meshes

        scene = meshes.read(path, fmt)
    if not scene.meshes:
        raise EmptySceneError(f"{path.name}: the file contains no mesh")
    if scene.polygon_count == 0 or all(len(m.tri_face) == 0 for m in scene.meshes):
        raise EmptySceneError(
            f"{path.name}: the file's meshes have no faces (only points, lines or empty meshes)"
        )
    return scene


def save(scene: Scene, path: str | Path, *, ascii: bool = False) -> Path:
    """Write ``scene`` to ``path`` (format by extension); returns the path written."""
    path = Path(path)
    fmt = _format(path, WRITE_FORMATS, "write")
    if scene.polygon_count == 0:
        raise EmptySceneError(f"{path.name}: nothing to write, the scene has no polygons")
    if fmt == "fbx":
        from part3d.io.fbx import writer

        writer.write(scene, path, ascii=ascii)
    else:
        from part3d.io import meshes

        meshes.write(scene, path, fmt)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so that readers
    never see a half-written file; the file gets the usual permissions (0666 less the umask)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
