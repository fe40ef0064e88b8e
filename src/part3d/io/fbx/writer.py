"""FBX scene layer, writing: a :class:`~part3d.model.Scene` as an FBX 7.4 file.

Each mesh becomes a Model (named after the mesh, identity transform, under the root), a Geometry
with its polygons in face-id order, per-corner normals and the first UV set when present, a
per-polygon material layer, and one Material per distinct scene material. Vertices are written
in world space; GlobalSettings states the scene's unit and axes. The header records follow what
the FBX SDK writes (FBXHeaderExtension, GlobalSettings, Documents, References, Definitions with
counts and property templates, Objects, Connections, Takes) so that Blender, Maya and Unity
open the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import part3d
from part3d.errors import Part3DError
from part3d.io import write_atomic
from part3d.io.fbx.nodes import FbxNode, Int64, write_ascii, write_binary
from part3d.model import Material, Mesh, Scene

VERSION = 7400
_TIME = "1970-01-01 10:00:00:000"
# A FileId that FBX SDK readers accept together with the CreationTime above.
_FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def _object_name(name: str, cls: str, ascii: bool) -> str:
    """Binary files store ``name\\x00\\x01Class``, ASCII files ``Class::name``."""
    return f"{cls}::{name}" if ascii else f"{name}\x00\x01{cls}"


def _p(name: str, kind: str, label: str, flags: str, *values) -> FbxNode:
    return FbxNode("P", [name, kind, label, flags, *values])


def _props70(*props: FbxNode) -> FbxNode:
    return FbxNode("Properties70", children=list(props))


def _n(name: str, *values, children: list[FbxNode] | None = None) -> FbxNode:
    return FbxNode(name, list(values), children)


def _axis_props(axes: tuple[str, str, str]) -> list[FbxNode]:
    out = []
    for (axis_name, sign_name), axis in zip(
        (("CoordAxis", "CoordAxisSign"), ("UpAxis", "UpAxisSign"), ("FrontAxis", "FrontAxisSign")),
        axes,
        strict=True,
    ):
        if len(axis) == 2 and axis[1] in _AXIS_INDEX:
            out.append(_p(axis_name, "int", "Integer", "", _AXIS_INDEX[axis[1]]))
            out.append(_p(sign_name, "int", "Integer", "", -1 if axis[0] == "-" else 1))
    return out


def _header(creator: str, ascii: bool) -> FbxNode:
    return _n(
        "FBXHeaderExtension",
        children=[
            _n("FBXHeaderVersion", 1003),
            _n("FBXVersion", VERSION),
            _n("EncryptionType", 0),
            _n(
                "CreationTimeStamp",
                children=[
                    _n("Version", 1000),
                    *(_n(k, v) for k, v in (("Year", 1970), ("Month", 1), ("Day", 1))),
                    *(_n(k, v) for k, v in (("Hour", 10), ("Minute", 0), ("Second", 0))),
                    _n("Millisecond", 0),
                ],
            ),
            _n("Creator", creator),
            _n(
                "SceneInfo",
                _object_name("GlobalInfo", "SceneInfo", ascii),
                "UserData",
                children=[
                    _n("Type", "UserData"),
                    _n("Version", 100),
                    _n(
                        "MetaData",
                        children=[_n("Version", 100)]
                        + [_n(k, "") for k in ("Title", "Subject", "Author", "Keywords")]
                        + [_n(k, "") for k in ("Revision", "Comment")],
                    ),
                    _props70(
                        _p("Original", "Compound", "", ""),
                        _p("Original|ApplicationVendor", "KString", "", "", "part3d"),
                        _p("Original|ApplicationName", "KString", "", "", "part3d"),
                        _p("Original|ApplicationVersion", "KString", "", "", part3d.__version__),
                        _p("LastSaved", "Compound", "", ""),
                        _p("LastSaved|ApplicationVendor", "KString", "", "", "part3d"),
                        _p("LastSaved|ApplicationName", "KString", "", "", "part3d"),
                        _p("LastSaved|ApplicationVersion", "KString", "", "", part3d.__version__),
                    ),
                ],
            ),
        ],
    )


def _global_settings(scene: Scene) -> FbxNode:
    unit_cm = float(scene.unit_meters) * 100.0
    return _n(
        "GlobalSettings",
        children=[
            _n("Version", 1000),
            _props70(
                *_axis_props(scene.axes),
                _p("OriginalUpAxis", "int", "Integer", "", -1),
                _p("OriginalUpAxisSign", "int", "Integer", "", 1),
                _p("UnitScaleFactor", "double", "Number", "", unit_cm),
                _p("OriginalUnitScaleFactor", "double", "Number", "", unit_cm),
                _p("AmbientColor", "ColorRGB", "Color", "", 0.0, 0.0, 0.0),
                _p("DefaultCamera", "KString", "", "", "Producer Perspective"),
                _p("TimeMode", "enum", "", "", 11),
                _p("TimeSpanStart", "KTime", "Time", "", Int64(0)),
                _p("TimeSpanStop", "KTime", "Time", "", Int64(46186158000)),
                _p("CustomFrameRate", "double", "Number", "", -1.0),
            ),
        ],
    )


def _definitions(
    n_models: int, n_materials: int, n_textures: int = 0, n_groups: int = 0
) -> FbxNode:
    node_template = _props70(
        _p("Lcl Translation", "Lcl Translation", "", "A", 0.0, 0.0, 0.0),
        _p("Lcl Rotation", "Lcl Rotation", "", "A", 0.0, 0.0, 0.0),
        _p("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0),
        _p("RotationOrder", "enum", "", "", 0),
        _p("InheritType", "enum", "", "", 0),
        _p("Visibility", "Visibility", "", "A", 1.0),
        _p("DefaultAttributeIndex", "int", "Integer", "", -1),
    )
    mesh_template = _props70(
        _p("Color", "ColorRGB", "Color", "", 0.8, 0.8, 0.8),
        _p("Primary Visibility", "bool", "", "", 1),
        _p("Casts Shadows", "bool", "", "", 1),
        _p("Receive Shadows", "bool", "", "", 1),
    )
    material_template = _props70(
        _p("ShadingModel", "KString", "", "", "Lambert"),
        _p("DiffuseColor", "Color", "", "A", 0.8, 0.8, 0.8),
        _p("DiffuseFactor", "Number", "", "A", 1.0),
        _p("TransparencyFactor", "Number", "", "A", 0.0),
        _p("Opacity", "double", "Number", "", 1.0),
    )
    types = [_n("ObjectType", "GlobalSettings", children=[_n("Count", 1)])]
    types.append(
        _n(
            "ObjectType",
            "Model",
            children=[
                _n("Count", n_models + n_groups),
                _n("PropertyTemplate", "FbxNode", children=[node_template]),
            ],
        )
    )
    types.append(
        _n(
            "ObjectType",
            "Geometry",
            children=[
                _n("Count", n_models),
                _n("PropertyTemplate", "FbxMesh", children=[mesh_template]),
            ],
        )
    )
    if n_materials:
        types.append(
            _n(
                "ObjectType",
                "Material",
                children=[
                    _n("Count", n_materials),
                    _n("PropertyTemplate", "FbxSurfaceLambert", children=[material_template]),
                ],
            )
        )
    for kind in ("Texture", "Video") if n_textures else ():
        types.append(_n("ObjectType", kind, children=[_n("Count", n_textures)]))
    total = 1 + 2 * n_models + n_groups + n_materials + 2 * n_textures
    return _n("Definitions", children=[_n("Version", 100), _n("Count", total), *types])


def _layer(
    kind: str,
    data_name: str,
    index_name: str,
    values: np.ndarray,
    index: np.ndarray | None,
    corners: np.ndarray,
    name: str = "",
) -> FbxNode:
    """A layer element in the layout the mesh already has: per corner (Direct), per vertex
    (ByVertice, when the index is the corner's vertex), or indexed (IndexToDirect)."""
    flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    if index is None:
        mapping, reference, extra = "ByPolygonVertex", "Direct", []
    elif index is corners or np.array_equal(index, corners):
        mapping, reference, extra = "ByVertice", "Direct", []
    else:
        mapping, reference = "ByPolygonVertex", "IndexToDirect"
        extra = [_n(index_name, np.asarray(index, dtype=np.int32))]
    return _n(
        kind,
        0,
        children=[
            _n("Version", 101),
            _n("Name", name),
            _n("MappingInformationType", mapping),
            _n("ReferenceInformationType", reference),
            _n(data_name, flat),
            *extra,
        ],
    )


def _geometry(mesh: Mesh, gid: int, name: str, n_materials: int, ascii: bool) -> FbxNode:
    sizes = mesh.polygon_sizes
    if (sizes == 0).any():
        f = int(np.flatnonzero(sizes == 0)[0])
        raise Part3DError(f"mesh {mesh.name!r}: polygon {f} has no corners and cannot be written")
    index = mesh.corners.astype(np.int32, copy=True)
    ends = mesh.offsets[1:] - 1
    index[ends] = ~index[ends]
    children = [
        _n("Properties70"),
        _n("GeometryVersion", 124),
        _n("Vertices", np.ascontiguousarray(mesh.vertices, dtype=np.float64).reshape(-1)),
        _n("PolygonVertexIndex", index),
    ]
    layer_refs = []
    if mesh.normal_values is not None:
        children.append(
            _layer(
                "LayerElementNormal",
                "Normals",
                "NormalsIndex",
                mesh.normal_values,
                mesh.normal_index,
                mesh.corners,
            )
        )
        layer_refs.append("LayerElementNormal")
    if mesh.uv_values is not None:
        uv_name = mesh.uv_set_names[0] if mesh.uv_set_names else "UVMap"
        children.append(
            _layer(
                "LayerElementUV",
                "UV",
                "UVIndex",
                mesh.uv_values,
                mesh.uv_index,
                mesh.corners,
                uv_name,
            )
        )
        layer_refs.append("LayerElementUV")
    if n_materials:
        same = len(mesh.face_material) == 0 or (mesh.face_material == mesh.face_material[0]).all()
        materials = (
            mesh.face_material[:1].astype(np.int32)
            if same and len(mesh.face_material)
            else mesh.face_material.astype(np.int32)
        )
        children.append(
            _n(
                "LayerElementMaterial",
                0,
                children=[
                    _n("Version", 101),
                    _n("Name", ""),
                    _n("MappingInformationType", "AllSame" if same else "ByPolygon"),
                    _n("ReferenceInformationType", "IndexToDirect"),
                    _n("Materials", materials if len(materials) else np.zeros(1, np.int32)),
                ],
            )
        )
        layer_refs.append("LayerElementMaterial")
    children.append(
        _n(
            "Layer",
            0,
            children=[_n("Version", 100)]
            + [
                _n("LayerElement", children=[_n("Type", ref), _n("TypedIndex", 0)])
                for ref in layer_refs
            ],
        )
    )
    return _n(
        "Geometry", Int64(gid), _object_name(name, "Geometry", ascii), "Mesh", children=children
    )


def _model(mid: int, name: str, ascii: bool, kind: str = "Mesh") -> FbxNode:
    return _n(
        "Model",
        Int64(mid),
        _object_name(name, "Model", ascii),
        kind,
        children=[
            _n("Version", 232),
            _props70(
                _p("InheritType", "enum", "", "", 1),
                _p("DefaultAttributeIndex", "int", "Integer", "", 0),
                _p("Lcl Translation", "Lcl Translation", "", "A", 0.0, 0.0, 0.0),
                _p("Lcl Rotation", "Lcl Rotation", "", "A", 0.0, 0.0, 0.0),
                _p("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0),
            ),
            _n("Shading", True),
            _n("Culling", "CullingOff"),
        ],
    )


def _texture(tex_id: int, video_id: int, material: Material, ascii: bool) -> list[FbxNode]:
    file_name = Path((material.texture or f"{material.name}.png").replace("\\", "/")).name
    name = f"{material.name}_texture"
    video = _n(
        "Video",
        Int64(video_id),
        _object_name(name, "Video", ascii),
        "Clip",
        children=[
            _n("Type", "Clip"),
            _props70(_p("Path", "KString", "XRefUrl", "", file_name)),
            _n("UseMipMap", 0),
            _n("Filename", file_name),
            _n("RelativeFilename", file_name),
            _n("Content", material.image),
        ],
    )
    texture = _n(
        "Texture",
        Int64(tex_id),
        _object_name(name, "Texture", ascii),
        "",
        children=[
            _n("Type", "TextureVideoClip"),
            _n("Version", 202),
            _n("TextureName", _object_name(name, "Texture", ascii)),
            _n("Media", _object_name(name, "Video", ascii)),
            _n("FileName", file_name),
            _n("RelativeFilename", file_name),
            _n("ModelUVTranslation", 0.0, 0.0),
            _n("ModelUVScaling", 1.0, 1.0),
            _n("Texture_Alpha_Source", "None"),
            _n("Cropping", 0, 0, 0, 0),
        ],
    )
    return [video, texture]


def _material(mat_id: int, material: Material, ascii: bool) -> FbxNode:
    r, g, b, a = (float(c) for c in material.color)
    return _n(
        "Material",
        Int64(mat_id),
        _object_name(material.name, "Material", ascii),
        "",
        children=[
            _n("Version", 102),
            _n("ShadingModel", "lambert"),
            _n("MultiLayer", 0),
            _props70(
                _p("DiffuseColor", "Color", "", "A", r, g, b),
                _p("Diffuse", "Vector3D", "Vector", "", r, g, b),
                _p("TransparencyFactor", "Number", "", "A", 1.0 - a),
                _p("Opacity", "double", "Number", "", a),
            ),
        ],
    )


def build(scene: Scene, *, ascii: bool = False, creator: str | None = None) -> list[FbxNode]:
    """The top-level nodes of an FBX 7.4 file holding ``scene`` (names spelt for ``ascii``)."""
    creator = creator or f"part3d {part3d.__version__}"
    next_id = iter(range(1_000_000, 1 << 62))
    objects: list[FbxNode] = []
    connections: list[FbxNode] = []
    material_ids: dict[int, int] = {}
    material_nodes: list[FbxNode] = []
    groups: dict[str, int] = {}
    for mesh, parent in zip(scene.meshes, scene.group_nodes(), strict=True):
        mid, gid = next(next_id), next(next_id)
        objects.append(_geometry(mesh, gid, mesh.name, len(mesh.materials), ascii))
        objects.append(_model(mid, mesh.name, ascii))
        # A mesh under a node that is not a mesh (a part under the mesh it was cut from): a
        # Null node of that name groups them (vertices are in world space: it does not move).
        if parent is not None and parent not in groups:
            groups[parent] = next(next_id)
            objects.append(_model(groups[parent], parent, ascii, kind="Null"))
            connections.append(_n("C", "OO", Int64(groups[parent]), Int64(0)))
        connections.append(_n("C", "OO", Int64(mid), Int64(groups.get(parent, 0))))
        connections.append(_n("C", "OO", Int64(gid), Int64(mid)))
        for material in mesh.materials:
            key = id(material)
            if key not in material_ids:
                material_ids[key] = next(next_id)
                material_nodes.append(_material(material_ids[key], material, ascii))
            connections.append(_n("C", "OO", Int64(material_ids[key]), Int64(mid)))
    textures = 0
    for material in {id(m): m for mesh in scene.meshes for m in mesh.materials}.values():
        if material.image is None:
            continue
        # The texture, with its image embedded (a Video's Content), as the diffuse colour.
        tid, vid = next(next_id), next(next_id)
        objects.extend(_texture(tid, vid, material, ascii))
        connections.append(_n("C", "OO", Int64(vid), Int64(tid)))
        connections.append(
            _n("C", "OP", Int64(tid), Int64(material_ids[id(material)]), "DiffuseColor")
        )
        textures += 1
    objects.extend(material_nodes)
    document = _n(
        "Document",
        Int64(next(next_id)),
        "Scene",
        "Scene",
        children=[
            _props70(
                _p("SourceObject", "object", "", ""),
                _p("ActiveAnimStackName", "KString", "", "", ""),
            ),
            _n("RootNode", Int64(0)),
        ],
    )
    return [
        _header(creator, ascii),
        *([] if ascii else [_n("FileId", _FILE_ID)]),
        _n("CreationTime", _TIME),
        _n("Creator", creator),
        _global_settings(scene),
        _n("Documents", children=[_n("Count", 1), document]),
        _n("References"),
        _definitions(len(scene.meshes), len(material_nodes), textures, len(groups)),
        _n("Objects", children=objects),
        _n("Connections", children=connections),
        _n("Takes", children=[_n("Current", "")]),
    ]


def write(scene: Scene, path: str | Path, *, ascii: bool = False) -> None:
    """Write ``scene`` as binary FBX 7.4 (or ASCII with ``ascii=True``), atomically."""
    path = Path(path)
    roots = build(scene, ascii=ascii)
    data = write_ascii(roots, VERSION) if ascii else write_binary(roots, VERSION)
    write_atomic(path, data)
