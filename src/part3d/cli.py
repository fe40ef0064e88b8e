"""The ``part3d`` command line: ``split``, ``convert`` and ``info``.

Every failure prints one line naming the file and the problem and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from part3d import __version__
from part3d.errors import Part3DError


def _scene_summary(scene, path: Path) -> dict:
    bounds = scene.bounds()
    return {
        "file": str(path),
        "format": scene.format,
        "version": scene.version,
        "creator": scene.creator,
        "unit_meters": scene.unit_meters,
        "axes": list(scene.axes),
        "meshes": [
            {
                "name": m.name,
                "vertices": len(m.vertices),
                "polygons": m.polygon_count,
                "triangles": len(m.tri_face),
                "materials": [mat.name for mat in m.materials],
                "normals": m.normal_values is not None,
                "uvs": m.uv_values is not None,
            }
            for m in scene.meshes
        ],
        "polygons": scene.polygon_count,
        "triangles": scene.triangle_count,
        "bbox": None if bounds is None else [float(x) for x in bounds.reshape(-1)],
    }


def _print_summary(summary: dict, console) -> None:
    from rich.table import Table

    head = f"[bold]{summary['file']}[/bold]  {summary['format'].upper()}"
    if summary["version"]:
        head += f" {summary['version']}"
    console.print(head)
    if summary["creator"]:
        console.print(f"  creator  {summary['creator']}")
    console.print(
        f"  unit     {summary['unit_meters']:g} m    axes (right, up, front) "
        f"{' '.join(summary['axes'])}"
    )
    if summary["bbox"]:
        lo, hi = summary["bbox"][:3], summary["bbox"][3:]
        console.print(
            "  bbox     "
            + " ".join(f"{x:.4g}" for x in lo)
            + "  ..  "
            + " ".join(f"{x:.4g}" for x in hi)
        )
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("mesh", "vertices", "polygons", "triangles", "materials"):
        table.add_column(col, justify="left" if col in ("mesh", "materials") else "right")
    for m in summary["meshes"]:
        table.add_row(
            m["name"],
            str(m["vertices"]),
            str(m["polygons"]),
            str(m["triangles"]),
            ", ".join(m["materials"]),
        )
    table.add_row(
        f"[bold]{len(summary['meshes'])} meshes[/bold]",
        "",
        f"[bold]{summary['polygons']}[/bold]",
        f"[bold]{summary['triangles']}[/bold]",
        "",
    )
    console.print(table)


def cmd_info(args) -> int:
    from part3d.io import load

    path = Path(args.file)
    scene = load(path)
    summary = _scene_summary(scene, path)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        from rich.console import Console

        _print_summary(summary, Console(highlight=False))
    return 0


def cmd_convert(args) -> int:
    from part3d.io import load, save

    src, dst = Path(args.input), Path(args.output)
    if not dst.parent.exists():
        raise Part3DError(f"{dst}: the output folder {dst.parent} does not exist")
    t0 = time.perf_counter()
    scene = load(src)
    if args.meters or args.y_up:
        try:
            scene = scene.converted(
                unit_meters=1.0 if args.meters else None,
                axes=("+X", "+Y", "+Z") if args.y_up else None,
            )
        except ValueError as exc:
            raise Part3DError(f"{src.name}: cannot convert: {exc}") from None
    t1 = time.perf_counter()
    save(scene, dst, ascii=args.ascii)
    t2 = time.perf_counter()
    written = [dst] + ([dst.with_suffix(".mtl")] if dst.suffix.lower() == ".obj" else [])
    if args.json:
        print(
            json.dumps(
                {
                    "input": str(src),
                    "outputs": [str(p) for p in written],
                    "meshes": len(scene.meshes),
                    "polygons": scene.polygon_count,
                    "triangles": scene.triangle_count,
                    "seconds": {"read": t1 - t0, "write": t2 - t1},
                }
            )
        )
    else:
        print(
            f"{src} -> {', '.join(str(p) for p in written)}: {len(scene.meshes)} meshes, "
            f"{scene.polygon_count} polygons, {scene.triangle_count} triangles "
            f"(read {t1 - t0:.2f} s, write {t2 - t1:.2f} s)"
        )
    return 0


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _parts_arg(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--parts takes a number or 'auto', not {value!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError("--parts must be at least 1")
    return n


def cmd_split(args) -> int:
    from dataclasses import replace

    from part3d.pipeline import FORMATS, PipelineOptions, run

    src = Path(args.model)
    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise Part3DError(
            f"--formats: unknown format {bad[0]!r} (choose from {', '.join(FORMATS)})"
        )
    out_dir = Path(args.output) if args.output else src.resolve().parent
    if args.post_process and args.stage == "segment":
        raise Part3DError("--post-process and --stage segment cannot be used together")
    if args.post_process and args.open:
        raise Part3DError("--post-process makes closed parts; it cannot be used with --open")
    options = PipelineOptions(
        formats=formats,
        stage=args.stage,
        close=not args.open,
        post_process=args.post_process,
        colors=args.colors,
    )
    options = replace(
        options,
        segment=replace(
            options.segment, parts=args.parts, seed=args.seed, granularity=args.granularity
        ),
    )

    def warn(message: str) -> None:
        print(f"part3d: warning: {message}", file=sys.stderr)

    given = None
    if args.segmentation:
        if args.parts is not None:
            raise Part3DError("--parts and --segmentation cannot be used together")
        given = Path(args.segmentation).read_text(encoding="utf-8")

    if args.json or not sys.stderr.isatty():
        result = run(src, out_dir, options, warn=warn, segmentation=given)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(f"{src.name}: load", total=1)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=f"{src.name}: {stage}", completed=done, total=total)

            result = run(src, out_dir, options, progress, warn=warn, segmentation=given)
    if args.json:
        print(json.dumps({"input": str(src), **result.summary()}, indent=2))
        return 0
    print(
        f"{src}: {result.faces} faces in {_count(result.meshes, 'mesh', 'meshes')} -> "
        f"{_count(len(result.parts), 'part', 'parts')} ({sum(result.timings.values()):.2f} s)"
    )
    for fmt, path in result.outputs.items():
        print(f"  {fmt:<5} {path}")
    return 0


def cmd_serve(args) -> int:
    import os

    import uvicorn

    os.environ.setdefault("PART3D_PUBLIC_URL", f"http://{args.host}:{args.port}")
    from part3d.service.config import config, store
    from part3d.service.observe import setup_logging

    setup_logging()
    db = store()  # creates PART3D_HOME, runs the migrations
    workers = None if args.no_workers else _start_workers(db, args.workers)
    roles = (
        "front door only"
        if workers is None
        else f"{args.workers} worker process{'es' if args.workers != 1 else ''}"
    )
    print(
        f"part3d serving on http://{args.host}:{args.port} (state in {config().home}, {roles})",
        flush=True,
    )
    try:
        from part3d.service.app import create_app
        from part3d.service.guard import GuardedHttpToolsProtocol

        uvicorn.run(
            create_app(),
            host=args.host,
            port=args.port,
            log_level="warning",
            http=GuardedHttpToolsProtocol,
        )
    finally:
        if workers is not None:
            workers.stop()
    return 0


def _start_workers(db, count: int):
    """Offer again the jobs accepted but held by no live worker (a restart, a queue message
    lost with a dead machine; jobs a live worker holds stay with it), then start ``count``
    supervised worker processes: one job at a time each, a dead one replaced, its job run
    again once its lease runs out."""
    import os

    from part3d.service.queue import process
    from part3d.service.supervise import Supervisor

    for job_id in db.unfinished():
        process(job_id)
    workers = Supervisor(count, os.getpid())
    workers.start()
    return workers


def cmd_worker(args) -> int:
    import signal

    from part3d.service.config import store
    from part3d.service.observe import setup_logging

    setup_logging()
    db = store()  # the migrations, before any worker touches the records
    workers = _start_workers(db, args.workers)
    print(f"part3d worker: {args.workers} worker process(es)", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        workers.stop()
    return 0


def cmd_keys(args) -> int:
    from part3d.service.config import store

    db = store()
    if args.keys_command == "create":
        secret_id, secret_key = db.create_key(args.account)
        if args.json:
            print(json.dumps({"SecretId": secret_id, "SecretKey": secret_key}))
        else:
            print(
                f"SecretId  {secret_id}\nSecretKey {secret_key}\n(account {args.account}; "
                "the secret is shown only now)"
            )
    elif args.keys_command == "list":
        rows = db.list_keys()
        if args.json:
            print(json.dumps(rows))
        for r in [] if args.json else rows:
            state = "revoked" if r["Revoked"] else "active"
            print(f"{r['SecretId']}  {r['Account']}  {state}")
    else:
        if not db.revoke_key(args.secret_id):
            raise Part3DError(f"no active key {args.secret_id}")
        print(f"revoked {args.secret_id}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="part3d", description="Split 3D models into their parts.")
    parser.add_argument("--version", action="version", version=f"part3d {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    p = sub.add_parser(
        "convert",
        help="convert a model between formats (by file extension)",
        description="Convert IN to OUT; formats follow the extensions: read "
        "fbx, obj, gltf, glb, stl, ply, off; write fbx, obj (+mtl), glb, stl, ply.",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--ascii", action="store_true", help="write ASCII FBX instead of binary")
    p.add_argument(
        "--meters", action="store_true", help="scale to metres (default: keep the file's unit)"
    )
    p.add_argument(
        "--y-up",
        action="store_true",
        help="rotate to +X right, +Y up, +Z front, as glTF expects (default: keep the file's axes)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser(
        "split",
        help="split a model into its parts and write them (OBJ, FBX, GLB, preview PNG, JSON)",
        description="Segment MODEL into parts and write <name>_parts.obj/.mtl/.fbx/.glb, "
        "<name>_preview.png and <name>_segmentation.json (face ids per part).",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", metavar="DIR", help="output folder (default: beside MODEL)")
    p.add_argument(
        "--formats",
        default="obj,fbx,glb,png,json",
        help="outputs to write (default: obj,fbx,glb,png,json)",
    )
    p.add_argument(
        "--parts",
        type=_parts_arg,
        default=None,
        metavar="N|auto",
        help="number of parts for the whole model (default: auto; at least one per mesh "
        "and separate piece)",
    )
    p.add_argument(
        "--stage",
        choices=("parts", "segment"),
        default="parts",
        help="parts (default): one mesh per part; segment: stage 1 of staged generation, the "
        "input model with one material per part (<name>_segmented.fbx/.glb) and the JSON, to "
        "edit and pass back with --segmentation",
    )
    p.add_argument(
        "--segmentation",
        metavar="FILE.json",
        help="use this PartSegmentationInfo (e.g. an edited <name>_segmentation.json) instead "
        "of segmenting; faces it does not list join their best-connected neighbour",
    )
    p.add_argument(
        "--granularity",
        choices=("coarse", "balanced", "fine"),
        default="balanced",
        help="how finely to cut when --parts is auto: coarse (only the cuts nearly everyone "
        "would make), balanced (default: the cuts most people make) or fine (also those "
        "some would make). One surface typically gives 2-6, 3-15 and 5-18 parts",
    )
    p.add_argument(
        "--open",
        action="store_true",
        help="keep parts as open shells (default: cap every opening a cut makes, with a "
        "material <part>_cap, so parts of closed models are closed)",
    )
    p.add_argument(
        "--colors",
        choices=("auto", "original", "palette"),
        default="auto",
        help="how parts look in the model files: auto (default: the input's materials and "
        "textures where it has them, else each part in its palette colour), original, or "
        "palette (each part in its colour, as in the preview and the JSON)",
    )
    p.add_argument(
        "--post-process",
        action="store_true",
        help="write one clean model instead: <name>_parts.fbx with every part closed, "
        "welded, without degenerate or duplicate faces and specks, consistently wound "
        "(plus the preview and JSON)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_split)

    import os as _os

    p = sub.add_parser("serve", help="serve the Hunyuan 3D Part API (Tencent Cloud API 3.0)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18931)
    p.add_argument(
        "--workers",
        type=int,
        default=_os.cpu_count() or 1,
        help="job worker processes (default: one per core)",
    )
    p.add_argument(
        "--no-workers",
        action="store_true",
        help="front door only: jobs run on `part3d worker` machines sharing the database, "
        "queue and result storage (docs/DEPLOY.md)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run job workers only (for a shared queue)")
    p.add_argument("--workers", type=int, default=_os.cpu_count() or 1)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("keys", help="manage API keys (SecretId/SecretKey pairs)")
    keys = p.add_subparsers(
        dest="keys_command", required=True, metavar="ACTION", parser_class=_Parser
    )
    k = keys.add_parser("create", help="create a key pair")
    k.add_argument("--account", default="default")
    k.add_argument("--json", action="store_true")
    k = keys.add_parser("list", help="list keys")
    k.add_argument("--json", action="store_true")
    k = keys.add_parser("revoke", help="revoke a key at once")
    k.add_argument("secret_id", metavar="SECRET_ID")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("info", help="show the meshes, counts, unit, axes and bounds of a model")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Part3DError as exc:
        print(f"part3d: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`part3d info --json | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:
        where = exc.filename or ""
        print(f"part3d: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("part3d: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
