"""The API server under load: Query latency and throughput, and Submit -> DONE per sample model
against `pipeline.run` on the same file. Figures go to docs/BENCHMARKS.md ("API").

Starts `part3d serve` (embedded default, temporary PART3D_HOME) on loopback, serves the sample
models from a local HTTP server, and drives everything through the official Tencent SDK.

    python bench/api.py [--seconds 10] [--threads 8] [--distributed]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "data" / "models"
sys.path.insert(0, str(ROOT / "bench"))
from report import write_section  # noqa: E402

from part3d.service.demo import start_serve, wait_healthy  # noqa: E402


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(port: int, key: dict):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.hunyuan.v20230901 import hunyuan_client, models

    hp = HttpProfile(endpoint=f"127.0.0.1:{port}", protocol="http")
    cred = credential.Credential(key["SecretId"], key["SecretKey"])
    return hunyuan_client.HunyuanClient(cred, "ap-singapore", ClientProfile(httpProfile=hp)), models


def _query_once(client, models, job_id: str) -> tuple[float, str]:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    q = models.QueryHunyuan3DPartJobRequest()
    q.JobId = job_id
    t = time.perf_counter()
    try:
        client.QueryHunyuan3DPartJob(q)
        code = "ok"
    except TencentCloudSDKException as exc:
        code = exc.get_code()
    return time.perf_counter() - t, code


def paced(client, models, job_id: str, rate: float, seconds: float) -> list[tuple[float, str]]:
    out = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        out.append(_query_once(client, models, job_id))
    return out


def saturate(clients, job_id: str, seconds: float) -> tuple[list[tuple[float, str]], float]:
    results: list[tuple[float, str]] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run(client, models) -> None:
        # Each key at its 20 requests/s: saturation comes from the number of keys.
        local = []
        start = time.perf_counter()
        i = 0
        while time.perf_counter() < stop:
            delay = start + i / 20 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            local.append(_query_once(client, models, job_id))
            i += 1
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=run, args=c) for c in clients]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, time.perf_counter() - t


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=40, help="keys at 20/s each, at once")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="PostgreSQL + Redis + S3 against the embedded default (bench/api_distributed.py)",
    )
    args = parser.parse_args()
    if args.distributed:
        import api_distributed

        api_distributed.run(args, sys.modules[__name__])
        return
    home = Path(tempfile.mkdtemp(prefix="part3d-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "PART3D_HOME": str(home),
        "PART3D_FETCH_ALLOW": "127.0.0.0/8",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    server = start_serve(port, env, workers=1)
    files = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(MODELS)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}"
    try:
        if not wait_healthy(server, port):
            raise SystemExit("part3d serve did not start")

        def new_key(account: str) -> dict:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "part3d.cli",
                    "keys",
                    "create",
                    "--account",
                    account,
                    "--json",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return json.loads(out.stdout)

        key = new_key("bench")
        client, models = _client(port, key)

        # Submit -> DONE per sample model, against pipeline.run on the same file (warm).
        from part3d.pipeline import run

        rows = []
        samples = sorted(
            p for p in MODELS.iterdir() if p.suffix.lower() in (".fbx", ".glb", ".obj")
        )
        run(samples[0], home / "warm")
        for path in samples:
            req = models.SubmitHunyuan3DPartJobRequest()
            req.from_json_string(
                json.dumps(
                    {"File": {"Url": f"{base}/{path.name}", "Type": path.suffix[1:].upper()}}
                )
            )
            t = time.perf_counter()
            job_id = client.SubmitHunyuan3DPartJob(req).JobId
            while True:
                q = models.QueryHunyuan3DPartJobRequest()
                q.JobId = job_id
                resp = client.QueryHunyuan3DPartJob(q)
                if resp.Status in ("DONE", "FAIL"):
                    break
                time.sleep(0.06)  # under the 20 requests/s limit
            api_s = time.perf_counter() - t
            t = time.perf_counter()
            run(path, home / f"direct_{path.stem}")
            direct_s = time.perf_counter() - t
            rows.append(
                {"model": path.name, "status": resp.Status, "api_s": api_s, "split_s": direct_s}
            )
            print(f"{path.name}: API {api_s:.2f} s, pipeline {direct_s:.2f} s", flush=True)

        time.sleep(1.1)  # let the polling above leave the rate-limit window
        paced_rows = paced(client, models, job_id, 20, args.seconds)
        keys = [new_key(f"load{i}") for i in range(args.threads)]
        sat_rows, elapsed = saturate([_client(port, k) for k in keys], job_id, args.seconds)
    finally:
        server.terminate()
        server.wait(20)
        files.shutdown()

    def summary(rs):
        # ResourceNotFound is an answer (other accounts' keys ask for the same job); only a
        # refused request (rate limit) or a failure counts as an error.
        served = [r for r in rs if r[1] in ("ok", "ResourceNotFound")]
        return [r[0] * 1000 for r in served], len(rs) - len(served)

    lat20, err20 = summary(paced_rows)
    latsat, errsat = summary(sat_rows)
    throughput = len(sat_rows) / elapsed
    lines = [
        f"Measured by `python bench/api.py` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} "
        "cores): `part3d serve` (embedded default, 1 worker) on loopback, driven by the official "
        "intl Python SDK (its signing and HTTP included in every latency).",
        "",
        "| load | requests | errors | p50 ms | p99 ms | requests/s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| Query at 20/s, one key | {len(paced_rows)} | {err20} | {_pct(lat20, 50):.1f} "
        f"| {_pct(lat20, 99):.1f} | 20 |",
        f"| Query, {len(keys)} keys at 20/s each | {len(sat_rows)} | {errsat} "
        f"| {_pct(latsat, 50):.1f} | {_pct(latsat, 99):.1f} | {throughput:.0f} |",
        "",
        "| model | status | Submit -> DONE s | pipeline.run s | overhead s |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['status']} | {r['api_s']:.2f} | {r['split_s']:.2f} "
            f"| {r['api_s'] - r['split_s']:.2f} |"
        )
    over = max(r["api_s"] - r["split_s"] for r in rows)
    lines += [
        "",
        f"- Query p50 ≤ 5 ms: {_pct(lat20, 50):.1f} ms — "
        f"{'met' if _pct(lat20, 50) <= 5 else 'not met'}",
        f"- Query p99 ≤ 20 ms: {_pct(lat20, 99):.1f} ms — "
        f"{'met' if _pct(lat20, 99) <= 20 else 'not met'}",
        f"- API overhead ≤ 0.5 s per job: at most {over:.2f} s — "
        f"{'met' if over <= 0.5 else 'not met'}",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    write_section("API", body)


if __name__ == "__main__":
    main()
