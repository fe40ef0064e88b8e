"""The README's library example runs as written, on a real model."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from conftest import DATA, ROOT


def test_the_readme_library_example_runs(tmp_path: Path, monkeypatch) -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*Library\*\*:\s*```python\n(.*?)```", text, re.S)
    assert block, "the README has no library example"
    code = textwrap.dedent(block.group(1))
    # The example's model.fbx: a real single-mesh FBX (a rigged AI-generated carrot).
    model = DATA / "real" / "unirig_tripo_carrot.fbx"
    monkeypatch.chdir(tmp_path)
    os.symlink(model, tmp_path / "model.fbx")
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)
    six, info, fine, seg = names["six"], names["info"], names["fine"], names["seg"]
    assert six.part_count == 6 and six.warning is None
    # Every face of the model in exactly one part.
    faces = sorted(f for part in info.values() for f in part["face_ids"])
    assert len(info) == 6 and faces == list(range(names["scene"].meshes[0].polygon_count))
    assert fine.part_count >= seg.part_count
    assert names["result"].summary()["parts_achieved"] == 8
    assert (tmp_path / "parts.glb").stat().st_size > 0
    assert (tmp_path / "out" / "model_parts.fbx").exists()
