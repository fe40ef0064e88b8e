"""Job records and API keys (SQLAlchemy Core): SQLite under PART3D_HOME by default, any
SQLAlchemy URL (PostgreSQL) when configured. The schema is created and upgraded by Alembic
migrations (``migrations/``) when the store opens.

Secret keys are encrypted at rest with a Fernet key kept in PART3D_HOME (0600); HMAC
signatures need the clear secret, so they cannot be hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from part3d.errors import Part3DError
from part3d.service.keys import Key

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("secret_id", sa.String(64), primary_key=True),
    sa.Column("secret_key", sa.Text, nullable=False),  # Fernet token
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("token", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.String(19), primary_key=True),
    sa.Column("account", sa.String(128), nullable=False, index=True),
    sa.Column("product", sa.String(16), nullable=False),
    sa.Column("status", sa.String(8), nullable=False, index=True),
    sa.Column("request", sa.Text, nullable=False),  # JSON of the validated Submit
    sa.Column("error_code", sa.String(64), nullable=False, default=""),
    sa.Column("error_message", sa.Text, nullable=False, default=""),
    sa.Column("result", sa.Text, nullable=True),  # JSON: result files and segmentation
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("processes", sa.Integer, nullable=False),
    sa.Column("alive", sa.Integer, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
)

#: A job whose worker died is run again at most until it has been started this many times.
MAX_ATTEMPTS = 3


def _master_key(home: Path, given: str = "") -> bytes:
    """The Fernet key that encrypts API secrets: ``given`` (PART3D_MASTER_KEY, shared by
    every machine of a deployment), else a key file made once in ``home`` (one machine)."""
    if given:
        try:
            Fernet(given.encode())
        except (ValueError, TypeError):
            raise Part3DError(
                "PART3D_MASTER_KEY is not a Fernet key (make one with: python -c "
                '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
            ) from None
        return given.encode()
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    return path.read_bytes().strip()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


@dataclass
class JobRecord:
    job_id: str
    account: str
    product: str
    status: str
    request: dict
    error_code: str
    error_message: str
    result: dict | None
    created_at: float
    finished_at: float | None


#: The characters of a generated SecretKey.
KEY_ALPHABET = string.ascii_letters + string.digits


class Store:
    """Keys and jobs in one database."""

    def __init__(self, url: str, home: Path, master_key: str = "") -> None:
        self.url = url
        migrate(url)
        # A network database can drop idle connections: ping those; SQLite is in-process.
        self.engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if url.startswith("sqlite"):
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        master = _master_key(home, master_key)
        self.fernet = Fernet(master)
        #: Key for signing result URLs, derived from the master key.
        self.url_key = hashlib.sha256(b"part3d result urls:" + master).digest()

    # ----------------------------------------------------------------- keys

    def create_key(self, account: str, token: str | None = None) -> tuple[str, str]:
        secret_id = "AKID" + secrets.token_hex(16).upper()
        # Letters and digits only, as Tencent's own keys: a URL-safe token starts with "-" one
        # time in 64, and tccli (argparse) then reads `--secretKey -x...` as a missing value.
        secret_key = "".join(secrets.choice(KEY_ALPHABET) for _ in range(40))
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    secret_id=secret_id,
                    secret_key=self.fernet.encrypt(secret_key.encode()).decode(),
                    account=account,
                    token=token,
                    created_at=time.time(),
                )
            )
        return secret_id, secret_key

    def add_key(self, secret_id: str, secret_key: str, account: str) -> None:
        """Store a given key pair (used for fixed demo or test keys)."""
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    secret_id=secret_id,
                    secret_key=self.fernet.encrypt(secret_key.encode()).decode(),
                    account=account,
                    created_at=time.time(),
                )
            )

    def lookup_key(self, secret_id: str) -> Key | None:
        """The active key with this SecretId, or None (unknown or revoked)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.secret_id == secret_id, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        secret = self.fernet.decrypt(row.secret_key.encode()).decode()
        return Key(row.secret_id, secret, row.account, row.token)

    def list_keys(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [
            {
                "SecretId": r.secret_id,
                "Account": r.account,
                "Created": r.created_at,
                "Revoked": r.revoked_at is not None,
            }
            for r in rows
        ]

    def revoke_key(self, secret_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.secret_id == secret_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return done.rowcount > 0

    # ----------------------------------------------------------------- jobs

    def create_job(self, account: str, product: str, request: dict) -> str:
        now = time.time()
        while True:
            job_id = str(secrets.randbelow(9 * 10**18) + 10**18)  # 19 digits, fits int64
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        jobs.insert().values(
                            job_id=job_id,
                            account=account,
                            product=product,
                            status="WAIT",
                            request=json.dumps(request),
                            error_code="",
                            error_message="",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                return job_id
            except sa.exc.IntegrityError:
                continue

    def get_job(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        if r is None:
            return None
        return JobRecord(
            r.job_id,
            r.account,
            r.product,
            r.status,
            json.loads(r.request),
            r.error_code,
            r.error_message,
            json.loads(r.result) if r.result else None,
            r.created_at,
            r.finished_at,
        )

    def set_status(
        self,
        job_id: str,
        status: str,
        *,
        error_code: str = "",
        error_message: str = "",
        result: dict | None = None,
    ) -> None:
        now = time.time()
        values = {
            "status": status,
            "updated_at": now,
            "error_code": error_code,
            "error_message": error_message,
        }
        if result is not None:
            values["result"] = json.dumps(result)
        if status in ("DONE", "FAIL"):
            values["finished_at"] = now
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(**values))

    def claim(self, job_id: str, lease_s: float) -> bool:
        """Take a job for ``lease_s`` seconds: a waiting one, or a running one whose worker let
        its lease run out (it died) and that has been started fewer than MAX_ATTEMPTS times.
        Atomic: of several workers exactly one gets it. The status stays RUN on a re-run
        (statuses never go backwards)."""
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                jobs.update()
                .where(
                    jobs.c.job_id == job_id,
                    (jobs.c.status == "WAIT")
                    | (
                        (jobs.c.status == "RUN")
                        & (sa.func.coalesce(jobs.c.lease_until, 0) < now)
                        & (jobs.c.attempts < MAX_ATTEMPTS)
                    ),
                )
                .values(
                    status="RUN",
                    updated_at=now,
                    lease_until=now + lease_s,
                    attempts=jobs.c.attempts + 1,
                )
            )
        return done.rowcount == 1

    def renew(self, job_id: str, lease_s: float) -> bool:
        """Extend a running job's lease (its worker is alive); False when it is not running."""
        with self.engine.begin() as conn:
            done = conn.execute(
                jobs.update()
                .where(jobs.c.job_id == job_id, jobs.c.status == "RUN")
                .values(lease_until=time.time() + lease_s)
            )
        return done.rowcount == 1

    def stale(self, now: float | None = None) -> list[tuple[str, int]]:
        """Running jobs whose lease ran out (their worker died), with their attempt counts."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.job_id, jobs.c.attempts)
                .where(jobs.c.status == "RUN", sa.func.coalesce(jobs.c.lease_until, 0) < now)
                .order_by(jobs.c.created_at)
            ).all()
        return [(r.job_id, int(r.attempts)) for r in rows]

    def unfinished(self) -> list[str]:
        """Jobs accepted and not finished that no live worker holds: waiting ones, and running
        ones whose lease ran out. Running jobs with a live lease are left to their worker."""
        now = time.time()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.job_id)
                .where(
                    (jobs.c.status == "WAIT")
                    | ((jobs.c.status == "RUN") & (sa.func.coalesce(jobs.c.lease_until, 0) < now))
                )
                .order_by(jobs.c.created_at)
            ).all()
        return [r.job_id for r in rows]

    def waiting_since(self, before: float) -> list[str]:
        """Waiting jobs not touched since ``before``: their queue message may have died with
        a worker that took it. Each is touched (atomically: of several reapers one gets it),
        so it is offered again at most once per period."""
        now = time.time()
        with self.engine.begin() as conn:
            rows = conn.execute(
                jobs.update()
                .where(jobs.c.status == "WAIT", jobs.c.updated_at < before)
                .values(updated_at=now)
                .returning(jobs.c.job_id)
            ).all()
        return sorted(r.job_id for r in rows)

    def expired(self, before: float) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(jobs.c.job_id).where(jobs.c.created_at < before)).all()
        return [r.job_id for r in rows]

    def delete_job(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(jobs.delete().where(jobs.c.job_id == job_id))

    def worker_seen(self, worker_id: str, host: str, processes: int, alive: int) -> None:
        """A supervisor's heartbeat: it runs ``processes`` worker processes, ``alive`` now."""
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                workers.update()
                .where(workers.c.worker_id == worker_id)
                .values(processes=processes, alive=alive, seen_at=now)
            )
            if done.rowcount == 0:
                conn.execute(
                    workers.insert().values(
                        worker_id=worker_id, host=host, processes=processes, alive=alive,
                        seen_at=now,
                    )
                )  # fmt: skip
            # Machines silent for an hour are forgotten.
            conn.execute(workers.delete().where(workers.c.seen_at < now - 3600))

    def live_workers(self, within: float) -> tuple[int, int]:
        """(machines, live worker processes) of the supervisors seen in the last ``within``
        seconds."""
        since = time.time() - within
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(workers.c.alive), 0)).where(
                    workers.c.seen_at >= since
                )
            ).one()
        return int(row[0]), int(row[1])

    def ping(self) -> None:
        """Raises when the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def count_jobs(self, status: str, account: str | None = None) -> int:
        cond = jobs.c.status == status
        if account is not None:
            cond = cond & (jobs.c.account == account)
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(jobs).where(cond)).scalar_one()
            )
