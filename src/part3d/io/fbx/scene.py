"""FBX scene layer: from the node tree to a :class:`~part3d.model.Scene`.

Handles FBX 7.x (objects with 64-bit ids, ``Properties70``, templates in ``Definitions``) and
FBX 6.1 (objects named ``Model::name``, ``Properties60``, geometry stored inside the model).
Each node that carries a mesh geometry becomes one :class:`~part3d.model.Mesh` with its
vertices in world space; a geometry used by several nodes gives one mesh per node.

Transforms follow the FBX SDK convention::

    World = ParentWorld * T * Roff * Rp * Rpre * R * Rpost^-1 * Rp^-1 * Soff * Sp * S * Sp^-1
    GeometryToWorld = World * Tgeo * Rgeo * Sgeo

with the three inherit types (RrSs, RSrs, Rrs) applied to the parent's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from part3d.errors import CorruptFileError, EmptySceneError
from part3d.io import build_mesh
from part3d.io.fbx.nodes import FbxDocument, FbxNode
from part3d.model import Material, Scene, unique_names

_AXES = {0: "X", 1: "Y", 2: "Z"}
#: Maximum nodes walked up a parent chain; a longer chain is a cycle.
_MAX_HIERARCHY = 100_000


def object_name(raw: str) -> str:
    """The user-facing name of an FBX object: ``pCube1`` from ``pCube1\\x00\\x01Model`` or
    ``Model::pCube1``; invalid UTF-8 and NUL characters become U+FFFD."""
    if "\x00\x01" in raw:
        raw = raw.split("\x00\x01", 1)[0]
    elif "::" in raw:
        raw = raw.split("::", 1)[1]
    return display_text(raw)


def display_text(text: str) -> str:
    """``text`` with undecodable bytes (kept as surrogates by the byte layer) and NULs as U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    clean = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return clean.replace("\x00", "\ufffd")


def _numbers(node: FbxNode | None) -> np.ndarray | None:
    """A node's numeric payload as one array, whether stored as an array or as scalars."""
    if node is None:
        return None
    if len(node.props) == 1 and isinstance(node.props[0], np.ndarray):
        return node.props[0]
    vals = [v for v in node.props if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(vals) != len(node.props):
        return None
    return np.array(vals)


def _first_string(node: FbxNode | None, default: str = "") -> str:
    if node is None:
        return default
    v = node.value(0)
    return v if isinstance(v, str) else default


@dataclass
class _Props:
    """Property values of one object, with its class template's defaults behind them."""

    values: dict[str, list]
    defaults: dict[str, list] = field(default_factory=dict)

    def get(self, name: str) -> list | None:
        v = self.values.get(name)
        return v if v is not None else self.defaults.get(name)

    def vec3(self, name: str, default: tuple[float, float, float]) -> np.ndarray:
        v = self.get(name)
        try:
            if v is not None and len(v) >= 3:
                return np.array([float(v[0]), float(v[1]), float(v[2])])
        except (TypeError, ValueError):
            pass
        return np.array(default, dtype=np.float64)

    def number(self, name: str, default: float) -> float:
        v = self.get(name)
        try:
            if v:
                return float(v[0])
        except (TypeError, ValueError):
            pass
        return default

    def string(self, name: str, default: str = "") -> str:
        v = self.get(name)
        return v[0] if v and isinstance(v[0], str) else default


def _read_props(obj: FbxNode) -> dict[str, list]:
    out: dict[str, list] = {}
    p70 = obj.find("Properties70")
    if p70 is not None:
        for p in p70.children:
            if p.name == "P" and p.props and isinstance(p.props[0], str):
                out[p.props[0]] = p.props[4:]  # a repeated property: the last one wins
    p60 = obj.find("Properties60")
    if p60 is not None:
        for p in p60.children:
            if p.name == "Property" and p.props and isinstance(p.props[0], str):
                out[p.props[0]] = p.props[3:]
    return out


# --------------------------------------------------------------------------- transforms


def _rot(axis: int, degrees: float) -> np.ndarray:
    r = np.radians(degrees)
    c, s = np.cos(r), np.sin(r)
    m = np.eye(3)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


# Rotation orders as the FBX SDK numbers them: the first axis named is applied first.
_ORDERS = {0: (0, 1, 2), 1: (0, 2, 1), 2: (1, 2, 0), 3: (1, 0, 2), 4: (2, 0, 1), 5: (2, 1, 0)}


def euler_matrix(angles: np.ndarray, order: int = 0) -> np.ndarray:
    """(3, 3) rotation from Euler angles in degrees, ``order`` as FBX ``RotationOrder``.

    Order 6 (spheric) is treated as no rotation, as ufbx does.
    """
    if order not in _ORDERS:
        return np.eye(3)
    m = np.eye(3)
    for axis in _ORDERS[order]:
        if angles[axis] != 0:
            m = _rot(axis, angles[axis]) @ m
    return m


def _translate(v: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = v
    return m


def _linear(m3: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = m3
    return m


@dataclass
class _Local:
    """A node's local transform as translation, rotation and scale."""

    t: np.ndarray
    r: np.ndarray
    s: np.ndarray

    def matrix(self, scaled: bool = True) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.r * self.s[None, :] if scaled else self.r
        m[:3, 3] = self.t
        return m


def _local_transform(props: _Props) -> _Local:
    t = props.vec3("Lcl Translation", (0, 0, 0))
    rot = props.vec3("Lcl Rotation", (0, 0, 0))
    s = props.vec3("Lcl Scaling", (1, 1, 1))
    pre = props.vec3("PreRotation", (0, 0, 0))
    post = props.vec3("PostRotation", (0, 0, 0))
    rp = props.vec3("RotationPivot", (0, 0, 0))
    sp = props.vec3("ScalingPivot", (0, 0, 0))
    roff = props.vec3("RotationOffset", (0, 0, 0))
    soff = props.vec3("ScalingOffset", (0, 0, 0))
    order = int(props.number("RotationOrder", 0))
    # Pre/post rotation and the rotation order apply whatever RotationActive and
    # RotationSpaceForLimitOnly say, as the corpus reference (ufbx 0.0.5) evaluates them.
    r = euler_matrix(rot, order)
    if pre.any():
        r = euler_matrix(pre) @ r
    if post.any():
        r = r @ euler_matrix(post).T
    if not (rp.any() or sp.any() or roff.any() or soff.any()):
        return _Local(np.asarray(t, dtype=np.float64).copy(), r, s)
    m = (
        _translate(t + roff + rp)
        @ _linear(r)
        @ _translate(-rp + soff + sp)
        @ _linear(np.diag(s))
        @ _translate(-sp)
    )
    return _Local(m[:3, 3].copy(), r, s)


def _geometry_transform(props: _Props) -> np.ndarray:
    return (
        _translate(props.vec3("GeometricTranslation", (0, 0, 0)))
        @ _linear(euler_matrix(props.vec3("GeometricRotation", (0, 0, 0))))
        @ _linear(np.diag(props.vec3("GeometricScaling", (1, 1, 1))))
    )


@dataclass
class _Node:
    key: object
    name: str
    obj: FbxNode
    props: _Props
    parent: _Node | None = None
    world: np.ndarray | None = None
    unscaled_world: np.ndarray | None = None
    inherit_scale: np.ndarray | None = None
    inherit_scale_node: _Node | None = None
    mode: int = 1  # FBX InheritType: 0 RrSs, 1 RSrs (plain matrices), 2 Rrs


def _resolve_world(node: _Node) -> None:
    """Compute ``world`` for ``node`` after its ancestors, without recursion."""
    chain = []
    n: _Node | None = node
    while n is not None and n.world is None:
        chain.append(n)
        n = n.parent
        if len(chain) > _MAX_HIERARCHY:
            raise CorruptFileError("cyclic node hierarchy")
    for n in reversed(chain):
        local = _local_transform(n.props)
        p = n.parent
        n.inherit_scale = local.s
        if p is None:
            n.world = local.matrix()
            n.unscaled_world = local.matrix(scaled=False)
        elif n.mode == 1:
            n.world = p.world @ local.matrix()
            n.unscaled_world = p.world @ local.matrix(scaled=False)
        else:
            parent_scale = (
                n.inherit_scale_node.inherit_scale
                if n.inherit_scale_node is not None
                else np.ones(3)
            )
            adj = _Local(local.t * p.inherit_scale, local.r, local.s * parent_scale)
            n.inherit_scale = adj.s
            n.world = p.unscaled_world @ adj.matrix()
            n.unscaled_world = p.unscaled_world @ adj.matrix(scaled=False)


# --------------------------------------------------------------------------- geometry


def _layer_values(
    layer: FbxNode,
    data_name: str,
    index_name: str,
    width: int,
    corners: np.ndarray,
    offsets: np.ndarray,
    n_vertices: int,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """One layer element (normals, UVs) as ``(values, index)`` with one index per corner
    (``index`` None: one value per corner), or None when the layer is unusable.

    Mirrors the file's own layout so that big meshes are not expanded to per-corner copies.
    """
    mapping = _first_string(layer.find("MappingInformationType"), "ByPolygonVertex")
    reference = _first_string(layer.find("ReferenceInformationType"), "Direct")
    data = _numbers(layer.find(data_name))
    if data is None or len(data) < width:
        return None
    values = np.asarray(data, dtype=np.float64)[: len(data) // width * width].reshape(-1, width)
    index = None
    if reference in ("IndexToDirect", "Index"):
        index = _numbers(layer.find(index_name))
    k = len(corners)
    sizes = np.diff(offsets)
    if mapping == "ByPolygonVertex":
        count = k
    elif mapping == "ByPolygon":
        count = len(sizes)
    elif mapping in ("ByVertex", "ByVertice"):
        count = n_vertices
    elif mapping == "AllSame":
        count = 1
    else:
        return None
    if index is None:
        if len(values) >= count:
            values = values[:count]
            index = None
        else:
            index = np.arange(count, dtype=np.int32)
    else:
        index = np.asarray(index)
        if len(index) < count:
            index = np.concatenate([index, np.full(count - len(index), -1, dtype=index.dtype)])
        else:
            index = index[:count]
    if index is not None:
        # Out-of-range indices (including -1, "no value") take the last value, as ufbx clamps.
        bad = (index < 0) | (index >= len(values))
        index = (np.where(bad, len(values) - 1, index) if bad.any() else index).astype(np.int32)
    # Now `values[index]` (or `values`) has one row per element of the mapping: map to corners.
    if mapping == "ByPolygonVertex":
        return values, index
    if mapping in ("ByVertex", "ByVertice"):
        return values, (corners if index is None else index[corners])
    if mapping == "ByPolygon":
        face = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        return values, (face if index is None else index[face])
    return values, np.zeros(k, dtype=np.int32)  # AllSame


@dataclass
class _Geometry:
    vertices: np.ndarray
    corners: np.ndarray
    offsets: np.ndarray
    normals: tuple[np.ndarray, np.ndarray | None] | None
    uvs: tuple[np.ndarray, np.ndarray | None] | None
    uv_names: list[str]
    face_material: np.ndarray | None


def _read_geometry(geo: FbxNode, where: str) -> _Geometry:
    verts = _numbers(geo.find("Vertices"))
    if verts is None:
        if geo.find("Vertices") is not None:
            raise CorruptFileError(f"{where}: Vertices is not a list of numbers")
        verts = np.zeros(0)
    if len(verts) % 3:
        raise CorruptFileError(f"{where}: Vertices has {len(verts)} values, not a multiple of 3")
    vertices = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    finite = np.isfinite(vertices)
    if not finite.all():
        bad = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise CorruptFileError(f"{where}: Vertices: vertex {bad} has a non-finite coordinate")
    del finite
    raw = _numbers(geo.find("PolygonVertexIndex"))
    if raw is None or len(raw) == 0 or len(vertices) == 0:
        corners = np.zeros(0, dtype=np.int32)
        offsets = np.zeros(1, dtype=np.int32)
    else:
        if raw.dtype != np.int32:
            if raw.dtype.kind == "f" and not np.array_equal(raw, np.round(raw)):
                raise CorruptFileError(f"{where}: PolygonVertexIndex holds non-integer values")
            if np.abs(raw).max() >= 2**31:
                raise CorruptFileError(f"{where}: PolygonVertexIndex holds values out of range")
        corners = raw.astype(np.int32)  # always a fresh, writable copy
        if corners[-1] >= 0:
            # The last polygon lacks its end marker: close it, as ufbx does.
            corners[-1] = ~corners[-1]
        ends = corners < 0
        np.invert(corners, out=corners, where=ends)
        if corners.max() >= len(vertices):
            i = int(np.flatnonzero(corners >= len(vertices))[0])
            raise CorruptFileError(
                f"{where}: PolygonVertexIndex[{i}] = {int(raw[i])} refers to a vertex that does "
                f"not exist ({len(vertices)} vertices)"
            )
        offsets = np.empty(int(ends.sum()) + 1, dtype=np.int32)
        offsets[0] = 0
        offsets[1:] = np.flatnonzero(ends) + 1
        del ends

    normals = uvs = face_material = None
    uv_names: list[str] = []
    n_faces = len(offsets) - 1
    for layer in geo.children:
        if layer.name == "LayerElementNormal" and normals is None:
            normals = _layer_values(
                layer, "Normals", "NormalsIndex", 3, corners, offsets, len(vertices)
            )
        elif layer.name == "LayerElementUV":
            values = _layer_values(layer, "UV", "UVIndex", 2, corners, offsets, len(vertices))
            if values is not None:
                uv_names.append(display_text(_first_string(layer.find("Name"))))
                if uvs is None:
                    uvs = values
        elif layer.name == "LayerElementMaterial" and face_material is None:
            mats = _numbers(layer.find("Materials"))
            mapping = _first_string(layer.find("MappingInformationType"), "AllSame")
            if mats is not None and len(mats):
                mats = np.asarray(mats).astype(np.int32)
                if mapping == "AllSame":
                    face_material = np.full(n_faces, mats[0], dtype=np.int32)
                elif mapping == "ByPolygon":
                    face_material = np.zeros(n_faces, dtype=np.int32)
                    face_material[: min(n_faces, len(mats))] = mats[:n_faces]
    return _Geometry(vertices, corners, offsets, normals, uvs, uv_names, face_material)


def _material(obj: FbxNode, props: _Props, textures: list[str]) -> Material:
    color = props.vec3("DiffuseColor", (0.8, 0.8, 0.8))
    if props.get("DiffuseColor") is None:
        color = props.vec3("Diffuse", (0.8, 0.8, 0.8))
    opacity = props.number("Opacity", 1.0)
    if props.get("Opacity") is None and props.get("TransparencyFactor") is not None:
        opacity = 1.0 - props.number("TransparencyFactor", 0.0)
    rgba = tuple(float(np.clip(c, 0.0, 1.0)) for c in (*color, opacity))
    return Material(
        object_name(str(obj.value(1 if isinstance(obj.value(0), int) else 0, ""))),
        rgba,
        textures[0] if textures else None,
    )


def _texture_paths(obj: FbxNode, props: _Props) -> list[str]:
    """The file paths a texture names (relative first, then absolute), ``/``-separated."""
    out = []
    for name in ("RelativeFilename", "FileName", "Filename"):
        child = obj.find(name)
        value = _first_string(child) if child is not None else props.string(name)
        if value and value.replace("\\", "/") not in out:
            out.append(value.replace("\\", "/"))
    return out


#: Material properties a base colour texture is connected to, most telling first (FBX SDK,
#: Maya, 3ds Max physical and Blender exports). Other textures (normal, emissive, ...) come
#: after them.
DIFFUSE_SLOTS = (
    "DiffuseColor",
    "Diffuse",
    "Maya|baseColor",
    "3dsMax|Parameters|base_color_map",
    "BaseColor",
    "base_color",
)
#: Folders beside an FBX file where its texture files are looked for by name, besides the
#: path the file gives and the FBX's own folder (``<name>.fbm`` is where the FBX SDK extracts
#: embedded media).
TEXTURE_FOLDERS = ("textures", "Textures", "texture", "images", "tex")


#: Blend modes of a layered texture's layer that paint colour (FbxLayeredTexture::EBlendMode
#: translucent, over, normal) rather than add to it or modulate it.
COLOUR_BLENDS = (0, 4, 5)


def _colour_layer(layers: list, modes: list[int]):
    for layer, mode in zip(layers, modes, strict=False):
        if mode in COLOUR_BLENDS:
            return layer
    return layers[0]


def _slot_rank(slot: str | None) -> int:
    return DIFFUSE_SLOTS.index(slot) if slot in DIFFUSE_SLOTS else len(DIFFUSE_SLOTS)


def _texture_beside(folder: Path, stem: str, paths: list[str], cache: dict) -> bytes | None:
    """The bytes of the first texture file found inside ``folder`` (never outside it): each
    of ``paths`` relative to the folder, then each file name in the folder, in ``<stem>.fbm``
    and in the ``TEXTURE_FOLDERS``."""
    from part3d.io.meshes import read_texture

    try:
        folder = folder.resolve()
    except (OSError, RuntimeError):
        return None
    names = [p.rsplit("/", 1)[-1] for p in paths]
    candidates = [p for p in paths if not p.startswith("/") and ":" not in p]
    for name in dict.fromkeys(names):
        candidates += [name, f"{stem}.fbm/{name}"] + [f"{d}/{name}" for d in TEXTURE_FOLDERS]
    for candidate in dict.fromkeys(candidates):
        data = read_texture(folder, candidate, cache)
        if data:
            return data
    return None


# --------------------------------------------------------------------------- scene


def read_scene(doc: FbxDocument, source: str, folder: Path | None = None) -> Scene:
    """Build the scene of ``doc``: one mesh per node that carries a mesh geometry. A texture
    that is not embedded is read from ``folder`` (the FBX file's) when given."""
    objects = doc.find("Objects")
    if objects is None:
        raise EmptySceneError(f"{source}: the FBX file has no Objects section")

    templates: dict[str, dict[str, list]] = {}
    definitions = doc.find("Definitions")
    if definitions is not None:
        for ot in definitions.find_all("ObjectType"):
            kind = ot.value(0)
            tpl = ot.find("PropertyTemplate")
            if isinstance(kind, str) and tpl is not None:
                templates[kind] = _read_props(tpl)

    legacy = doc.version < 7000
    models: dict[object, _Node] = {}
    geometries: dict[object, FbxNode] = {}
    materials: dict[object, FbxNode] = {}
    textures: dict[object, FbxNode] = {}
    layered: dict[object, list] = {}  # a layered texture's textures, in connection order
    blend_modes: dict[object, list[int]] = {}  # and the blend mode of each layer
    order: list[object] = []
    seen_keys: set = set()
    settings: FbxNode | None = doc.find("GlobalSettings")
    for obj in objects.children:
        if obj.name == "GlobalSettings":
            settings = settings or obj
            continue
        if legacy:
            key = obj.value(0)
            name = object_name(str(key)) if isinstance(key, str) else ""
        else:
            key = obj.value(0)
            raw = obj.value(1, "")
            name = object_name(raw) if isinstance(raw, str) else ""
        if key is None or isinstance(key, bytes | np.ndarray | float):
            continue
        if not legacy:
            # Two objects with one id: the first one counts (as ufbx does), whatever its kind.
            if key in seen_keys:
                continue
            seen_keys.add(key)
        if obj.name == "Model":
            if key in models:
                continue
            models[key] = _Node(
                key, name, obj, _Props(_read_props(obj), templates.get("Model", {}))
            )
            order.append(key)
            if legacy and obj.find("Vertices") is not None:
                geometries[key] = obj
        elif obj.name == "Geometry":
            kind = obj.value(2) if not legacy else obj.value(1)
            if kind == "Mesh":
                geometries.setdefault(key, obj)
        elif obj.name == "Material":
            materials.setdefault(key, obj)
        elif obj.name in ("Texture", "Video"):
            textures.setdefault(key, obj)
        elif obj.name == "LayeredTexture":
            layered.setdefault(key, [])
            modes = obj.find("BlendModes")
            if modes is not None:
                flat = np.concatenate([np.ravel(v) for v in modes.props]) if modes.props else []
                blend_modes[key] = [int(m) for m in flat if isinstance(m, int | np.integer)]

    # Connections: child -> parent, in file order.
    node_geometry: dict[object, list] = {}
    node_materials: dict[object, list] = {}
    material_textures: dict[object, list] = {}
    texture_videos: dict[object, object] = {}
    seen_parent: set = set()
    conns = doc.find("Connections")
    for c in conns.children if conns is not None else []:
        if c.name not in ("C", "Connect") or len(c.props) < 3:
            continue
        kind, child, parent = c.props[0], c.props[1], c.props[2]
        if kind not in ("OO", "OP"):
            continue
        if child in models and parent in models and kind == "OO":
            if child not in seen_parent:
                models[child].parent = models[parent]
                seen_parent.add(child)
        elif child in geometries and parent in models and not legacy:
            # A node carries one mesh; later or repeated geometry connections are ignored.
            node_geometry.setdefault(parent, [child])
        elif child in materials and parent in models:
            if child not in node_materials.setdefault(parent, []):
                node_materials[parent].append(child)
        elif (child in textures or child in layered) and parent in materials:
            slot = c.props[3] if len(c.props) > 3 and isinstance(c.props[3], str) else None
            material_textures.setdefault(parent, []).append((_slot_rank(slot), child))
        elif child in textures and parent in layered:
            layered[parent].append(child)
        elif child in textures and parent in textures:
            texture_videos.setdefault(parent, child)
    for key in order:
        if legacy and key in geometries:
            node_geometry[key] = [key]
    # A layered texture stands for its first layer that paints colour over the others
    # (blend mode translucent, over or normal), else its first layer.
    for key, linked in material_textures.items():
        material_textures[key] = [
            (rank, _colour_layer(layered[t], blend_modes.get(t, [])) if t in layered else t)
            for rank, t in linked
            if t not in layered or layered[t]
        ]

    # Cycles make no world transform: reject them up front. Each node is walked once: a walk
    # stops at a node an earlier walk cleared (O(n) for any hierarchy, chains included).
    cleared: set[int] = set()
    for node in models.values():
        path: set[int] = set()
        n = node
        while n is not None and id(n) not in cleared:
            if id(n) in path:
                raise CorruptFileError(f"{source}: cyclic node hierarchy at node {node.name!r}")
            path.add(id(n))
            n = n.parent
        cleared |= path
    for key in order:
        node = models[key]
        node.mode = int(node.props.number("InheritType", 1))
        p = node.parent
        if p is None:
            node.mode = 1
        elif node.mode == 0:
            node.inherit_scale_node = p
        elif node.mode == 2:
            node.inherit_scale_node = p.inherit_scale_node

    scene = Scene(
        format="fbx",
        version=doc.version,
        creator=_creator(doc),
        source=source,
    )
    if settings is not None:
        sp = _Props(_read_props(settings))
        scene.unit_meters = sp.number("UnitScaleFactor", 1.0) * 0.01
        scene.axes = tuple(
            _axis(sp, a, s)
            for a, s in (
                ("CoordAxis", "CoordAxisSign"),
                ("UpAxis", "UpAxisSign"),
                ("FrontAxis", "FrontAxisSign"),
            )
        )

    material_cache: dict[object, Material] = {}
    texture_files: dict = {}  # texture files read beside the FBX, by path

    def material_of(key) -> Material:
        if key not in material_cache:
            obj = materials[key]
            # The base colour texture first (stable: file order within a slot).
            linked = [t for _, t in sorted(material_textures.get(key, []), key=lambda r: r[0])]
            named = [
                (t, _texture_paths(textures[t], _Props(_read_props(textures[t])))) for t in linked
            ]
            tex = [paths[0].rsplit("/", 1)[-1] for _, paths in named if paths]
            material = _material(obj, _Props(_read_props(obj), templates.get("Material", {})), tex)
            material_cache[key] = material
            # An embedded image: the Content of the first texture's video; else the first
            # texture's file, looked for beside the FBX.
            if named:
                first, paths = named[0]
                video = textures.get(texture_videos.get(first))
                content = video.find("Content") if video is not None else None
                data = content.value(0) if content is not None else None
                if isinstance(data, bytes) and data:
                    material.image = data
                elif folder is not None and paths:
                    if video is not None:
                        paths = paths + _texture_paths(video, _Props(_read_props(video)))
                    stem = Path(source).stem
                    material.image = _texture_beside(folder, stem, paths, texture_files)
        return material_cache[key]

    geometry_cache: dict[object, _Geometry] = {}
    for key in order:
        for gkey in node_geometry.get(key, []):
            node = models[key]
            if gkey not in geometry_cache:
                geometry_cache[gkey] = _read_geometry(
                    geometries[gkey], f"{source}: mesh {node.name!r}"
                )
            geo = geometry_cache[gkey]
            _resolve_world(node)
            xform = node.world @ _geometry_transform(node.props)
            identity = np.array_equal(xform, np.eye(4))
            verts = geo.vertices if identity else geo.vertices @ xform[:3, :3].T + xform[:3, 3]
            normal_values = normal_index = None
            if geo.normals is not None:
                normal_values, normal_index = geo.normals
                if not identity:
                    normal_values = _transform_normals(normal_values, xform)
            mats = [material_of(m) for m in node_materials.get(key, [])]
            face_material = None
            if geo.face_material is not None and mats:
                face_material = np.clip(geo.face_material, 0, len(mats) - 1)
            uv_values, uv_index = geo.uvs if geo.uvs is not None else (None, None)
            # Triangulated in world space, so that a written and re-read scene triangulates
            # alike.
            mesh = build_mesh(
                node.name,
                verts,
                geo.corners,
                geo.offsets,
                face_material=face_material,
                materials=mats,
                normal_values=normal_values,
                normal_index=normal_index,
                uv_values=uv_values,
                uv_index=uv_index,
                uv_set_names=list(geo.uv_names),
            )
            mesh.transform = xform
            mesh.parent = node.parent.name if node.parent is not None else None
            scene.meshes.append(mesh)
    for mesh, name in zip(scene.meshes, unique_names([m.name for m in scene.meshes]), strict=True):
        mesh.name = name
    return scene


def _transform_normals(normals: np.ndarray, xform: np.ndarray) -> np.ndarray:
    """(m, 3) normals carried through ``xform``'s inverse transpose, renormalised."""
    linear = xform[:3, :3]
    if abs(np.linalg.det(linear)) > 1e-300:
        linear = np.linalg.inv(linear).T
    out = normals @ linear.T
    length = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    return np.divide(out, length, out=np.zeros_like(out), where=length > 0)


def _axis(props: _Props, axis_name: str, sign_name: str) -> str:
    axis = int(props.number(axis_name, 3))
    sign = props.number(sign_name, 2)
    if axis not in _AXES:
        return "?"
    return ("+" if sign > 0 else "-") + _AXES[axis]


def _creator(doc: FbxDocument) -> str:
    header = doc.find("FBXHeaderExtension")
    if header is not None:
        creator = _first_string(header.find("Creator"))
        if creator:
            return display_text(creator)
    return display_text(_first_string(doc.find("Creator")))
