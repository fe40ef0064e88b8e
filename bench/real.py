"""Split every model of ../shared/data/real/ as a user would, and judge it against the range of
part counts a person would accept (manifest.json).

Each model runs ``pipeline.run`` (preview and JSON) in a child process, so the seconds and the
peak memory are that model's alone. Writes a contact sheet of the previews (each labelled with
its part count and the accepted range) and the table to docs/BENCHMARKS.md ("Real models").

    python bench/real.py [--data DIR] [--out DIR] [--granularity G] [--set name=value ...]
                         [--only NAME] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from options import segment_overrides  # noqa: E402
from report import write_section  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "real"
DEFAULT_OUT = Path(os.environ.get("PART3D_CACHE", Path.home() / ".cache" / "part3d")) / "real"


def _child(model: str, out: str, granularity: str, sets: list[str]) -> None:
    """Run in the child: split one model, print the summary as JSON."""
    from dataclasses import replace

    from part3d.pipeline import PipelineOptions, run
    from part3d.segment import SegmentOptions

    seg = replace(SegmentOptions(granularity=granularity), **segment_overrides(sets))
    result = run(model, out, PipelineOptions(formats=("png", "json"), segment=seg))
    print(json.dumps({"parts": len(result.parts), "seconds": sum(result.timings.values()),
                      "timings": result.timings, "png": str(result.outputs["png"])}))  # fmt: skip


def run_one(path: Path, out: Path, granularity: str, sets: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--out", str(out),
           "--granularity", granularity]  # fmt: skip
    for item in sets:
        cmd += ["--set", item]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss / 1024
    if os.waitstatus_to_exitcode(status) != 0 or not stdout.strip():
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last, "wall": wall, "peak_mb": peak}
    row = json.loads(stdout.strip().splitlines()[-1])
    row.update(wall=wall, peak_mb=peak)
    return row


def contact_sheet(rows: list[dict], path: Path, cell: int = 384) -> None:
    from PIL import Image, ImageDraw

    cols = 4
    n = len(rows)
    sheet = Image.new("RGB", (cols * cell, ((n + cols - 1) // cols) * (cell + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, row in enumerate(rows):
        x, y = (i % cols) * cell, (i // cols) * (cell + 24)
        if "png" in row:
            img = Image.open(row["png"]).convert("RGB").resize((cell, cell))
            sheet.paste(img, (x, y + 24))
        verdict = "ok" if row.get("inside") else "OUT"
        label = f"{row['file'][:30]}  {row.get('parts', 'ERR')} [{row['lo']}-{row['hi']}] {verdict}"
        draw.text((x + 4, y + 6), label, fill="black")
    sheet.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--granularity", default="balanced")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        _child(args.child, str(args.out), args.granularity, args.set)
        return
    try:
        segment_overrides(args.set)  # a wrong --set is said once, not as every model's error
    except ValueError as err:
        ap.error(str(err))
    manifest = json.loads((args.data / "manifest.json").read_text())
    rows = []
    for entry in manifest:
        if args.only and not any(o in entry["file"] for o in args.only):
            continue
        out = args.out / Path(entry["file"]).stem
        row = run_one(args.data / entry["file"], out, args.granularity, args.set)
        row.update(file=entry["file"], lo=entry["parts_lo"], hi=entry["parts_hi"],
                   kind=entry["kind"], triangles=entry["triangles"])  # fmt: skip
        row["inside"] = "parts" in row and row["lo"] <= row["parts"] <= row["hi"]
        rows.append(row)
        shown = row.get("parts", "ERROR " + row.get("error", ""))
        print(f"{entry['file']:32s} {shown!s:>6} [{row['lo']}-{row['hi']}] "
              f"{'ok ' if row['inside'] else 'OUT'} {row.get('seconds', 0):6.2f} s "
              f"{row['peak_mb']:6.0f} MB", flush=True)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = args.out / f"contact_sheet_{args.granularity}.png"
    contact_sheet(rows, sheet)
    inside = sum(r["inside"] for r in rows)
    print(f"{inside} of {len(rows)} inside their range; contact sheet: {sheet}")
    if args.no_doc or args.only or args.set:
        return
    lines = [
        "`python bench/real.py` splits each model of `../shared/data/real/` in its own process",
        f"(`pipeline.run`, preview + JSON, granularity {args.granularity}) and compares the part",
        "count with the range a person would accept (`manifest.json`). Peak = the child",
        "process's maximum resident memory.",
        "",
        "| model | kind | triangles | parts | accepted | inside | seconds | peak MB |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['file']} | {r['kind']} | {r['triangles']:,} | {r.get('parts', 'error')} | "
            f"{r['lo']}–{r['hi']} | {'yes' if r['inside'] else '**no**'} | "
            f"{r.get('seconds', float('nan')):.2f} | {r['peak_mb']:.0f} |"
        )
    lines += ["", f"{inside} of {len(rows)} models inside their range."]
    write_section(f"Real models ({args.granularity})", "\n".join(lines))


if __name__ == "__main__":
    main()
