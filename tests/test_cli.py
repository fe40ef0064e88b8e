"""The part3d command as a user runs it: a real process, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from part3d.io import load


def part3d(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "part3d.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_convert_writes_glb_and_obj_that_read_back(models: Path, tmp_path: Path) -> None:
    for ext in ("glb", "obj", "fbx"):
        out = tmp_path / f"jeep.{ext}"
        proc = part3d("convert", str(models / "jeep1.fbx"), str(out))
        assert proc.returncode == 0, proc.stderr
        assert str(out) in proc.stdout and "7 meshes" in proc.stdout
        assert load(out).triangle_count == 2032
    assert (tmp_path / "jeep.mtl").exists()


def test_convert_ascii_fbx_on_request(models: Path, tmp_path: Path) -> None:
    out = tmp_path / "spider.fbx"
    proc = part3d("convert", "--ascii", str(models / "spider.fbx"), str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"; FBX 7.4.0 project file")
    assert len(load(out).meshes) == 19


def test_info_json_reports_meshes_counts_unit_axes_and_bounds(models: Path) -> None:
    proc = part3d("info", "--json", str(models / "jeep1.fbx"))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert [m["name"] for m in info["meshes"]] == [
        "frw",
        "rrw",
        "flw",
        "rlw",
        "rsteer",
        "lsteer",
        "main",
    ]
    assert info["polygons"] == 2032 and info["triangles"] == 2032
    assert info["unit_meters"] == pytest.approx(0.01)
    assert info["axes"] == ["+X", "+Y", "+Z"]
    assert len(info["bbox"]) == 6


def test_info_table_names_every_mesh(models: Path) -> None:
    proc = part3d("info", str(models / "spider.fbx"))
    assert proc.returncode == 0, proc.stderr
    for name in ("Kopf", "Auge", "Bein1Li", "HLeib01"):
        assert name in proc.stdout
    assert "1368" in proc.stdout


BAD_CASES = {
    "missing file": (["info", "{tmp}/nope.fbx"], "nope.fbx: no such file"),
    "unknown extension": (["info", "{tmp}/model.xyz"], "model.xyz: cannot read '.xyz' files"),
    "corrupt file": (
        ["convert", "{fbx}/bad/crafted_truncated_binary_50pct.fbx", "{tmp}/o.glb"],
        "crafted_truncated_binary_50pct.fbx:",
    ),
    "empty scene": (
        ["info", "{fbx}/maya_character_6100_binary.fbx"],
        "maya_character_6100_binary.fbx: the file contains no mesh",
    ),
    "no faces": (
        ["convert", "{fbx}/blender_279_edge_vertex_7400_binary.fbx", "{tmp}/o.obj"],
        "blender_279_edge_vertex_7400_binary.fbx: the file's meshes have no faces",
    ),
    "unwritable format": (
        ["convert", "{models}/jeep1.fbx", "{tmp}/o.gltf"],
        "o.gltf: cannot write '.gltf' files",
    ),
    "missing output folder": (
        ["convert", "{models}/jeep1.fbx", "{tmp}/no/such/dir/o.glb"],
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_prints_one_line_and_exits_non_zero(case, models, fbx_dir, tmp_path) -> None:
    args, expected = BAD_CASES[case]
    (tmp_path / "model.xyz").write_text("x")
    args = [a.format(tmp=tmp_path, fbx=fbx_dir, models=models) for a in args]
    proc = part3d(*args)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("part3d: error: ")
    assert expected in lines[0]


def test_written_files_get_ordinary_permissions(models: Path, tmp_path: Path) -> None:
    import os

    mask = os.umask(0)
    os.umask(mask)
    out = tmp_path / "jeep.fbx"
    assert part3d("convert", str(models / "jeep1.fbx"), str(out)).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_convert_to_metres_and_y_up_on_request(fbx_dir: Path, tmp_path: Path) -> None:
    src = fbx_dir / "axes_pypz_7400_binary.fbx"  # centimetres, Z up
    out = tmp_path / "yup.glb"
    proc = part3d("convert", "--meters", "--y-up", str(src), str(out))
    assert proc.returncode == 0, proc.stderr
    before, after = load(src).bounds(), load(out).bounds()
    # Z up (cm) becomes Y up (m): the old Z extent is the new Y extent, a hundred times smaller.
    assert after[1, 1] - after[0, 1] == pytest.approx((before[1, 2] - before[0, 2]) / 100)


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`part3d info FILE --json | head -c 10` on a model whose JSON is far larger than a pipe
    holds: no "Broken pipe" error line."""
    lines = []
    for i in range(3000):
        lines += [f"o piece_{i}", f"v {i} 0 0", f"v {i} 1 0", f"v {i} 0 1", "f -3 -2 -1"]
    model = tmp_path / "many.obj"
    model.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        f"{sys.executable} -m part3d.cli info {model} --json | head -c 10",
        shell=True, capture_output=True, text=True,
    )  # fmt: skip
    assert len(proc.stdout) == 10
    assert "error" not in proc.stderr.lower()


def test_folders_and_files_in_the_wrong_place_get_one_clear_line(
    models: Path, tmp_path: Path
) -> None:
    proc = part3d("info", str(models))
    assert proc.returncode == 1 and proc.stderr.strip().endswith("is a folder, not a model file")
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    proc = part3d("split", str(models / "spider.fbx"), "-o", str(a_file))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("is a file, not an output folder")


def test_a_failed_run_leaves_no_empty_folder(fbx_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    bad = fbx_dir / "bad" / "crafted_deflate_corrupt_stream.fbx"
    proc = part3d("split", str(bad), "-o", str(out))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
