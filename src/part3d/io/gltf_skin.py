"""Skinned glTF meshes at rest: the glTF spec places a skinned mesh by its joints, not by its
node's transform (which it ignores). At rest each vertex moves by the weighted sum of its
joints' ``world(joint) @ inverseBindMatrix``; trimesh ignores skins, so part3d applies them.

``skinned_positions(path, fmt)`` reads the document and its binary buffer and returns, for each
skinned mesh node (by node index), either one 4x4 matrix (when every joint's matrix is the same,
the common case of a model exported in its bind pose) or per-vertex skinning data.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_COMPONENTS = {5120: "i1", 5121: "u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass
class Skin:
    """How to place one skinned mesh node: ``matrix`` (4, 4) for the whole mesh, or
    ``joints`` (v, 4) int / ``weights`` (v, 4) float per vertex with ``matrices`` (j, 4, 4)."""

    matrix: np.ndarray | None = None
    joints: np.ndarray | None = None
    weights: np.ndarray | None = None
    matrices: np.ndarray | None = None

    def apply(self, vertices: np.ndarray) -> np.ndarray | None:
        """(v, 3) world positions of mesh-space ``vertices``, or None when the per-vertex data
        does not match them."""
        if self.matrix is not None:
            return vertices @ self.matrix[:3, :3].T + self.matrix[:3, 3]
        if self.joints is None or len(self.joints) != len(vertices):
            return None
        total = self.weights.sum(axis=1, keepdims=True)
        w = np.divide(self.weights, total, out=np.zeros_like(self.weights), where=total > 0)
        blended = np.einsum("vk,vkij->vij", w, self.matrices[self.joints])
        return np.einsum("vij,vj->vi", blended[:, :3, :3], vertices) + blended[:, :3, 3]


def _document(path: Path, fmt: str) -> tuple[dict, bytes | None]:
    data = path.read_bytes()
    if fmt == "glb":
        length = struct.unpack_from("<I", data, 12)[0]
        doc = json.loads(data[20 : 20 + length])
        pos = 20 + length
        pos += (-pos) % 4
        binary = None
        if pos + 8 <= len(data):
            chunk_len, kind = struct.unpack_from("<II", data, pos)
            if kind == 0x004E4942:  # "BIN\0"
                binary = data[pos + 8 : pos + 8 + chunk_len]
        return doc, binary
    return json.loads(data.decode("utf-8")), None


def _buffer(doc: dict, index: int, binary: bytes | None, folder: Path) -> bytes:
    buf = doc["buffers"][index]
    uri = buf.get("uri")
    if uri is None:
        if binary is None:
            raise ValueError("buffer without data")
        return binary
    if uri.startswith("data:"):
        return base64.b64decode(uri.split(",", 1)[1])
    target = (folder / uri).resolve()
    if folder.resolve() not in target.parents:
        raise ValueError("buffer outside the model's folder")
    return target.read_bytes()


def _accessor(doc: dict, index: int, binary: bytes | None, folder: Path, cache: dict):
    acc = doc["accessors"][index]
    dtype = np.dtype(_COMPONENTS[acc["componentType"]])
    width = _WIDTH[acc["type"]]
    count = int(acc["count"])
    if "bufferView" not in acc:
        return np.zeros((count, width), dtype=dtype)
    view = doc["bufferViews"][acc["bufferView"]]
    key = view["buffer"]
    if key not in cache:
        cache[key] = _buffer(doc, key, binary, folder)
    raw = cache[key]
    start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
    stride = int(view.get("byteStride", 0)) or dtype.itemsize * width
    needed = start + stride * (count - 1) + dtype.itemsize * width if count else start
    if needed > len(raw):
        raise ValueError("accessor runs past its buffer")
    arr = np.ndarray((count, width), dtype=dtype, buffer=raw, offset=start,
                     strides=(stride, dtype.itemsize))  # fmt: skip
    out = np.array(arr)
    if acc.get("normalized") and dtype.kind == "u":
        out = out / float(np.iinfo(dtype).max)
    return out


def _local(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    m = np.eye(4)
    x, y, z, w = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    m[:3, :3] = rot * np.asarray(node.get("scale", (1.0, 1.0, 1.0)))[None, :]
    m[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return m


def _world_matrices(doc: dict) -> list[np.ndarray]:
    nodes = doc.get("nodes", [])
    parent = [-1] * len(nodes)
    for i, node in enumerate(nodes):
        for c in node.get("children", []):
            if 0 <= c < len(nodes):
                parent[c] = i
    world: list[np.ndarray | None] = [None] * len(nodes)
    for i in range(len(nodes)):
        chain, n = [], i
        while n >= 0 and world[n] is None and len(chain) <= len(nodes):
            chain.append(n)
            n = parent[n]
        base = world[n] if n >= 0 and world[n] is not None else np.eye(4)
        for k in reversed(chain):
            base = base @ _local(nodes[k])
            world[k] = base
    return world  # type: ignore[return-value]


def skins(path: Path, fmt: str) -> dict[int, Skin]:
    """Node index -> how to place that skinned mesh node at rest. Empty when the file has no
    skin or its skin data cannot be read (the node transforms are used then)."""
    try:
        doc, binary = _document(path, fmt)
        if not doc.get("skins"):
            return {}
        world = _world_matrices(doc)
        cache: dict = {}
        out: dict[int, Skin] = {}
        for index, node in enumerate(doc.get("nodes", [])):
            if "skin" not in node or "mesh" not in node:
                continue
            skin = doc["skins"][node["skin"]]
            joints = skin["joints"]
            if "inverseBindMatrices" in skin:
                ibm = _accessor(doc, skin["inverseBindMatrices"], binary, path.parent, cache)
                ibm = ibm.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
            else:
                ibm = np.tile(np.eye(4), (len(joints), 1, 1))
            matrices = np.stack([world[j] for j in joints]) @ ibm[: len(joints)]
            if np.allclose(matrices, matrices[0], atol=1e-6 * max(1.0, np.abs(matrices).max())):
                out[index] = Skin(matrix=matrices[0])
                continue
            joint_rows, weight_rows = [], []
            for prim in doc["meshes"][node["mesh"]].get("primitives", []):
                attrs = prim.get("attributes", {})
                if "JOINTS_0" not in attrs or "WEIGHTS_0" not in attrs:
                    break
                if "KHR_draco_mesh_compression" in prim.get("extensions", {}):
                    break  # compressed weights: not readable without decoding the primitive
                joint_rows.append(_accessor(doc, attrs["JOINTS_0"], binary, path.parent, cache))
                weight_rows.append(_accessor(doc, attrs["WEIGHTS_0"], binary, path.parent, cache))
            else:
                if joint_rows:
                    j = np.concatenate(joint_rows).astype(np.int64)
                    w = np.concatenate(weight_rows).astype(np.float64)
                    j = np.clip(j, 0, len(joints) - 1)
                    out[index] = Skin(joints=j, weights=w, matrices=matrices)
        return out
    except (OSError, ValueError, KeyError, IndexError, TypeError, struct.error):
        return {}
