"""Small FBX files made here for the reader's edge cases (ASCII 7.4 text)."""

from __future__ import annotations


def chain_fbx(n: int, vertices: str = "0,0,0,1,0,0,0,1,0") -> str:
    """One triangle mesh under a chain of ``n`` nodes, each parented to the next;
    ``vertices`` is the Vertices array's text as written."""
    lines = [
        "; FBX 7.4.0 project file",
        "FBXHeaderExtension:  {",
        "\tFBXHeaderVersion: 1003",
        "\tFBXVersion: 7400",
        "}",
        "Objects:  {",
        '\tGeometry: 1, "Geometry::tri", "Mesh" {',
        f"\t\tVertices: *9 {{\n\t\t\ta: {vertices}\n\t\t}}",
        "\t\tPolygonVertexIndex: *3 {\n\t\t\ta: 0,1,-3\n\t\t}",
        "\t}",
    ]
    lines += [f'\tModel: {100 + i}, "Model::n{i}", "Mesh" {{\n\t}}' for i in range(n)]
    lines += ["}", "Connections:  {", '\tC: "OO",1,100']
    lines += [f'\tC: "OO",{100 + i},{101 + i}' for i in range(n - 1)]
    lines.append("}")
    return "\n".join(lines) + "\n"
