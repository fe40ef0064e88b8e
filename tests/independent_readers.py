"""Open files with independent readers in subprocesses (their bindings can crash the process).

``python independent_readers.py ufbx|assimp FILE...`` prints one JSON object: for each file,
``{"meshes": {name: triangles}}`` (assimp adds ``"textures"``: each mesh's base colour texture
file, and ``"uvs"``: whether it has texture coordinates) or ``{"error": message}``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

_KEEP_ALIVE: list = []  # lives until os._exit


def _ufbx(paths: list[str]) -> dict:
    import ufbx

    # The ufbx 0.0.5 bindings crash when a wrapper they handed out is freed: disable the cycle
    # collector, keep every returned object alive, read each attribute once, and use copies.
    gc.disable()
    keep = _KEEP_ALIVE
    out = {}
    for path in paths:
        try:
            scene = ufbx.load_file(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is reported as data
            out[path] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        keep.append(scene)
        nodes = scene.nodes
        keep.append(nodes)
        meshes: dict[str, int] = {}
        for node in nodes:
            keep.append(node)
            name = node.name
            keep.append(name)
            mesh = node.mesh
            keep.append(mesh)
            if mesh is not None:
                triangles = mesh.num_triangles
                keep.append(triangles)
                key = name.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                meshes[key] = meshes.get(key, 0) + int(triangles)
        out[path] = {"meshes": meshes}
    return out


def _assimp(paths: list[str]) -> dict:
    import assimp_py

    out = {}
    for path in paths:
        try:
            scene = assimp_py.import_file(path, assimp_py.Process_Triangulate)
        except Exception as exc:  # noqa: BLE001
            out[path] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        meshes: dict[str, int] = {}
        textures: dict[str, str | None] = {}
        uvs: dict[str, bool] = {}
        for mesh in scene.meshes:
            material = scene.materials[mesh.material_index] if scene.materials else {}
            # assimp splits a node's mesh by material: keep what any of its pieces has.
            textures[mesh.name] = textures.get(mesh.name) or material.get("TEXTURE_BASE")
            has_uvs = bool(mesh.texcoords) and len(mesh.texcoords[0]) > 0
            uvs[mesh.name] = uvs.get(mesh.name, False) or has_uvs
            # Process_Triangulate leaves only triangles, lines and points; count the triangles.
            tris = mesh.num_faces if mesh.num_indices == 3 * mesh.num_faces else None
            if tris is None:
                out[path] = {"error": f"mesh {mesh.name!r} mixes triangles with points or lines"}
                break
            meshes[mesh.name] = meshes.get(mesh.name, 0) + tris
        else:
            out[path] = {"meshes": meshes, "textures": textures, "uvs": uvs}
    return out


def read_with(reader: str, paths: list[str], timeout: float = 300) -> dict:
    """Run ``reader`` on ``paths`` in a fresh interpreter and return its findings."""
    proc = subprocess.run(
        [sys.executable, __file__, reader, *paths], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{reader} exited with {proc.returncode}: {proc.stderr[-1000:]}")
    return json.loads(proc.stdout)


if __name__ == "__main__":
    result = {"ufbx": _ufbx, "assimp": _assimp}[sys.argv[1]](sys.argv[2:])
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)
