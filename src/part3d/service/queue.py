"""The job queue: Huey on SQLite under PART3D_HOME (embedded default)."""

from __future__ import annotations

from huey import SqliteHuey

from part3d.service.config import home

_home = home()
_home.mkdir(parents=True, exist_ok=True)
huey = SqliteHuey("part3d", filename=str(_home / "queue.db"))


@huey.task()
def process(job_id: str) -> None:
    from part3d.service.jobs import run_job

    run_job(job_id)
