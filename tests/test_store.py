"""The job and key store on a real SQLite file: migrations, encryption at rest, expiry."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from part3d.service.store import Store, jobs


def test_secret_keys_are_letters_and_digits_that_any_cli_can_pass(tmp_path: Path) -> None:
    # A URL-safe token started with "-" one time in 64, and tccli's argparse took
    # `--secretKey -zC...` for a missing value (a CI run failed on one).
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    keys = [store.create_key("acme")[1] for _ in range(200)]
    assert all(len(k) == 40 and k.isascii() and k.isalnum() for k in keys)
    assert len(set(keys)) == len(keys)


def test_keys_are_encrypted_at_rest_and_revocation_is_immediate(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    secret_id, secret_key = store.create_key("acme")
    raw = (
        sqlite3.connect(tmp_path / "db.sqlite")
        .execute("SELECT secret_key FROM api_keys WHERE secret_id = ?", (secret_id,))
        .fetchone()[0]
    )
    assert secret_key not in raw
    assert os.stat(tmp_path / "secret.key").st_mode & 0o777 == 0o600
    assert store.lookup_key(secret_id).secret_key == secret_key
    assert store.revoke_key(secret_id)
    assert store.lookup_key(secret_id) is None
    # A second store on the same files (a restart) reads the same keys and schema.
    again = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    assert again.list_keys()[0]["Revoked"] is True


def test_job_ids_claims_restart_recovery_and_expiry(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    a = store.create_job("acme", "hunyuan", {"url": "http://x/a.fbx"})
    b = store.create_job("acme", "hunyuan", {"url": "http://x/b.fbx"})
    assert len(a) == 19 and a.isdigit() and a != b
    assert store.claim(a, 30) and not store.claim(a, 30)  # one worker only
    # A job a live worker holds is not handed out again after a restart.
    assert store.unfinished() == [b]
    assert store.get_job(a).status == "RUN"
    with store.engine.begin() as conn:
        conn.execute(jobs.update().where(jobs.c.job_id == a).values(created_at=time.time() - 90000))
    assert store.expired(time.time() - 86400) == [a]
    store.delete_job(a)
    assert store.get_job(a) is None
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 1


def test_a_dead_workers_job_is_claimed_again_at_most_three_times(tmp_path: Path) -> None:
    from part3d.service.store import MAX_ATTEMPTS

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    a = store.create_job("acme", "hunyuan", {"url": "http://x/a.fbx"})
    assert store.claim(a, 30)
    assert store.renew(a, 30) and store.stale() == []
    for attempt in range(2, MAX_ATTEMPTS + 1):
        # The worker died: its lease runs out, the job is stale and another worker takes it.
        with store.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.job_id == a).values(lease_until=0))
        assert store.stale() == [(a, attempt - 1)]
        assert store.unfinished() == [a]
        assert store.claim(a, 30)
        assert store.get_job(a).status == "RUN"  # never back to WAIT
    with store.engine.begin() as conn:
        conn.execute(jobs.update().where(jobs.c.job_id == a).values(lease_until=0))
    assert not store.claim(a, 30)  # the third attempt was the last
    assert store.stale() == [(a, MAX_ATTEMPTS)]
