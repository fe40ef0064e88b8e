"""Service configuration, from the environment (all state under PART3D_HOME by default)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Config:
    home: Path
    database_url: str
    results: Path
    public_url: str
    #: Where the queue lives: ``sqlite`` (a file under PART3D_HOME) or ``redis://...``.
    queue_url: str = "sqlite"
    #: The queue's name (its key prefix in Redis): deployments sharing a Redis differ by it.
    queue_name: str = "part3d"
    #: Where result files go: a folder (``results`` under PART3D_HOME) or ``s3://bucket/prefix``.
    results_url: str = ""
    #: The Fernet key of API secrets, shared by every machine (empty: a key file in home).
    master_key: str = ""
    #: Redis for rate limits shared by all front doors (empty: in-process counters).
    redis_url: str = ""
    max_faces: int = 1_500_000
    retention_s: float = 24 * 3600
    #: Submit answers FailedOperation.EngineServerLimitExceeded beyond this many waiting jobs,
    max_queued: int = 1000
    #: ... or beyond this many waiting jobs of the submitting account (its fair share).
    max_queued_per_account: int = 250
    #: /metrics needs ``Authorization: Bearer <token>`` when set; otherwise loopback only.
    metrics_token: str = ""
    #: Jobs of one account running at once; more wait.
    max_running_per_account: int = 2
    #: Requests per second per account and action.
    rate_limit: int = 20
    #: Seconds a worker holds a job without renewing it; a dead worker's job runs again after.
    lease_s: float = 30.0
    #: Address-space cap of each worker process (bytes): no input can take the machine down.
    job_memory: int = 8 << 30


def home() -> Path:
    return Path(os.environ.get("PART3D_HOME", "~/.part3d")).expanduser()


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by its owner only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def private_files(folder: Path, pattern: str) -> None:
    """Files of ``folder`` matching ``pattern`` readable by their owner only (0600)."""
    for f in folder.glob(pattern):
        if f.is_file():
            f.chmod(0o600)


@cache
def config() -> Config:
    h = private_dir(home())
    private_dir(h / "results")
    max_queued = int(os.environ.get("PART3D_MAX_QUEUED", "1000"))
    return Config(
        home=h,
        database_url=os.environ.get("PART3D_DATABASE_URL", f"sqlite:///{h / 'part3d.db'}"),
        results=h / "results",
        queue_url=os.environ.get("PART3D_QUEUE_URL", "sqlite"),
        queue_name=os.environ.get("PART3D_QUEUE_NAME", "part3d"),
        results_url=os.environ.get("PART3D_RESULTS_URL", ""),
        master_key=os.environ.get("PART3D_MASTER_KEY", "").strip(),
        redis_url=os.environ.get(
            "PART3D_REDIS_URL",
            q if (q := os.environ.get("PART3D_QUEUE_URL", "")).startswith("redis") else "",
        ),
        public_url=os.environ.get("PART3D_PUBLIC_URL", "http://127.0.0.1:18931").rstrip("/"),
        max_queued=max_queued,
        max_queued_per_account=int(
            os.environ.get("PART3D_MAX_QUEUED_PER_ACCOUNT", str(max(1, max_queued // 4)))
        ),
        metrics_token=os.environ.get("PART3D_METRICS_TOKEN", ""),
        max_running_per_account=int(os.environ.get("PART3D_MAX_RUNNING_PER_ACCOUNT", "2")),
        rate_limit=int(os.environ.get("PART3D_RATE_LIMIT", "20")),
        lease_s=float(os.environ.get("PART3D_LEASE_SECONDS", "30")),
        job_memory=int(float(os.environ.get("PART3D_JOB_MEMORY_GB", "8")) * (1 << 30)),
    )


@cache
def store():
    from part3d.service.store import Store

    cfg = config()
    db = Store(cfg.database_url, cfg.home, cfg.master_key)
    private_files(cfg.home, "*.db*")
    return db
