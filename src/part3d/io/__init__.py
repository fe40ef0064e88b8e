"""Reading and writing models: ``load(path) -> Scene`` and ``save(scene, path)``.

The format follows the file extension: FBX through part3d's own codec, OBJ, glTF/GLB, STL,
PLY and OFF through trimesh.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from part3d.errors import CorruptFileError, EmptySceneError, InputError, UnsupportedFormatError
from part3d.io.triangulate import triangulate
from part3d.model import Material, Mesh, Scene

READ_FORMATS = ("fbx", "obj", "gltf", "glb", "stl", "ply", "off")
WRITE_FORMATS = ("fbx", "obj", "glb", "stl", "ply")


def _format(path: Path, allowed: tuple[str, ...], verb: str) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in allowed:
        what = f"cannot {verb} '.{ext}' files" if ext else "no file extension to tell the format"
        raise UnsupportedFormatError(f"{path.name}: {what} (supported: {', '.join(allowed)})")
    return ext


def load(path: str | Path, max_faces: int | None = None) -> Scene:
    """Read a model file into a :class:`~part3d.model.Scene` (format by extension).
    ``max_faces`` lets readers refuse, before inflating them, files that declare far more
    data than that many faces need (FBX)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a model file")
    fmt = _format(path, READ_FORMATS, "read")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if fmt == "fbx":
        from part3d.io import fbx

        scene = fbx.read(path, max_faces=max_faces)
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


def save(scene: Scene, path: str | Path, *, ascii: bool = False, face_order: bool = False) -> Path:
    """Write ``scene`` to ``path`` (format by extension); returns the path written.

    ``face_order``: keep every mesh's faces in their order in GLB too (one primitive per mesh,
    several materials as vertex colours, no UVs); otherwise a GLB mesh of several materials
    or with UVs gets one primitive per material, with its UVs and texture."""
    path = Path(path)
    fmt = _format(path, WRITE_FORMATS, "write")
    if scene.polygon_count == 0:
        raise EmptySceneError(f"{path.name}: nothing to write, the scene has no polygons")
    if fmt == "fbx":
        from part3d.io.fbx import writer

        writer.write(scene, path, ascii=ascii)
    else:
        from part3d.io import meshes

        meshes.write(scene, path, fmt, face_order=face_order)
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


def build_mesh(
    name: str,
    vertices: np.ndarray,
    corners: np.ndarray,
    offsets: np.ndarray,
    *,
    face_material: np.ndarray | None = None,
    materials: list[Material] | None = None,
    normal_values: np.ndarray | None = None,
    normal_index: np.ndarray | None = None,
    uv_values: np.ndarray | None = None,
    uv_index: np.ndarray | None = None,
    uv_set_names: list[str] | None = None,
) -> Mesh:
    """A :class:`Mesh` from polygons given as flat corners plus offsets; triangulates them.

    Normals and UVs are ``values`` plus an optional per-corner ``index`` (see :class:`Mesh`).
    """
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    if len(vertices) and not np.isfinite(vertices).all():
        bad = int(np.flatnonzero(~np.isfinite(vertices).all(axis=1))[0])
        raise CorruptFileError(f"mesh {name!r}: vertex {bad} has a non-finite coordinate")
    corners = np.asarray(corners, dtype=np.int32)
    offsets = np.asarray(offsets, dtype=np.int32)
    tri_corners, tri_face = triangulate(vertices, corners, offsets)
    n_faces = len(offsets) - 1
    return Mesh(
        name=name,
        vertices=vertices,
        corners=corners,
        offsets=offsets,
        tri_corners=tri_corners,
        tri_face=tri_face,
        face_material=(
            np.zeros(n_faces, dtype=np.int32)
            if face_material is None
            else np.asarray(face_material, dtype=np.int32)
        ),
        normal_values=normal_values,
        normal_index=None if normal_index is None else np.asarray(normal_index, dtype=np.int32),
        uv_values=uv_values,
        uv_index=None if uv_index is None else np.asarray(uv_index, dtype=np.int32),
        uv_set_names=list(uv_set_names or ([] if uv_values is None else ["UVMap"])),
        materials=list(materials or []),
    )
