"""The distributed backends the tests run against: PostgreSQL and Redis (already running on
every machine of this project) and an S3 HTTP API (moto's standalone server, started here on
loopback). Each test run gets a fresh schema, key prefix and bucket. In CI (``CI=true``) a
missing service fails the test; elsewhere it skips with one line saying what is missing."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler

import pytest

PG_ADMIN = os.environ.get("PART3D_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("PART3D_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not reachable, and CI must run the distributed tests")
    pytest.skip(f"{what} is not reachable")


def _admin_conn():
    import psycopg

    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(dsn, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL URL whose search_path is a schema of its own, dropped afterwards."""
    try:
        conn = _admin_conn()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL ({PG_ADMIN}: {exc})")
    schema = f"p3_{secrets.token_hex(6)}"
    conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def fresh_schema_url() -> tuple[str, callable]:
    conn = _admin_conn()
    schema = f"p3_{secrets.token_hex(6)}"
    conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()

    return f"{PG_ADMIN}?options=-csearch_path%3D{schema}", drop


@pytest.fixture(scope="session")
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis ({REDIS}: {exc})")
    return REDIS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder without logging every request."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def s3_env(tmp_path_factory):
    """Environment for an S3 client against moto's standalone server on loopback, with a
    fresh bucket; yields (environment, results URL)."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    else:
        proc.kill()
        unavailable(f"moto's S3 server ({log.read_text()[-300:]})")
    if proc.poll() is not None:
        unavailable(f"moto's S3 server ({log.read_text()[-300:]})")
    env = {
        "AWS_ACCESS_KEY_ID": "part3d-test",
        "AWS_SECRET_ACCESS_KEY": "part3d-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    bucket = f"p3-{secrets.token_hex(6)}"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import boto3

    boto3.client("s3").create_bucket(Bucket=bucket)
    yield env, f"s3://{bucket}/results"
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(10)
