"""`bench/api.py --distributed`: the service on PostgreSQL + Redis + S3 against the embedded
default, in one run. Figures go to docs/BENCHMARKS.md ("API, distributed").

* Query p50/p99 at 20/s and at saturation: an all-in-one `part3d serve` (SQLite) and a front
  door `serve --no-workers` on PostgreSQL/Redis/S3 (moto's S3 server on loopback);
* jobs per minute with 1 and 2 worker machines (`part3d worker --workers 1` each) on the
  sample models;
* seconds from a worker machine's death (kill -9) to its job running again on another.

Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "data" / "models"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "part3d.cli", *args],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run(args, api) -> None:
    """``api`` is bench/api.py as a module (its SDK helpers and load generators)."""
    import boto3
    import psycopg
    from cryptography.fernet import Fernet

    from part3d.service.demo import wait_healthy

    tmp = Path(tempfile.mkdtemp(prefix="part3d-dist-"))
    schema = f"p3_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    moto_port = api._free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    aws = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{aws['AWS_ENDPOINT_URL']}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    os.environ.update(aws)
    bucket = f"p3-bench-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    files = ThreadingHTTPServer(("127.0.0.1", 0), partial(api._Quiet, directory=str(MODELS)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}"
    common = {
        **os.environ,
        "PART3D_FETCH_ALLOW": "127.0.0.0/8",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    distributed = {
        **common,
        **aws,
        "PART3D_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
        "PART3D_QUEUE_URL": REDIS,
        "PART3D_QUEUE_NAME": f"part3d-bench-{secrets.token_hex(4)}",
        "PART3D_RESULTS_URL": f"s3://{bucket}/jobs",
        "PART3D_MASTER_KEY": Fernet.generate_key().decode(),
    }
    procs: list[subprocess.Popen] = []

    def home(name: str, env: dict) -> dict:
        (tmp / name).mkdir(exist_ok=True)
        return {**env, "PART3D_HOME": str(tmp / name)}

    def key(env: dict, account: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "part3d.cli", "keys", "create", "--account", account, "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    def submit_and_wait(client, models, names: list[str]) -> float:
        t = time.perf_counter()
        jobs = []
        for name in names:
            req = models.SubmitHunyuan3DPartJobRequest()
            req.from_json_string(json.dumps({"File": {"Url": f"{base}/{name}", "Type": "FBX"}}))
            jobs.append(client.SubmitHunyuan3DPartJob(req).JobId)
        pending = set(jobs)
        while pending:
            for job_id in list(pending):
                q = models.QueryHunyuan3DPartJobRequest()
                q.JobId = job_id
                try:
                    if client.QueryHunyuan3DPartJob(q).Status in ("DONE", "FAIL"):
                        pending.discard(job_id)
                except Exception:  # noqa: BLE001 - over the rate limit: ask again later
                    pass
                time.sleep(0.06)  # under 20 requests/s
        return time.perf_counter() - t

    results = {}
    try:
        # The embedded all-in-one, and the distributed front door with one worker machine.
        ports = {"sqlite": api._free_port(), "postgresql": api._free_port()}
        embedded = home("embedded", common)
        procs.append(_start(["serve", "--port", str(ports["sqlite"]), "--workers", "1"],
                            embedded, tmp / "embedded.log"))  # fmt: skip
        door = home("door", distributed)
        door["PART3D_PUBLIC_URL"] = f"http://127.0.0.1:{ports['postgresql']}"
        procs.append(_start(["serve", "--no-workers", "--port", str(ports["postgresql"])],
                            door, tmp / "door.log"))  # fmt: skip
        workers = [_start(["worker", "--workers", "1"], home("w1", distributed), tmp / "w1.log")]
        procs += workers
        for name, port in ports.items():
            if not wait_healthy(procs[0 if name == "sqlite" else 1], port):
                raise SystemExit(f"{name} server did not start: see {tmp}")
        for name, port in ports.items():
            env = embedded if name == "sqlite" else door
            k = key(env, "bench")
            client, models = api._client(port, k)
            submit_and_wait(client, models, ["mar_rifle.fbx"])
            job_id = _last_job(client, models, base)
            time.sleep(1.1)
            paced = api.paced(client, models, job_id, 20, args.seconds)
            keys = [key(env, f"load{i}") for i in range(args.threads)]
            sat, elapsed = api.saturate(
                [api._client(port, kk) for kk in keys], job_id, args.seconds
            )
            results[name] = (paced, sat, elapsed, client, models)
            print(f"{name}: query load measured", flush=True)

        # Jobs per minute with 1, then 2 worker machines (the distributed front door).
        client, models = results["postgresql"][3], results["postgresql"][4]
        batch = ["mar_rifle.fbx", "jeep1.fbx", "spider.fbx"] * 4
        one = submit_and_wait(client, models, batch)
        workers.append(_start(["worker", "--workers", "1"], home("w2", distributed),
                              tmp / "w2.log"))  # fmt: skip
        procs.append(workers[-1])
        time.sleep(8)  # its start-up (warm-up)
        two = submit_and_wait(client, models, batch)
        per_minute = {1: 60 * len(batch) / one, 2: 60 * len(batch) / two}
        print(f"jobs/min: {per_minute}", flush=True)

        # A worker machine dies mid-job: seconds until the job runs again elsewhere.
        import sqlalchemy as sa

        engine = sa.create_engine(distributed["PART3D_DATABASE_URL"])
        req = models.SubmitHunyuan3DPartJobRequest()
        req.from_json_string(json.dumps({"File": {"Url": f"{base}/jeep1.fbx", "Type": "FBX"}}))
        victim_job = client.SubmitHunyuan3DPartJob(req).JobId
        holder = None
        while holder is None:
            with engine.connect() as conn:
                attempts = conn.execute(
                    sa.text("SELECT attempts FROM jobs WHERE job_id = :j"), {"j": victim_job}
                ).scalar_one()
            if attempts >= 1:
                # Which machine has it: the one whose log names the job.
                for w, log in zip(workers, ("w1", "w2"), strict=True):
                    if victim_job in (tmp / f"{log}.log").read_text():
                        holder = w
            time.sleep(0.05)
        os.killpg(holder.pid, signal.SIGKILL)
        died = time.perf_counter()
        while True:
            with engine.connect() as conn:
                attempts = conn.execute(
                    sa.text("SELECT attempts FROM jobs WHERE job_id = :j"), {"j": victim_job}
                ).scalar_one()
            if attempts >= 2:
                break
            time.sleep(0.1)
        rerun_s = time.perf_counter() - died
        engine.dispose()
        print(f"worker death -> job running again: {rerun_s:.1f} s", flush=True)
    finally:
        for p in procs:
            _kill(p)
        moto.terminate()
        files.shutdown()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()

    def summary(rs):
        served = [r for r in rs if r[1] in ("ok", "ResourceNotFound")]
        return [r[0] * 1000 for r in served], len(rs) - len(served)

    lines = [
        f"Measured by `python bench/api.py --distributed` on {time.strftime('%Y-%m-%d')} "
        f"({os.cpu_count()} cores, everything on this one machine): the embedded all-in-one "
        "(`serve --workers 1`, SQLite) and a front door `serve --no-workers` on PostgreSQL 15, "
        "Redis 7 and moto's S3 server, driven by the official intl Python SDK.",
        "",
        "| records | load | requests | errors | p50 ms | p99 ms | requests/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (paced, sat, elapsed, _, _) in results.items():
        lat20, err20 = summary(paced)
        latsat, errsat = summary(sat)
        lines.append(
            f"| {name} | Query at 20/s | {len(paced)} | {err20} | {api._pct(lat20, 50):.1f} "
            f"| {api._pct(lat20, 99):.1f} | 20 |"
        )
        lines.append(
            f"| {name} | Query, {args.threads} keys | {len(sat)} | {errsat} "
            f"| {api._pct(latsat, 50):.1f} | {api._pct(latsat, 99):.1f} "
            f"| {len(sat) / elapsed:.0f} |"
        )
    lines += [
        "",
        f"Jobs per minute (12 jobs: mar_rifle, jeep1, spider x 4, through the distributed front "
        f"door): 1 worker machine {per_minute[1]:.1f}, 2 worker machines {per_minute[2]:.1f} "
        "(both on this 2-core machine).",
        "",
        f"A worker machine killed (SIGKILL) mid-job: its job ran again on the other after "
        f"{rerun_s:.1f} s (lease {os.environ.get('PART3D_LEASE_SECONDS', '30')} s, reaper every "
        "5 s).",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    from report import write_section

    write_section("API, distributed", body)


def _last_job(client, models, base: str) -> str:
    req = models.SubmitHunyuan3DPartJobRequest()
    req.from_json_string(json.dumps({"File": {"Url": f"{base}/mar_rifle.fbx", "Type": "FBX"}}))
    return client.SubmitHunyuan3DPartJob(req).JobId
