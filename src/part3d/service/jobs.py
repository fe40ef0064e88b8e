"""Running one job: download the input, check it, ``pipeline.run``, record the result."""

from __future__ import annotations

import logging
import re
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from part3d.errors import Part3DError, UnsupportedFormatError
from part3d.pipeline import PipelineOptions, run
from part3d.service import results
from part3d.service.config import config, store
from part3d.service.fetch import FetchError, download

log = logging.getLogger("part3d.jobs")

EXTENSIONS = {"FBX": "fbx", "OBJ": "obj", "GLB": "glb", "GLTF": "gltf", "STL": "stl",
              "PLY": "ply", "OFF": "off"}  # fmt: skip


def sniff(data: bytes) -> str | None:
    """What a file's first bytes say it is (for FBX, GLB, PLY, OFF), or None."""
    if data.startswith(b"Kaydara FBX Binary"):
        return "FBX"
    if data.startswith(b"glTF"):
        return "GLB"
    if data.startswith(b"ply"):
        return "PLY"
    if data.lstrip().startswith(b"OFF"):
        return "OFF"
    if b"FBXHeaderExtension" in data[:4096] or data.lstrip().startswith(b"; FBX"):
        return "FBX"
    return None


def run_job(job_id: str) -> bool:
    """Run a queued job. Returns False when it must wait (its account is at its running cap)
    and the queue should offer it again shortly; True otherwise."""
    cfg, db = config(), store()
    job = db.get_job(job_id)
    if job is None or job.status not in ("WAIT", "RUN"):
        return True
    if job.status == "WAIT" and db.count_jobs("RUN", job.account) >= cfg.max_running_per_account:
        return False  # the account is at its cap: wait in WAIT
    if not db.claim(job_id, cfg.lease_s):
        return True  # another worker has it (or a live worker still holds its lease)
    log.info("job started", extra={"job_id": job_id, "account": job.account})
    heartbeat = _Heartbeat(job_id, cfg.lease_s)
    try:
        _run_claimed(job_id, job)
    finally:
        heartbeat.stop()
    return True


class _Heartbeat:
    """Renews a running job's lease every third of it, while the job runs."""

    def __init__(self, job_id: str, lease_s: float) -> None:
        import threading

        self.done = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, args=(job_id, lease_s), daemon=True, name=f"lease-{job_id}"
        )
        self.thread.start()

    def _beat(self, job_id: str, lease_s: float) -> None:
        while not self.done.wait(lease_s / 3):
            try:
                store().renew(job_id, lease_s)
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("lease renewal failed", extra={"job_id": job_id})

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


def _run_claimed(job_id: str, job) -> None:
    cfg, db = config(), store()
    work = results.folder(job_id)
    work.mkdir(parents=True, exist_ok=True)
    request = job.request
    ext = EXTENSIONS[request["file_type"]]
    # Outputs are named after the input file (mar_rifle_parts.fbx, ...), kept to safe characters.
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(unquote(urlsplit(request["url"]).path)).stem)[:64]
    source = work / f"{stem.strip('._') or 'model'}.{ext}"
    try:
        download(request["url"], source)
        head = source.open("rb").read(4096)
        found = sniff(head)
        if found and found != request["file_type"] and not (found == "GLB" and ext == "gltf"):
            raise UnsupportedFormatError(
                f"File.Type is {request['file_type']} but the file is {found}"
            )
        if request["file_type"] == "FBX" and found != "FBX":
            raise UnsupportedFormatError("File.Type is FBX but the file is not an FBX file")
        result = run(
            source,
            work / "out",
            PipelineOptions(
                max_faces=cfg.max_faces,
                stage=request.get("stage", "parts"),
                post_process=bool(request.get("post_process")),
            ),
            segmentation=request.get("segmentation"),
        )
    except FetchError as exc:
        db.set_status(
            job_id,
            "FAIL",
            error_code="InvalidParameterValue",
            error_message=f"cannot download File.Url: {exc}",
        )
        return
    except Part3DError as exc:
        db.set_status(job_id, "FAIL", error_code=exc.code, error_message=str(exc))
        log.info("job failed", extra={"job_id": job_id, "code": exc.code})
        return
    except MemoryError:
        db.set_status(
            job_id,
            "FAIL",
            error_code="ResourceInsufficient",
            error_message=(
                f"the model needs more than the job memory limit of {cfg.job_memory >> 30} GiB"
            ),
        )
        log.info("job over its memory limit", extra={"job_id": job_id})
        return
    except Exception:  # a crash in processing must fail the job, never the worker
        _fail_with_incident(job_id, "job crashed", "internal error")
        return
    finally:
        source.unlink(missing_ok=True)
    files = {fmt: path.relative_to(work).as_posix() for fmt, path in result.outputs.items()}
    try:
        # The files are stored first; only then is the job DONE (never DONE without files).
        results.publish(job_id, list(files.values()))
    except Exception:  # noqa: BLE001 - storage down: the job fails, the worker lives on
        _fail_with_incident(job_id, "storing results failed", "the results could not be stored")
        return
    db.set_status(job_id, "DONE", result={"files": files, "parts": result.parts})
    log.info(
        "job done", extra={"job_id": job_id, "seconds": round(sum(result.timings.values()), 3)}
    )


def _fail_with_incident(job_id: str, logged: str, told: str) -> None:
    """FAIL the job with InternalError ``told (incident <id>)``; the traceback being handled
    goes to the log as ``logged (incident <id>)``."""
    incident = str(uuid.uuid4())
    log.exception("%s (incident %s)", logged, incident, extra={"job_id": job_id})
    store().set_status(
        job_id, "FAIL", error_code="InternalError", error_message=f"{told} (incident {incident})"
    )


def reap(requeue) -> list[str]:
    """Jobs whose worker died (lease ran out): run again (``requeue(job_id)``) until started
    MAX_ATTEMPTS times, then FAIL with a clear message. Waiting jobs untouched for four
    leases are offered again too (their message may have died with the worker that took it
    off the queue; a duplicate message is harmless, the claim decides). Returns the job ids
    re-queued."""
    from part3d.service.store import MAX_ATTEMPTS

    db = store()
    again = []
    for job_id in db.waiting_since(time.time() - 4 * config().lease_s):
        requeue(job_id)
        again.append(job_id)
    for job_id, attempts in db.stale():
        if attempts >= MAX_ATTEMPTS:
            db.set_status(
                job_id,
                "FAIL",
                error_code="FailedOperation.EngineServerError",
                error_message=(
                    f"the worker processing this job stopped {attempts} times "
                    "(killed or out of memory); the job was not retried again"
                ),
            )
            log.warning("job failed after dead workers", extra={"job_id": job_id})
        else:
            requeue(job_id)
            again.append(job_id)
    return again


def remove_results(job_id: str) -> None:
    results.remove(job_id)
