"""Every input ends in one of two ways: parts, or a one-line error naming the file. Splits
every file of ../shared/data (fbx/, fbx/bad/, models/, real/) in capped child processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXTENSIONS = {".fbx", ".obj", ".glb", ".gltf", ".stl", ".ply", ".off"}

CHILD = textwrap.dedent(
    """
    import json, resource, sys, tempfile, traceback
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    from part3d.errors import Part3DError
    from part3d.pipeline import PipelineOptions, run
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(sys.argv[1:]):
            try:
                result = run(path, f"{tmp}/{i}", PipelineOptions(formats=("json", "fbx")))
                out[path] = ["parts", len(result.parts)]
            except Part3DError as exc:
                out[path] = ["error", str(exc)]
            except Exception:
                out[path] = ["crash", traceback.format_exc()[-1500:]]
    print(json.dumps(out))
    """
)


def _files() -> list[str]:
    found = []
    for folder in ("fbx", "fbx/bad", "models", "real"):
        for p in sorted((DATA / folder).iterdir()):
            if p.suffix.lower() in EXTENSIONS and p.is_file():
                found.append(str(p))
    return found


FILES = _files()
CHUNKS = [FILES[i::6] for i in range(6)]


@pytest.mark.parametrize("chunk", range(len(CHUNKS)))
def test_every_file_gives_parts_or_one_line_naming_it(chunk: int) -> None:
    paths = CHUNKS[chunk]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    crashes = {p: r[1] for p, r in results.items() if r[0] == "crash"}
    assert crashes == {}
    for path, (kind, detail) in results.items():
        if kind == "error":
            assert "\n" not in detail and Path(path).name in detail, (path, detail)
        else:
            assert detail >= 1
