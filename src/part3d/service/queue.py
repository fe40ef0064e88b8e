"""The job queue: Huey on SQLite under PART3D_HOME (embedded default)."""

from __future__ import annotations

import time

from huey import SqliteHuey, crontab

from part3d.service.config import home, private_dir, private_files

_home = private_dir(home())
huey = SqliteHuey("part3d", filename=str(_home / "queue.db"))
huey.storage.conn  # noqa: B018 - opens (creates) the file now, so that it can be made private
private_files(_home, "queue.db*")


@huey.task()
def process(job_id: str) -> None:
    from part3d.service.jobs import run_job

    if not run_job(job_id):
        process.schedule((job_id,), delay=1)  # the account is at its running cap


@huey.periodic_task(crontab(minute="*/10"))
def clean() -> None:
    """Remove jobs and result files older than the retention time (24 h)."""
    from part3d.service.config import config, store
    from part3d.service.jobs import remove_results

    db = store()
    for job_id in db.expired(time.time() - config().retention_s):
        remove_results(job_id)
        db.delete_job(job_id)
