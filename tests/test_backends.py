"""One contract per interface, run against every backend: records (SQLite, PostgreSQL), queue
(Huey on SQLite, Huey on Redis), results (folder, S3 over HTTP)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from part3d.service.store import MAX_ATTEMPTS, Store

# ----------------------------------------------------------------------------- records


@pytest.fixture(params=["sqlite", "postgresql"])
def records_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("postgres_url")


def test_records_keys_round_trip_and_revoke(records_url, tmp_path) -> None:
    master = Fernet.generate_key().decode()
    db = Store(records_url, tmp_path / "a", master)
    account = f"acct-{secrets.token_hex(4)}"
    secret_id, secret_key = db.create_key(account)
    # Another machine with the same master key reads the same secret.
    other = Store(records_url, tmp_path / "b", master)
    key = other.lookup_key(secret_id)
    assert (key.secret_key, key.account) == (secret_key, account)
    assert other.revoke_key(secret_id) and db.lookup_key(secret_id) is None


def test_records_a_job_is_claimed_once_and_reclaimed_after_its_lease(records_url, tmp_path):
    db = Store(records_url, tmp_path, Fernet.generate_key().decode())
    account = f"acct-{secrets.token_hex(4)}"
    job_id = db.create_job(account, "hunyuan", {"url": "http://x/a.fbx"})
    assert db.get_job(job_id).status == "WAIT" and db.count_jobs("WAIT", account) == 1
    assert db.claim(job_id, 30) and not db.claim(job_id, 30)  # one worker gets it
    assert db.renew(job_id, 30)
    assert job_id not in [j for j, _ in db.stale()] and job_id not in db.unfinished()
    db2 = Store(records_url, tmp_path, Fernet.generate_key().decode())
    # A dead worker: its short lease runs out, the job is stale and claimable again.
    assert db2.renew(job_id, 0.05)
    time.sleep(0.1)
    assert (job_id, 1) in db2.stale() and job_id in db2.unfinished()
    assert db2.claim(job_id, 0.05)
    for _ in range(MAX_ATTEMPTS - 2):
        time.sleep(0.1)
        assert db2.claim(job_id, 0.05)
    time.sleep(0.1)
    assert not db2.claim(job_id, 30)  # started MAX_ATTEMPTS times: no more
    db.set_status(job_id, "DONE", result={"files": {"json": "out/a.json"}})
    job = db2.get_job(job_id)
    assert (job.status, job.result) == ("DONE", {"files": {"json": "out/a.json"}})
    assert job.finished_at is not None and db2.count_jobs("RUN", account) == 0
    assert job_id in db.expired(time.time() + 1)
    db.delete_job(job_id)
    assert db2.get_job(job_id) is None
    db.ping()


def test_records_offer_a_long_waiting_job_again_once_per_period(records_url, tmp_path):
    db = Store(records_url, tmp_path, Fernet.generate_key().decode())
    job_id = db.create_job(f"acct-{secrets.token_hex(4)}", "hunyuan", {"url": "http://x"})
    assert job_id not in db.waiting_since(time.time() - 60)  # just queued
    assert job_id in db.waiting_since(time.time() + 1)  # its message may be lost: offer it
    assert job_id not in db.waiting_since(time.time() - 60)  # ... once per period of 60 s
    db.claim(job_id, 30)
    assert job_id not in db.waiting_since(time.time() + 60)  # running: not waiting
    db.delete_job(job_id)


def test_records_count_the_worker_machines_seen_lately(records_url, tmp_path) -> None:
    db = Store(records_url, tmp_path, Fernet.generate_key().decode())
    base = db.live_workers(60)
    a, b = f"a-{secrets.token_hex(4)}", f"b-{secrets.token_hex(4)}"
    db.worker_seen(a, "host-a", 4, 4)
    db.worker_seen(b, "host-b", 2, 1)
    db.worker_seen(a, "host-a", 4, 3)  # a heartbeat updates the machine's row
    machines, alive = db.live_workers(60)
    assert (machines - base[0], alive - base[1]) == (2, 4)
    time.sleep(0.2)
    assert db.live_workers(0.1) == (0, 0)  # none seen in the last 0.1 s


def test_a_master_key_that_is_not_one_is_one_clear_line(tmp_path) -> None:
    from part3d.errors import Part3DError

    with pytest.raises(Part3DError, match="PART3D_MASTER_KEY is not a Fernet key"):
        Store(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, "not-a-key")


def test_processes_starting_together_do_not_race_the_migrations(postgres_url) -> None:
    from distributed import fresh_schema_url as make

    url, drop = make()
    try:
        code = (
            "import sys; from part3d.service.store import migrate; migrate(sys.argv[1]); "
            "print('ok')"
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outs]
    finally:
        drop()


# ----------------------------------------------------------------------------- queue


@pytest.fixture(params=["sqlite", "redis"])
def queue(request, tmp_path, monkeypatch):
    from part3d.service.queue import make_huey

    monkeypatch.setenv("PART3D_HOME", str(tmp_path))
    url = "sqlite" if request.param == "sqlite" else request.getfixturevalue("redis_url")
    huey = make_huey(url, name=f"part3d-test-{secrets.token_hex(4)}")
    yield huey
    huey.flush()


def test_queue_delivers_each_message_once_in_order(queue) -> None:
    @queue.task()
    def add(a: int, b: int) -> int:
        return a + b

    results = [add(i, 1) for i in range(3)]
    assert queue.pending_count() == 3
    for expected in (1, 2, 3):
        task = queue.dequeue()
        assert task is not None
        assert queue.execute(task) == expected  # first in, first out
    assert queue.dequeue() is None  # nothing delivered twice
    assert [r.get() for r in results] == [1, 2, 3]


def test_queue_keeps_delayed_messages_aside(queue) -> None:
    @queue.task()
    def job(x: str) -> str:
        return x

    job.schedule(("later",), delay=3600)
    task = queue.dequeue()
    # Not due: the consumer sets it aside in the schedule, out of the queue.
    assert task is not None and not queue.ready_to_run(task)
    queue.add_schedule(task)
    assert queue.pending_count() == 0 and queue.scheduled_count() == 1
    from part3d.service.queue import reachable

    assert reachable(queue)


# ----------------------------------------------------------------------------- results


@pytest.fixture(params=["folder", "s3"])
def results_backend(request, tmp_path):
    from part3d.service.results import FolderResults, S3Results

    if request.param == "folder":
        root = tmp_path / "results"
        root.mkdir()
        return FolderResults(root, "http://127.0.0.1:1", secrets.token_bytes(32))
    _, url = request.getfixturevalue("s3_env")
    return S3Results(url, tmp_path / "work")


def _get(backend, url: str) -> bytes | None:
    """What a client downloading ``url`` gets (None: refused)."""
    from part3d.service.results import FolderResults

    if isinstance(backend, FolderResults):
        parts = urlsplit(url)
        _, _, job_id, name = parts.path.split("/", 3)
        q = parse_qs(parts.query)
        path = backend.served_path(
            job_id, name, int(q["expires"][0]), q["signature"][0], time.time()
        )
        return path.read_bytes() if path else None
    try:
        return urllib.request.urlopen(url, timeout=10).read()
    except urllib.error.HTTPError:
        return None


def test_results_are_served_after_publish_and_gone_after_remove(results_backend) -> None:
    job_id = str(10**18 + secrets.randbelow(10**18))
    out = results_backend.work_folder(job_id) / "out"
    out.mkdir(parents=True)
    (out / "chair_parts.obj").write_text("o part\n")
    (out / "chair_parts.mtl").write_text("newmtl m\nmap_Kd chair_parts_wood.png\n")
    (out / "chair_parts_wood.png").write_bytes(b"\x89PNG fake")
    (out / "chair_segmentation.json").write_text('{"a": 1}')
    results_backend.publish(job_id, ["out/chair_parts.obj", "out/chair_segmentation.json"])
    assert results_backend.reachable()
    expires = int(time.time()) + 24 * 3600
    assert results_backend.read_text(job_id, "out/chair_segmentation.json") == '{"a": 1}'
    url = results_backend.url(job_id, "out/chair_parts.obj", expires)
    assert _get(results_backend, url) == b"o part\n"
    # The files beside the OBJ (its MTL, its texture) are published with it.
    texture = results_backend.url(job_id, "out/chair_parts_wood.png", expires)
    assert _get(results_backend, texture) == b"\x89PNG fake"
    assert results_backend.read_text(job_id, "out/missing.json") == ""
    results_backend.remove(job_id)
    assert results_backend.read_text(job_id, "out/chair_segmentation.json") == ""
    assert _get(results_backend, url) is None


def test_results_refuse_what_is_not_a_job_id(results_backend) -> None:
    from part3d.errors import Part3DError

    with pytest.raises(Part3DError):
        results_backend.work_folder("../../etc")
    results_backend.remove("../../etc")  # nothing, no error


def test_urls_expire_when_asked(results_backend) -> None:
    job_id = str(10**18 + secrets.randbelow(10**18))
    out = results_backend.work_folder(job_id) / "out"
    out.mkdir(parents=True)
    (out / "a.json").write_text("{}")
    results_backend.publish(job_id, ["out/a.json"])
    expires = int(time.time()) + 24 * 3600
    query = parse_qs(urlsplit(results_backend.url(job_id, "out/a.json", expires)).query)
    # The URL itself says when it expires (signed: S3 refuses it after; moto does not check).
    stated = int((query.get("expires") or query.get("Expires"))[0])
    assert abs(stated - expires) <= 2
    from part3d.service.results import FolderResults

    if isinstance(results_backend, FolderResults):
        url = results_backend.url(job_id, "out/a.json", int(time.time()) - 1)
        assert _get(results_backend, url) is None
    results_backend.remove(job_id)


def test_the_s3_url_needs_no_credentials(s3_env, tmp_path) -> None:
    """A presigned URL is fetched by a plain HTTP client with no AWS keys."""
    from part3d.service.results import S3Results

    _, url = s3_env
    backend = S3Results(url, tmp_path / "work")
    job_id = str(10**18 + secrets.randbelow(10**18))
    out = backend.work_folder(job_id) / "out"
    out.mkdir(parents=True)
    (out / "p.png").write_bytes(b"png")
    backend.publish(job_id, ["out/p.png"])
    assert not Path(backend.work_folder(job_id)).exists()  # the work folder is gone
    link = backend.url(job_id, "out/p.png", int(time.time()) + 600)
    assert "Signature=" in link or "X-Amz-Signature=" in link
    assert urllib.request.urlopen(link, timeout=10).read() == b"png"
    backend.remove(job_id)
