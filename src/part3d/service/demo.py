"""`make run`: start `part3d serve` on the embedded default, submit a sample model through the
official Tencent SDK, print the finished job's result URLs and a snippet to paste, and keep
serving until Ctrl-C.

    python -m part3d.service.demo [MODEL] [--port 18931]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from part3d.service.config import home

SNIPPET = """\
import json, time
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.hunyuan.v20230901 import hunyuan_client, models

cred = credential.Credential("{secret_id}", "{secret_key}")
hp = HttpProfile(endpoint="127.0.0.1:{port}", protocol="http")
client = hunyuan_client.HunyuanClient(cred, "ap-singapore", ClientProfile(httpProfile=hp))
req = models.SubmitHunyuan3DPartJobRequest()
req.from_json_string(json.dumps({{"File": {{"Url": "{url}", "Type": "FBX"}}}}))
job = client.SubmitHunyuan3DPartJob(req).JobId
while True:
    q = models.QueryHunyuan3DPartJobRequest(); q.JobId = job
    r = client.QueryHunyuan3DPartJob(q)
    if r.Status in ("DONE", "FAIL"):
        break
    time.sleep(1)
print(r.Status, [f.Url for f in r.ResultFile3Ds or []])
"""


def start_serve(port: int, env: dict, log=subprocess.DEVNULL, workers: int | None = None):
    """Start `part3d serve` on ``port`` with ``env`` (output to ``log``); returns the process."""
    cmd = [sys.executable, "-m", "part3d.cli", "serve", "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


def wait_healthy(server: subprocess.Popen, port: int, timeout: float = 60.0) -> bool:
    """Wait until the server on ``port`` answers /healthz; False if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return True
        except OSError:
            if server.poll() is not None:
                return False
            time.sleep(0.2)
    return False


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def demo_key(env: dict) -> dict:
    """The demo key pair, created on first start and kept in PART3D_HOME (0600)."""
    path = home() / "demo-key.json"
    if path.exists():
        return json.loads(path.read_text())
    out = subprocess.run(
        [sys.executable, "-m", "part3d.cli", "keys", "create", "--account", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(out.stdout)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "model",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parents[4]
        / "shared"
        / "data"
        / "models"
        / "mar_rifle.fbx",
    )
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    if not args.model.is_file():
        print(f"part3d: error: {args.model}: no such file", file=sys.stderr)
        return 1

    # `timeout`, a supervisor or CI stop the demo with SIGTERM: stop the server with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    files = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(args.model.parent)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{files.server_address[1]}/{args.model.name}"
    env = {
        **os.environ,
        "PART3D_FETCH_ALLOW": os.environ.get("PART3D_FETCH_ALLOW", "127.0.0.0/8"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    os.environ.update({k: env[k] for k in ("PART3D_FETCH_ALLOW", "NO_PROXY")})
    log_path = home() / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("a")
    server = start_serve(args.port, env, log=log_file)
    print(f"part3d serve on http://127.0.0.1:{args.port} (log: {log_path})", flush=True)
    try:
        if not wait_healthy(server, args.port):
            return server.returncode or 1
        key = demo_key(env)
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.hunyuan.v20230901 import hunyuan_client, models

        hp = HttpProfile(endpoint=f"127.0.0.1:{args.port}", protocol="http")
        client = hunyuan_client.HunyuanClient(
            credential.Credential(key["SecretId"], key["SecretKey"]),
            "ap-singapore",
            ClientProfile(httpProfile=hp),
        )
        req = models.SubmitHunyuan3DPartJobRequest()
        req.from_json_string(json.dumps({"File": {"Url": url, "Type": "FBX"}}))
        job_id = client.SubmitHunyuan3DPartJob(req).JobId
        print(f"submitted {args.model.name} as job {job_id} through the Tencent SDK", flush=True)
        while True:
            q = models.QueryHunyuan3DPartJobRequest()
            q.JobId = job_id
            resp = client.QueryHunyuan3DPartJob(q)
            if resp.Status in ("DONE", "FAIL"):
                break
            time.sleep(0.5)
        print(f"job {job_id}: {resp.Status} {resp.ErrorMessage}".rstrip())
        for f in resp.ResultFile3Ds or []:
            print(f"  {f.Type:<5} {f.Url}")
        print("\nTry it yourself (the demo key is in", home() / "demo-key.json", "):\n")
        print(
            SNIPPET.format(
                secret_id=key["SecretId"], secret_key=key["SecretKey"], port=args.port, url=url
            )
        )
        print(f"serving on http://127.0.0.1:{args.port}; Ctrl-C to stop", flush=True)
        server.wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        files.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
