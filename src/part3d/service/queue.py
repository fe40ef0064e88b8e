"""The job queue: Huey, on a SQLite file under PART3D_HOME (the embedded default) or on Redis
(``PART3D_QUEUE_URL=redis://host:port/db``), chosen by ``make_huey``.

The queue only says which job to look at next; the job's state lives in the records
(``store``), so a message delivered twice or lost with a dead worker loses nothing: a worker
claims a job with a lease before running it, and the reaper queues jobs whose lease ran out.
"""

from __future__ import annotations

import time

from huey import Huey, RedisHuey, SqliteHuey, crontab

from part3d.errors import Part3DError
from part3d.service.config import config, home, private_dir, private_files


def make_huey(url: str, name: str = "part3d") -> Huey:
    """The Huey for a queue URL: ``sqlite`` (or empty) or ``redis://...``."""
    if url in ("", "sqlite"):
        folder = private_dir(home())
        huey = SqliteHuey(name, filename=str(folder / "queue.db"))
        huey.storage.conn  # noqa: B018 - opens (creates) the file now, so it can be made private
        private_files(folder, "queue.db*")
        return huey
    if url.startswith(("redis://", "rediss://", "unix://")):
        from redis import ConnectionPool

        return RedisHuey(name, connection_pool=ConnectionPool.from_url(url))
    raise Part3DError(f"PART3D_QUEUE_URL {url!r}: use sqlite or redis://host:port/db")


def reachable(queue: Huey) -> bool:
    try:
        queue.pending_count()
        return True
    except Exception:  # noqa: BLE001 - any failure means unreachable
        return False


huey = make_huey(config().queue_url, config().queue_name)


@huey.task()
def process(job_id: str) -> None:
    from part3d.service.jobs import run_job

    if not run_job(job_id):
        process.schedule((job_id,), delay=1)  # the account is at its running cap


@huey.periodic_task(crontab(minute="*/10"))
def clean() -> None:
    """Remove jobs and result files older than the retention time (24 h)."""
    from part3d.service.config import store
    from part3d.service.jobs import remove_results

    db = store()
    for job_id in db.expired(time.time() - config().retention_s):
        remove_results(job_id)
        db.delete_job(job_id)
