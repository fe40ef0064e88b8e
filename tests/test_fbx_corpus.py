"""Every file of the FBX corpus reads as the reference reader (ufbx) reads it, or is rejected."""

from __future__ import annotations

import pytest
from fbx_reference import FBX_DIR, compare, reference

from part3d.errors import Part3DError, UnsupportedVersionError
from part3d.io import fbx

GOOD = sorted(n for n in reference() if not n.startswith("bad/"))
BAD = sorted(n for n in reference() if n.startswith("bad/"))


@pytest.mark.parametrize("name", GOOD)
def test_corpus_file_matches_reference(name: str) -> None:
    ref = reference()[name]["ufbx"]
    if ref["status"] == "error":
        with pytest.raises(Part3DError):
            fbx.read(FBX_DIR / name)
        return
    if ref["version"] < 6100:
        # Pre-6.1 files may be rejected, but only with the unsupported-version error.
        try:
            scene = fbx.read(FBX_DIR / name)
        except UnsupportedVersionError as exc:
            assert name in str(exc) and "version" in str(exc)
            return
    else:
        scene = fbx.read(FBX_DIR / name)
    assert compare(scene, ref) == []


@pytest.mark.parametrize("name", BAD)
def test_malformed_file_is_read_correctly_or_rejected_in_one_line(name: str) -> None:
    ref = reference()[name]["ufbx"]
    try:
        scene = fbx.read(FBX_DIR / name)
    except Part3DError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(name.split("/")[-1])
        return
    assert ref["status"] == "ok", "the reference rejects this file, so must part3d"
    assert compare(scene, ref) == []


def test_version_older_than_6100_is_rejected_with_the_version_named() -> None:
    with pytest.raises(UnsupportedVersionError, match=r"FBX version \d+ is not supported"):
        fbx.read(FBX_DIR / "max2009_blob_5800_binary.fbx")
