"""OBJ, glTF/GLB, STL, PLY and OFF into and out of the scene model.

glTF/GLB, STL, PLY and OFF go through trimesh with processing off, so face order is kept:
glTF gives one mesh per node (its primitives concatenated in order), the others one mesh.

OBJ is parsed here, because trimesh triangulates polygons while loading (reordering the
triangles of all-quad files) and drops points and lines, which would break the face-id
contract: a face id in an OBJ file is the index of its ``f`` line within its object or group,
and polygons keep their corners. The material library (``mtllib``) gives colours and textures.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from part3d.errors import CorruptFileError, InputError
from part3d.io import build_mesh, write_atomic
from part3d.model import Material, Mesh, Scene, unique_names

DEFAULT_COLOR = (0.8, 0.8, 0.8, 1.0)


# --------------------------------------------------------------------------- reading


def read(path: Path, fmt: str) -> Scene:
    """Read ``path`` in format ``fmt`` (obj, gltf, glb, stl, ply, off)."""
    if fmt == "obj":
        return read_obj(path)
    try:
        loaded = trimesh.load(str(path), file_type=fmt, process=False, merge_primitives=True)
    except InputError:
        raise
    except Exception as exc:  # trimesh raises many kinds; all mean the file is unusable
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptFileError(
            f"{path.name}: not a readable {fmt.upper()} file ({detail})"
        ) from None
    if fmt == "ply" and not isinstance(loaded, trimesh.Trimesh | trimesh.Scene):
        loaded = _ply_tristrips(loaded, path.name) or loaded
    scene = Scene(format=fmt, source=path.name)
    encoded: dict = {}  # each texture image encoded once, whatever shares it
    if isinstance(loaded, trimesh.Scene):
        nodes = list(loaded.graph.nodes_geometry)
        order: dict[str, int] = {}
        skinned: dict = {}
        if fmt in ("gltf", "glb"):
            from part3d.io.gltf_skin import skins

            order = _gltf_node_order(path, fmt)
            nodes.sort(key=lambda n: order.get(str(n), len(order)))
            skinned = skins(path, fmt)
        for node in nodes:
            transform, geom_name = loaded.graph[node]
            geom = loaded.geometry[geom_name]
            if not isinstance(geom, trimesh.Trimesh):
                continue  # point clouds and paths carry no faces
            skin = skinned.get(order.get(str(node), -1))
            if skin is not None:
                # A skinned mesh is placed by its joints at rest, not by its node (glTF spec).
                if skin.matrix is not None:
                    transform = skin.matrix
                else:
                    placed = skin.apply(np.asarray(geom.vertices, dtype=np.float64))
                    if placed is not None:
                        geom = trimesh.Trimesh(placed, geom.faces, visual=geom.visual,
                                               process=False)  # fmt: skip
                        transform = np.eye(4)
            # Unnamed glTF nodes get their index as a name: use the mesh's name instead.
            name = geom_name if str(node).isdigit() else str(node)
            scene.meshes.append(_from_trimesh(geom, name, transform, encoded))
    elif isinstance(loaded, trimesh.Trimesh):
        scene.meshes.append(_from_trimesh(loaded, path.stem, np.eye(4)))
    for mesh, name in zip(scene.meshes, unique_names([m.name for m in scene.meshes]), strict=True):
        mesh.name = name
    return scene


def _ply_tristrips(loaded, source: str) -> trimesh.Trimesh | None:
    """A PLY whose faces are triangle strips (``element tristrips``, as Cyberware's scans
    have): trimesh loads only its points. Each strip (-1 restarts it) becomes triangles with
    alternating winding; degenerate joins are dropped. Face ids follow the strips' order."""
    raw = getattr(loaded, "metadata", {}).get("_ply_raw", {})
    strips = raw.get("tristrips", {}).get("data", {}).get("vertex_indices")
    vertices = getattr(loaded, "vertices", None)
    if strips is None or vertices is None:
        return None
    out = []
    for row in strips:
        row = np.asarray(row, dtype=np.int64).reshape(-1)
        cuts = np.flatnonzero(row < 0)
        for run in np.split(row, cuts):
            run = run[run >= 0]
            if len(run) < 3:
                continue
            a, b, c = run[:-2], run[1:-1], run[2:]
            odd = np.arange(len(a)) % 2 == 1
            tri = np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1)
            keep = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
            out.append(tri[keep])
    if not out:
        return None
    faces = np.concatenate(out)
    if faces.max(initial=-1) >= len(vertices):
        raise CorruptFileError(f"{source}: a triangle strip refers to a vertex that does not exist")
    return trimesh.Trimesh(np.asarray(vertices), faces, process=False)


def _gltf_node_order(path: Path, fmt: str) -> dict[str, int]:
    """glTF node name (or index, for unnamed nodes, as trimesh names them) -> file index."""
    try:
        if fmt == "glb":
            with path.open("rb") as f:
                head = f.read(20)
                length = struct.unpack_from("<I", head, 12)[0]
                doc = json.loads(f.read(length))
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, struct.error):
        return {}
    order = {}
    for i, node in enumerate(doc.get("nodes", [])):
        order.setdefault(str(node.get("name", i)) if isinstance(node, dict) else str(i), i)
        order.setdefault(str(i), i)
    return order


def _from_trimesh(
    tm: trimesh.Trimesh, name: str, transform: np.ndarray, encoded: dict | None = None
) -> Mesh:
    faces = np.asarray(tm.faces, dtype=np.int32)
    vertices = np.asarray(tm.vertices, dtype=np.float64)
    transform = np.asarray(transform, dtype=np.float64)
    world = vertices @ transform[:3, :3].T + transform[:3, 3]
    corners = faces.reshape(-1)
    offsets = np.arange(0, len(corners) + 1, 3, dtype=np.int32)
    normal_values = None
    if "vertex_normals" in tm._cache:  # normals the file had; trimesh computes them otherwise
        vn = np.asarray(tm.vertex_normals, dtype=np.float64)
        if len(vn) == len(vertices):
            nm = np.linalg.inv(transform[:3, :3]).T
            vn = vn @ nm.T
            length = np.linalg.norm(vn, axis=1, keepdims=True)
            normal_values = np.divide(vn, length, out=np.zeros_like(vn), where=length > 0)
    uv_values = None
    visual = tm.visual
    material = None
    if isinstance(visual, trimesh.visual.TextureVisuals):
        if visual.uv is not None and len(visual.uv) == len(vertices):
            uv_values = np.asarray(visual.uv, dtype=np.float64)
        material = _material_from_trimesh(visual.material, name, encoded)
    elif isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        rgba = np.asarray(visual.main_color, dtype=np.float64) / 255.0
        material = Material(f"{name}_color", tuple(float(c) for c in rgba))
    mesh = build_mesh(
        name,
        world,
        corners,
        offsets,
        normal_values=normal_values,
        normal_index=None if normal_values is None else corners,
        uv_values=uv_values,
        uv_index=None if uv_values is None else corners,
        materials=[material] if material is not None else [],
    )
    mesh.transform = transform
    return mesh


def _material_from_trimesh(mat, fallback: str, encoded: dict | None = None) -> Material | None:
    """A material from trimesh's; ``encoded`` caches each image's bytes by the image object
    (the materials of one file often share a texture)."""
    encoded = {} if encoded is None else encoded
    if mat is None:
        return None
    name = getattr(mat, "name", None) or f"{fallback}_material"
    color = getattr(mat, "baseColorFactor", None)
    if color is None:
        color = getattr(mat, "main_color", None)
    rgba = DEFAULT_COLOR
    if color is not None:
        c = np.asarray(color, dtype=np.float64).reshape(-1)
        if c.max(initial=0) > 1.0:
            c = c / 255.0
        if len(c) == 3:
            c = np.append(c, 1.0)
        rgba = tuple(float(x) for x in np.clip(c[:4], 0, 1))
    texture, data = None, None
    image = getattr(mat, "baseColorTexture", None) or getattr(mat, "image", None)
    if image is not None:
        texture = getattr(image, "filename", None) or None
        fmt = "JPEG" if (getattr(image, "format", "") or "").upper() == "JPEG" else "PNG"
        if id(image) not in encoded:
            try:
                buffer = io.BytesIO()
                image.save(buffer, format=fmt)
                encoded[id(image)] = (image, buffer.getvalue())
            except (OSError, ValueError, AttributeError):
                encoded[id(image)] = (image, None)
        data = encoded[id(image)][1]
        if data is not None:
            texture = texture or f"{_obj_name(str(name))}.{'jpg' if fmt == 'JPEG' else 'png'}"
    return Material(str(name), rgba, texture, data)


_OBJ_FACE_TOKEN = re.compile(r"^(-?\d+)(?:/(-?\d*))?(?:/(-?\d*))?$")


@dataclass
class _ObjGroup:
    name: str
    v: np.ndarray  # (k,) 0-based vertex index per corner
    vt: np.ndarray  # (k,) 0-based texture index per corner, -1 when absent
    vn: np.ndarray  # (k,) 0-based normal index per corner, -1 when absent
    sizes: np.ndarray  # (p,) corners per polygon
    material_names: list[str]  # the materials the group's polygons use
    face_material: np.ndarray  # (p,) index into material_names, -1 for none


@dataclass
class _ObjData:
    vertices: np.ndarray
    texcoords: np.ndarray
    normals: np.ndarray
    libraries: list[str]
    groups: list[_ObjGroup]


def read_obj(path: Path) -> Scene:
    """Read a Wavefront OBJ file: one mesh per object/group, polygons kept as written."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read the file ({exc.strerror})") from None
    if b"\x00" in data[:4096]:
        raise CorruptFileError(f"{path.name}: not an OBJ file (binary data)")
    data = data.replace(b"\r\n", b"\n")
    parsed = _parse_obj_fast(data, path.stem)
    if parsed is None:
        parsed = _parse_obj_lines(data.decode("utf-8", "replace"), path)
    return _obj_scene(parsed, path)


# Anything the vectorised reader does not handle sends the file to the line-by-line reader:
# indented lines, points and lines, tabs, line continuations, negative (relative) indices,
# comments after data and irregular spacing in face lines.


class _ObjLines:
    """The lines of an OBJ file (ending in a newline) by keyword, as byte runs numpy parses."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.buf = np.frombuffer(data, dtype=np.uint8)
        self.ends = np.flatnonzero(self.buf == 10)
        self.starts = np.concatenate([[0], self.ends[:-1] + 1])
        last = len(self.buf) - 1
        first = self.buf[self.starts]
        second = self.buf[np.minimum(self.starts + 1, last)]
        third = self.buf[np.minimum(self.starts + 2, last)]
        self.first = first
        self.kind = {
            "v": (first == ord("v")) & (second == ord(" ")),
            "vt": (first == ord("v")) & (second == ord("t")) & (third == ord(" ")),
            "vn": (first == ord("v")) & (second == ord("n")) & (third == ord(" ")),
            "f": (first == ord("f")) & (second == ord(" ")),
        }

    def select(self, kind: str) -> tuple[bytes, int]:
        """The text after the keyword of every ``kind`` line (newlines kept), and their count."""
        lines = self.kind[kind]
        keep = np.repeat(lines, self.ends - self.starts + 1)
        for j in range(len(kind) + 1):
            keep[self.starts[lines] + j] = False
        return self.buf[keep].tobytes(), int(lines.sum())

    def text(self, line: int) -> str:
        return self.data[self.starts[line] : self.ends[line]].decode("utf-8", "replace").strip()


def _obj_rows(text: bytes, count: int, min_cols: int) -> np.ndarray | None:
    """(count, c) float64 rows from ``count`` lines of c numbers each, or None."""
    if count == 0:
        return np.zeros((0, min_cols))
    try:
        values = np.fromstring(text, sep=" ")  # noqa: NPY201 - text mode is not deprecated
    except ValueError:
        return None
    cols, rest = divmod(len(values), count)
    first = text[: text.find(b"\n")].split()
    if rest or cols < min_cols or len(first) != cols:
        return None
    return values.reshape(count, cols)


def _parse_obj_fast(data: bytes, default_name: str) -> _ObjData | None:
    """Vectorised reading of the common OBJ layout, or None to use the line reader."""
    if b"\t" in data or b"\\\n" in data:
        return None
    lines = _ObjLines(b"\n" + data + b"\n")
    if np.isin(lines.first, np.frombuffer(b" lp", dtype=np.uint8)).any():
        return None
    vertices = _obj_rows(*lines.select("v"), 3)
    texcoords = _obj_rows(*lines.select("vt"), 2)
    normals = _obj_rows(*lines.select("vn"), 3)
    if vertices is None or texcoords is None or normals is None:
        return None
    face_text, n_faces = lines.select("f")
    if b"-" in face_text or b"#" in face_text or b"  " in face_text or b" \n" in face_text:
        return None
    fb = np.frombuffer(face_text, dtype=np.uint8)
    # Tokens are single-space separated: a line's corner count is its spaces plus one.
    newlines = np.flatnonzero(fb == 10)
    spaces_before = np.searchsorted(np.flatnonzero(fb == 32), newlines)
    sizes = np.diff(spaces_before, prepend=0) + 1
    del fb, newlines, spaces_before
    n_tok = int(sizes.sum())
    slashes, doubles = face_text.count(b"/"), face_text.count(b"//")
    if slashes == 0:
        cols = 1
    elif doubles == n_tok and slashes == 2 * n_tok:
        face_text, cols = face_text.replace(b"//", b" 0 "), 3
    elif doubles == 0 and slashes in (n_tok, 2 * n_tok):
        cols = 1 + slashes // max(n_tok, 1)
    else:
        return None
    if n_tok:
        try:
            flat = np.fromstring(face_text.replace(b"/", b" "), dtype=np.int64, sep=" ")  # noqa: NPY201
        except ValueError:
            return None
        if len(flat) != n_tok * cols:
            return None
        table = flat.reshape(n_tok, cols) - 1
    else:
        table = np.zeros((0, cols), dtype=np.int64)
    del face_text
    absent = np.full(n_tok, -1, dtype=np.int64)
    v = table[:, 0]
    vt = table[:, 1] if cols >= 2 else absent
    vn = table[:, 2] if cols == 3 else absent
    corner_start = np.concatenate([[0], np.cumsum(sizes)])

    # Directives (o, g, usemtl, mtllib) are few: walk them, knowing how many faces precede each.
    faces_before = np.cumsum(lines.kind["f"]) - lines.kind["f"]
    candidates = np.flatnonzero(np.isin(lines.first, np.frombuffer(b"ogum", dtype=np.uint8)))
    libraries: list[str] = []
    material_names: list[str] = []
    face_material = np.full(n_faces, -1, dtype=np.int32)
    bounds: list[tuple[int, str]] = [(0, default_name)]
    name = default_name
    for line in candidates:
        key, _, rest = lines.text(line).partition(" ")
        rest = rest.strip()
        at = int(faces_before[line])
        if key == "mtllib":
            libraries.extend(rest.split())
        elif key == "usemtl":
            if rest not in material_names:
                material_names.append(rest)
            face_material[at:] = material_names.index(rest)
        elif key in ("o", "g"):
            name = rest or name
            bounds.append((at, name))
    bounds.append((n_faces, ""))
    groups: list[_ObjGroup] = []
    for (first, gname), (stop, _) in zip(bounds[:-1], bounds[1:], strict=True):
        if stop <= first:
            continue
        lo, hi = corner_start[first], corner_start[stop]
        fm = face_material[first:stop]
        used = sorted(set(np.unique(fm).tolist()) - {-1})
        remap = np.full(len(material_names) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        groups.append(
            _ObjGroup(
                gname,
                v[lo:hi],
                vt[lo:hi],
                vn[lo:hi],
                sizes[first:stop],
                [material_names[i] for i in used],
                remap[fm],
            )
        )
    return _ObjData(vertices[:, :3], texcoords[:, :2], normals[:, :3], libraries, groups)


def _parse_obj_lines(text: str, path: Path) -> _ObjData:
    """The line-by-line reader: every OBJ construct, including relative indices."""
    positions: list[list[float]] = []
    texcoords: list[list[float]] = []
    normals: list[list[float]] = []
    libraries: list[str] = []
    groups: list[dict] = []
    current: dict | None = None
    group_name = path.stem
    material_name: str | None = None

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if key == "v":
                positions.append([float(x) for x in rest.split()[:3]])
            elif key == "vt":
                # A missing v (or u) coordinate reads as 0.
                texcoords.append(([float(x) for x in rest.split()[:2]] + [0.0, 0.0])[:2])
            elif key == "vn":
                normals.append([float(x) for x in rest.split()[:3]])
            elif key in ("o", "g"):
                group_name = rest or group_name
                current = None
            elif key == "usemtl":
                material_name = rest
            elif key == "mtllib":
                libraries.extend(rest.split())
            elif key in ("f", "l", "p"):
                if current is None:
                    current = {
                        "name": group_name,
                        "v": [],
                        "vt": [],
                        "vn": [],
                        "sizes": [],
                        "mat": [],
                    }
                    groups.append(current)
                tokens = rest.split()
                for tok in tokens:
                    m = _OBJ_FACE_TOKEN.match(tok)
                    if m is None:
                        raise ValueError(tok)
                    current["v"].append(_obj_index(int(m[1]), len(positions)))
                    current["vt"].append(_obj_index(int(m[2]), len(texcoords)) if m[2] else -1)
                    current["vn"].append(_obj_index(int(m[3]), len(normals)) if m[3] else -1)
                current["sizes"].append(len(tokens))
                current["mat"].append(material_name)
        except (ValueError, IndexError) as exc:
            raise CorruptFileError(
                f"{path.name}: line {lineno}: cannot read {key!r} entry ({exc})"
            ) from None
    if len(positions) and any(len(p) != 3 for p in positions):
        raise CorruptFileError(f"{path.name}: a vertex line has fewer than three coordinates")
    if len(normals) and any(len(n) != 3 for n in normals):
        raise CorruptFileError(f"{path.name}: a normal line has fewer than three coordinates")
    return _ObjData(
        np.array(positions, dtype=np.float64).reshape(-1, 3),
        np.array(texcoords, dtype=np.float64).reshape(-1, 2),
        np.array(normals, dtype=np.float64).reshape(-1, 3),
        libraries,
        [_obj_group(g) for g in groups],
    )


def _obj_group(g: dict) -> _ObjGroup:
    names = list(dict.fromkeys(m for m in g["mat"] if m is not None))
    index = {n: i for i, n in enumerate(names)}
    return _ObjGroup(
        g["name"],
        np.array(g["v"], dtype=np.int64),
        np.array(g["vt"], dtype=np.int64),
        np.array(g["vn"], dtype=np.int64),
        np.array(g["sizes"], dtype=np.int64),
        names,
        np.array([index.get(m, -1) for m in g["mat"]], dtype=np.int32),
    )


def _obj_scene(parsed: _ObjData, path: Path) -> Scene:
    vertices, vt_arr, vn_arr = parsed.vertices, parsed.texcoords, parsed.normals
    libraries = parsed.libraries
    library = {}
    base = path.parent.resolve()
    textures: dict = {}  # texture files read, by path
    for lib in libraries:
        try:
            candidate = (base / lib).resolve()
        except (OSError, ValueError):
            continue
        if base == candidate.parent or base in candidate.parents:
            library.update(_read_mtl(candidate, textures))

    scene = Scene(format="obj", source=path.name)
    groups = parsed.groups
    for g, name in zip(groups, unique_names([g.name for g in groups]), strict=True):
        v = g.v
        bad = (v < 0) | (v >= len(vertices))
        if bad.any():
            raise CorruptFileError(
                f"{path.name}: group {g.name!r} refers to vertex {int(v[bad][0]) + 1}, "
                f"but the file has {len(vertices)}"
            )
        # Keep only the vertices this group uses, in first-use order.
        used_ids, first = np.unique(v, return_index=True)
        order = used_ids[np.argsort(first)]
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        corners = remap[v]
        offsets = np.concatenate([[0], np.cumsum(g.sizes)])
        vt, vn = g.vt, g.vn
        has_uv = len(vt) and (vt >= 0).all() and (vt < len(vt_arr)).all()
        has_normals = len(vn) and (vn >= 0).all() and (vn < len(vn_arr)).all()
        mats = [library.get(n, Material(n)) for n in g.material_names]
        face_material = np.maximum(g.face_material, 0)
        scene.meshes.append(
            build_mesh(
                name,
                vertices[order],
                corners,
                offsets,
                face_material=face_material,
                materials=mats,
                normal_values=vn_arr if has_normals else None,
                normal_index=vn if has_normals else None,
                uv_values=vt_arr if has_uv else None,
                uv_index=vt if has_uv else None,
            )
        )
    return scene


def _obj_index(i: int, count: int) -> int:
    """0-based index of OBJ index ``i`` (1-based, or negative relative to the end)."""
    if abs(i) >= 2**31:
        raise ValueError(f"index {i} is out of range")
    if i > 0:
        return i - 1
    if i < 0:
        return count + i
    raise ValueError("index 0")


#: Largest material library read.
MAX_MTL_BYTES = 16 * 1024 * 1024


def _read_mtl(path: Path, textures: dict | None = None) -> dict[str, Material]:
    """A material library: only a regular file of at most MAX_MTL_BYTES is read (the caller
    keeps it inside the OBJ's folder), so ``mtllib /dev/zero`` or ``../../x`` reads nothing.
    A missing or unreadable library leaves the default colours."""
    try:
        target = path.resolve()
        if not target.is_file() or target.stat().st_size > MAX_MTL_BYTES:
            return {}
        text = target.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return {}
    out: dict[str, Material] = {}
    current: Material | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, _, rest = line.partition(" ")
        try:
            if key == "newmtl":
                current = out[rest.strip()] = Material(rest.strip(), DEFAULT_COLOR)
            elif current is None:
                continue
            elif key == "Kd":
                r, g, b = (float(x) for x in rest.split()[:3])
                current.color = (r, g, b, current.color[3])
            elif key in ("d", "Tr"):
                a = float(rest.split()[0])
                current.color = (*current.color[:3], a if key == "d" else 1.0 - a)
            elif key == "map_Kd":
                current.texture = rest.split()[-1]
                current.image = read_texture(target.parent, current.texture, textures)
        except ValueError:
            continue
    return out


#: Largest texture image read beside an OBJ.
MAX_TEXTURE_BYTES = 64 * 1024 * 1024


def read_texture(folder: Path, name: str, cache: dict | None = None) -> bytes | None:
    """The bytes of texture ``name`` when it is an image file (one PIL can open) inside
    ``folder`` (or below) of at most MAX_TEXTURE_BYTES; None otherwise (the material keeps
    its colour). ``cache`` (by resolved path) makes materials naming one file share one read:
    a file of a thousand materials naming the same large file reads it once."""
    try:
        target = (folder / name.replace("\\", "/")).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if cache is not None and target in cache:
        return cache[target]
    from PIL import Image

    data = None
    try:
        inside = folder in target.parents and target.is_file()
        if inside and target.stat().st_size <= MAX_TEXTURE_BYTES:
            with Image.open(target):  # reads the header only: an image, or not
                pass
            data = target.read_bytes()
    except (OSError, ValueError, Image.DecompressionBombError):
        data = None
    if cache is not None:
        cache[target] = data
    return data


# --------------------------------------------------------------------------- writing


def mesh_color(mesh: Mesh) -> tuple[float, float, float, float]:
    """The colour a writer gives a mesh: its first material's, else a neutral grey."""
    return mesh.materials[0].color if mesh.materials else DEFAULT_COLOR


GLTF_AXES = ("+X", "+Y", "+Z")


def write(scene: Scene, path: Path, fmt: str, face_order: bool = False) -> None:
    """Write ``scene`` to ``path`` as OBJ (+MTL), GLB, or STL/PLY (all meshes as one)."""
    if fmt == "obj":
        names = obj_material_names(scene)
        textures = obj_texture_names(scene, path.stem)
        write_atomic(path, write_obj(scene, path.with_suffix(".mtl").name, names).encode("utf-8"))
        write_atomic(path.with_suffix(".mtl"), write_mtl(scene, names, textures).encode("utf-8"))
        for file_name, image in textures.values():
            write_atomic(path.with_name(file_name), image)
        return
    if fmt == "glb":
        # glTF is metres and +Y up by definition (other formats keep the file's frame).
        try:
            scene = scene.converted(unit_meters=1.0, axes=GLTF_AXES)
        except ValueError:
            scene = scene.converted(unit_meters=1.0)
        tscene = trimesh.Scene()
        made: dict = {}  # glTF materials by input material, shared by the primitives
        # The group nodes made so far: asking trimesh's graph (``graph.nodes``) hashes every
        # edge of it, and once per mesh that made thousands of parts quadratic (3,000 parts:
        # 5.7 s).
        groups: set[str] = set()
        for mesh, group in zip(scene.meshes, scene.group_nodes(), strict=True):
            if group is not None and group not in groups:
                # A node grouping the parts of one mesh (no transform: vertices are placed).
                tscene.graph.update(frame_from=tscene.graph.base_frame, frame_to=group)
                groups.add(group)
            pieces = [_to_trimesh(mesh)] if face_order else _gltf_primitives(mesh, made)
            for k, tm in enumerate(pieces):
                # One node per mesh; a mesh of several textured materials gets one child node
                # per further material (trimesh writes one primitive per node).
                material = tm.visual.material.name if k else ""
                name = (
                    mesh.name
                    if k == 0
                    else material
                    if material.startswith(f"{mesh.name}_")
                    else f"{mesh.name}_{k + 1}"
                )
                tscene.add_geometry(
                    tm,
                    node_name=name,
                    geom_name=name,
                    parent_node_name=mesh.name if k else group,
                )
        data = tscene.export(file_type="glb")
    else:
        parts = [_to_trimesh(m, with_color=False) for m in scene.meshes if len(m.tri_face)]
        merged = trimesh.util.concatenate(parts)
        data = merged.export(file_type=fmt)
    write_atomic(path, data if isinstance(data, bytes) else data.encode("utf-8"))


class _SharedMaterial(trimesh.visual.material.PBRMaterial):
    """A glTF material made once per input material and shared by every primitive that uses
    it: its hash is fixed (trimesh's own hashes the texture's pixels at every use)."""

    def __init__(self, key: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key = key

    def __hash__(self) -> int:
        return self._key


def _gltf_material(material: Material | None, fallback: str, made: dict) -> _SharedMaterial:
    """The glTF material of ``material`` (its texture decoded once), from ``made`` when an
    earlier primitive already made it."""
    key = id(material) if material is not None else hash(fallback)
    if key in made:
        return made[key]
    rgba = np.asarray(material.color if material else DEFAULT_COLOR)
    image = None
    if material is not None and material.image is not None:
        # Materials often share one texture: decode each distinct image once.
        digest = ("image", hashlib.sha1(material.image).hexdigest())
        if digest not in made:
            try:
                from PIL import Image

                made[digest] = Image.open(io.BytesIO(material.image))
                made[digest].load()
            except (OSError, ValueError):
                made[digest] = None
        image = made[digest]
    made[key] = _SharedMaterial(
        key,
        name=material.name if material else fallback,
        baseColorFactor=(rgba * 255).round().astype(np.uint8),
        baseColorTexture=image,
        metallicFactor=0.0,
        roughnessFactor=0.9,
    )
    return made[key]


def _gltf_primitives(mesh: Mesh, materials: dict | None = None) -> list[trimesh.Trimesh]:
    """A mesh as glTF primitives: one per material its faces use, each with only the
    vertices, UVs and normals it uses, and the material's colour and texture; without
    textures or UVs, one primitive as ``_to_trimesh`` makes it (faces in order)."""
    materials = {} if materials is None else materials
    textured = any(m.image is not None for m in mesh.materials)
    if len(mesh.tri_face) == 0 or not (textured or mesh.uv_values is not None):
        return [_to_trimesh(mesh)]
    fm = np.clip(mesh.face_material[mesh.tri_face], 0, max(len(mesh.materials) - 1, 0))
    uvs, normals = mesh.uvs, mesh.normals
    out = []
    for k in np.unique(fm).tolist() if mesh.materials else [0]:
        tri_corners = mesh.tri_corners[fm == k] if mesh.materials else mesh.tri_corners
        corner_ids = tri_corners.reshape(-1)
        # A glTF vertex is a (position, UV, normal) combination.
        keys = [mesh.corners[corner_ids].astype(np.float64)[:, None]]
        if uvs is not None:
            keys.append(uvs[corner_ids])
        if normals is not None:
            keys.append(normals[corner_ids])
        _, first, inverse = np.unique(
            np.concatenate(keys, axis=1), axis=0, return_index=True, return_inverse=True
        )
        rep = corner_ids[first]
        tm = trimesh.Trimesh(
            vertices=mesh.vertices[mesh.corners[rep]],
            faces=inverse.reshape(-1, 3),
            process=False,
        )
        if normals is not None:
            tm.vertex_normals = normals[rep]
        material = mesh.materials[k] if mesh.materials else None
        pbr = _gltf_material(material, mesh.name, materials)
        tm.visual = trimesh.visual.TextureVisuals(
            uv=uvs[rep] if uvs is not None else None, material=pbr
        )
        out.append(tm)
    return out


def _to_trimesh(mesh: Mesh, with_color: bool = True) -> trimesh.Trimesh:
    fm = mesh.face_material
    if with_color and len(mesh.materials) > 1 and len(fm) and (fm != fm[0]).any():
        # Several materials on one mesh: each triangle keeps its material's colour as vertex
        # colours of its own corners, so faces stay in order (one primitive, no regrouping).
        tri = mesh.triangles
        colors = np.array([m.color for m in mesh.materials], dtype=np.float64)
        tri_material = np.clip(fm[mesh.tri_face], 0, len(colors) - 1)
        # A vertex per (position, material) pair: faces keep their order, no vertex is
        # written more often than the materials meeting at it.
        keys = tri.astype(np.int64).reshape(-1) * len(colors) + np.repeat(tri_material, 3)
        uniq, inverse = np.unique(keys, return_inverse=True)
        tm = trimesh.Trimesh(
            vertices=mesh.vertices[uniq // len(colors)],
            faces=inverse.reshape(-1, 3),
            vertex_colors=(colors[uniq % len(colors)] * 255).round().astype(np.uint8),
            process=False,
        )
        return tm
    tm = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.triangles, process=False)
    if with_color:
        rgba = np.asarray(mesh_color(mesh))
        material = trimesh.visual.material.PBRMaterial(
            name=mesh.name,
            baseColorFactor=(rgba * 255).round().astype(np.uint8),
            metallicFactor=0.0,
            roughnessFactor=0.9,
        )
        tm.visual = trimesh.visual.TextureVisuals(material=material)
    return tm


_CHUNK = 65536  # rows formatted per call: bounds the temporary Python objects


def _format_rows(prefix: str, values: np.ndarray, fmt: str) -> str:
    if len(values) == 0:
        return ""
    return _format_rows_raw(prefix + " " + " ".join([fmt] * values.shape[1]) + "\n", values)


def _format_polygons(sizes: np.ndarray, table: np.ndarray, sep: str) -> str:
    """Face lines: ``f`` (``l``/``p`` for lines and points) for polygons of ``sizes`` whose
    corners' fields are the rows of ``table`` (k, fields), joined by ``sep`` (``/`` or
    ``//``), one polygon per line."""
    if len(sizes) == 0:
        return ""
    token = sep.join(["%d"] * table.shape[1])
    if (sizes == sizes[0]).all():
        # One polygon size throughout (all triangles, say): one format string per chunk.
        n = int(sizes[0])
        key = "f" if n >= 3 else ("l" if n == 2 else "p")
        row = key + " " + " ".join([token] * n) + "\n"
        return _format_rows_raw(row, table.reshape(len(sizes), -1))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for f, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        n = int(sizes[f])
        key = "f" if n >= 3 else ("l" if n == 2 else "p")
        out.append(key + " " + " ".join([token] * n) % tuple(table[start:stop].ravel().tolist()))
    return "\n".join(out) + "\n"


def _format_rows_raw(row: str, values: np.ndarray) -> str:
    return "".join(
        (row * len(part)) % tuple(part.ravel().tolist())
        for part in (values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK))
    )


def obj_material_names(scene: Scene) -> dict[int, str]:
    """A unique OBJ/MTL name for each material of the scene (by identity): its own name, with
    ``_2``, ``_3``... when different materials share one. A mesh without materials gets one
    named after it, keyed by the mesh's id."""
    names: dict[int, str] = {}
    taken: dict[str, int] = {}
    for mesh in scene.meshes:
        for key, name in (
            [(id(m), m.name) for m in mesh.materials] if mesh.materials else [(id(mesh), mesh.name)]
        ):
            if key in names:
                continue
            base = _obj_name(name)
            unique, k = base, 2
            while unique in taken:
                unique, k = f"{base}_{k}", k + 1
            taken[unique] = key
            names[key] = unique
    return names


def obj_texture_names(scene: Scene, stem: str) -> dict[int, tuple[str, bytes]]:
    """The texture file written beside an OBJ for each material that has image bytes:
    ``<stem>_<texture file name>`` (one file per distinct name), keyed by material id."""
    out: dict[int, tuple[str, bytes]] = {}
    used: dict[str, bytes] = {}
    for mesh in scene.meshes:
        for m in mesh.materials:
            if m.image is None or id(m) in out:
                continue
            base = Path((m.texture or f"{m.name}.png").replace("\\", "/")).name
            base = "_".join(base.split()) or "texture.png"
            name, k = f"{stem}_{base}", 2
            while name in used and used[name] != m.image:
                name, k = f"{stem}_{k}_{base}", k + 1
            used[name] = m.image
            out[id(m)] = (name, m.image)
    return out


def write_obj(scene: Scene, mtl_name: str, names: dict[int, str] | None = None) -> str:
    """OBJ text: one ``o`` per mesh, ``usemtl`` before each run of faces of one material,
    polygons as stored."""
    names = names or obj_material_names(scene)
    out = io.StringIO()
    out.write(f"# part3d\nmtllib {mtl_name}\n")
    base_v = base_vt = base_vn = 1
    for mesh in scene.meshes:
        out.write(f"o {_obj_name(mesh.name)}\n")
        out.write(_format_rows("v", mesh.vertices, "%.9g"))
        k = len(mesh.corners)
        fields = [mesh.corners.astype(np.int64) + base_v]
        if mesh.uv_values is not None:
            out.write(_format_rows("vt", mesh.uv_values, "%.9g"))
            index = np.arange(k) if mesh.uv_index is None else mesh.uv_index.astype(np.int64)
            fields.append(index + base_vt)
            base_vt += len(mesh.uv_values)
        if mesh.normal_values is not None:
            out.write(_format_rows("vn", mesh.normal_values, "%.6g"))
            index = (
                np.arange(k) if mesh.normal_index is None else mesh.normal_index.astype(np.int64)
            )
            fields.append(index + base_vn)
            base_vn += len(mesh.normal_values)
        base_v += len(mesh.vertices)
        sep = "//" if len(fields) == 2 and mesh.uv_values is None else "/"
        table = np.stack(fields, axis=1)
        sizes = mesh.polygon_sizes
        if not mesh.materials:
            out.write(f"usemtl {names[id(mesh)]}\n")
            out.write(_format_polygons(sizes, table, sep))
            continue
        fm = np.clip(mesh.face_material, 0, len(mesh.materials) - 1)
        # Runs of faces of one material, in face order (face ids unchanged).
        starts = np.flatnonzero(np.diff(np.concatenate([[-1], fm])) != 0)
        stops = np.concatenate([starts[1:], [len(fm)]])
        for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
            out.write(f"usemtl {names[id(mesh.materials[fm[start]])]}\n")
            lo, hi = int(mesh.offsets[start]), int(mesh.offsets[stop])
            out.write(_format_polygons(sizes[start:stop], table[lo:hi], sep))
    return out.getvalue()


def _obj_name(name: str) -> str:
    return "_".join(name.split()) or "mesh"


def write_mtl(
    scene: Scene,
    names: dict[int, str] | None = None,
    textures: dict[int, tuple[str, bytes]] | None = None,
) -> str:
    """MTL text: every material of the scene once (a mesh without any: one named after it, in
    the default colour), with ``map_Kd`` naming its texture file when it has one."""
    names = names or obj_material_names(scene)
    textures = textures or {}
    out = io.StringIO()
    out.write("# part3d\n")
    seen: set[int] = set()
    for mesh in scene.meshes:
        for key, material in (
            [(id(m), m) for m in mesh.materials] if mesh.materials else [(id(mesh), None)]
        ):
            if key in seen:
                continue
            seen.add(key)
            r, g, b, a = material.color if material is not None else DEFAULT_COLOR
            out.write(f"newmtl {names[key]}\nKd {r:.6g} {g:.6g} {b:.6g}\nd {a:.6g}\nillum 1\n")
            if key in textures:
                out.write(f"map_Kd {textures[key][0]}\n")
            out.write("\n")
    return out.getvalue()
