"""Submit and Query as protocol-neutral functions over the records, the queue and the results.

The Tencent layer (``app.py`` with ``tencent/``) only parses, authenticates and renders
envelopes; a second protocol (the native REST API planned next) calls the same functions.
Errors are Part3DErrors of the classes below; each protocol maps them to its own codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from part3d.errors import Part3DError
from part3d.service import results
from part3d.service.config import config, store

#: Result files, by output format, in the order they are listed.
MODEL_FORMATS = ("obj", "fbx", "glb")
#: Segmentations up to this size are returned inline by Query (API.md §6.2).
INLINE_SEGMENTATION = 9 * 1024 * 1024
URL_LIFETIME = 24 * 3600


class QueueFull(Part3DError):
    """The queue (or the account's share of it) is full; retry later."""


class JobNotFound(Part3DError):
    """No such job for this account (or it has expired)."""


@dataclass(frozen=True)
class JobRequest:
    """What a client asks for, whatever the protocol."""

    account: str
    product: str
    url: str
    file_type: str
    model: str | None = None
    segmentation: str | None = None
    staged: bool = False
    post_process: bool = False


@dataclass
class JobView:
    """What a client sees of a job, whatever the protocol."""

    job_id: str
    status: str
    error_code: str = ""
    error_message: str = ""
    #: (format, URL) of each model file, in MODEL_FORMATS order.
    models: list[tuple[str, str]] = field(default_factory=list)
    preview_url: str = ""
    segmentation: str = ""
    segmentation_url: str = ""
    #: Post-processing: the one model is the whole result (no separate image entry).
    single_model: bool = False


def submit(request: JobRequest) -> str:
    """Accept a job (queue limits, modes) and queue it; returns its id."""
    cfg, db = config(), store()
    if db.count_jobs("WAIT") >= cfg.max_queued:
        raise QueueFull("The job queue is full; retry later")
    if db.count_jobs("WAIT", request.account) >= cfg.max_queued_per_account:
        raise QueueFull(
            f"This account has {cfg.max_queued_per_account} jobs waiting, its share of the "
            "queue; retry when some have finished"
        )
    from part3d.service.queue import process

    job_id = db.create_job(
        request.account,
        request.product,
        {
            "url": request.url,
            "file_type": request.file_type,
            "model": request.model,
            # An edited segmentation (API.md §6.3): parts are made from it, not segmented.
            "segmentation": request.segmentation,
            # Modes (API.md §6.1): staged without a segmentation is stage 1 (segment only).
            "stage": "segment" if request.staged and request.segmentation is None else "parts",
            # One clean FBX (API.md §6.2); ignored at stage 1, which writes the marked model.
            "post_process": request.post_process,
        },
    )
    process(job_id)
    return job_id


def query(account: str, job_id: str) -> JobView:
    """The job's state and, once DONE, its result URLs and segmentation."""
    job = store().get_job(job_id)
    if (
        job is None
        or job.account != account
        or (time.time() - job.created_at > config().retention_s)
    ):
        raise JobNotFound(f"The job {job_id} does not exist")
    view = JobView(job.job_id, job.status, job.error_code, job.error_message)
    view.single_model = bool(job.request.get("post_process")) and (
        job.request.get("stage", "parts") == "parts"
    )
    if job.status == "DONE" and job.result:
        expires = int((job.finished_at or time.time()) + URL_LIFETIME)
        files = job.result["files"]
        view.models = [
            (fmt, results.url(job.job_id, files[fmt], expires))
            for fmt in MODEL_FORMATS
            if fmt in files
        ]
        if "png" in files:
            view.preview_url = results.url(job.job_id, files["png"], expires)
        if "json" in files:
            text = results.read_text(job.job_id, files["json"])
            if len(text.encode()) <= INLINE_SEGMENTATION:
                view.segmentation = text
            view.segmentation_url = results.url(job.job_id, files["json"], expires)
    return view
