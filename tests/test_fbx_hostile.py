"""Hostile FBX files end in a Part3DError quickly, in a process with capped memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from fbx_reference import FBX_DIR, reference

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from part3d.errors import Part3DError
    from part3d.io import fbx
    out = {}
    for path in sys.argv[1:]:
        t = time.perf_counter()
        try:
            fbx.read(path)
            result = "ok"
        except Part3DError as exc:
            result = "error"
        out[path] = [result, time.perf_counter() - t]
    print(json.dumps(out))
    """
)


def test_every_malformed_file_answers_within_two_seconds_without_crashing() -> None:
    paths = [str(FBX_DIR / n) for n in reference() if n.startswith("bad/")]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *paths], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert set(results) == set(paths)
    slow = {p: t for p, (_, t) in results.items() if t > 2.0}
    assert slow == {}
