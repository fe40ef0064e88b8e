"""`part3d serve` as a real process on loopback, driven by the official Tencent SDKs."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trimesh
from independent_readers import read_with
from PIL import Image
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

import part3d.io
from part3d.service.demo import start_serve, wait_healthy

MODELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "models"
BAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fbx" / "bad"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


_SERVED_ROOTS: dict[str, str] = {}


def files_server_root(url: str) -> str:
    """The folder a files_server URL serves (tests may add files to it)."""
    return _SERVED_ROOTS[url]


@pytest.fixture(scope="module")
def files_server(tmp_path_factory):
    """A local HTTP server for the inputs: the sample models and a corrupt FBX."""
    root = tmp_path_factory.mktemp("www")
    for name in ("mar_rifle.fbx", "jeep1.fbx"):
        (root / name).write_bytes((MODELS / name).read_bytes())
    (root / "corrupt.fbx").write_bytes((BAD / "crafted_deflate_corrupt_stream.fbx").read_bytes())
    (root / "notfbx.fbx").write_bytes(b"just some text, not a model\n")
    for name in ("spot.obj", "trellis_uanu2002_sample.glb"):
        (root / name).write_bytes((MODELS.parent / "real" / name).read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _SERVED_ROOTS[url] = str(root)
    yield url
    server.shutdown()


def start_server(home: Path, **extra_env: str):
    """A ``part3d serve`` process on a free loopback port; returns (process, service dict)."""
    port = _free_port()
    env = {
        **os.environ,
        "PART3D_HOME": str(home),
        "PART3D_FETCH_ALLOW": "127.0.0.0/8",
        # Short leases: a killed worker's job runs again within seconds in these tests.
        "PART3D_LEASE_SECONDS": "3",
        "NO_PROXY": "127.0.0.1,localhost",
        **extra_env,
    }
    # Server output goes to a file: a pipe nobody reads would fill up and stall the server.
    log_path = home.parent / f"{home.name}-serve.log"
    log = log_path.open("a")
    proc = start_serve(port, env, log=log, workers=1)
    if not wait_healthy(proc, port):
        proc.kill()
        raise RuntimeError(log_path.read_text())

    def keys(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "part3d.cli", "keys", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    return proc, {"port": port, "keys": keys, "env": env}


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(20)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    proc, info = start_server(tmp_path_factory.mktemp("home"))
    yield info
    stop_server(proc)


def _client(
    service,
    key: dict,
    product: str = "hunyuan",
    region: str | None = None,
    method: str = "POST",
    sign: str | None = None,
):
    hp = HttpProfile(endpoint=f"127.0.0.1:{service['port']}", protocol="http", reqMethod=method)
    cred = credential.Credential(key["SecretId"], key["SecretKey"])
    if product == "hunyuan":
        from tencentcloud.hunyuan.v20230901 import hunyuan_client, models

        client = hunyuan_client.HunyuanClient(
            cred, region or "ap-singapore", ClientProfile(httpProfile=hp)
        )
    else:
        from tencentcloud.ai3d.v20250513 import ai3d_client, models

        client = ai3d_client.Ai3dClient(
            cred, region or "ap-guangzhou", ClientProfile(httpProfile=hp)
        )
    return client, models


def _submit(client, models, url: str, file_type: str = "FBX") -> str:
    req = models.SubmitHunyuan3DPartJobRequest()
    req.from_json_string(json.dumps({"File": {"Url": url, "Type": file_type}}))
    return client.SubmitHunyuan3DPartJob(req).JobId


def _wait(client, models, job_id: str, timeout: float = 120):
    deadline = time.time() + timeout
    while True:
        q = models.QueryHunyuan3DPartJobRequest()
        q.JobId = job_id
        resp = client.QueryHunyuan3DPartJob(q)
        if resp.Status in ("DONE", "FAIL") or time.time() > deadline:
            return resp
        time.sleep(0.3)


@pytest.fixture(scope="module")
def key(service) -> dict:
    return json.loads(service["keys"]("create", "--account", "acme", "--json"))


def test_sdk_submit_poll_done_and_every_file_opens(service, key, files_server, tmp_path) -> None:
    client, models = _client(service, key)
    job_id = _submit(client, models, f"{files_server}/mar_rifle.fbx")
    assert len(job_id) == 19 and job_id.isdigit()
    resp = _wait(client, models, job_id)
    assert (resp.Status, resp.ErrorCode, resp.ErrorMessage) == ("DONE", "", "")
    types = [f.Type for f in resp.ResultFile3Ds]
    assert types == ["OBJ", "FBX", "GLB", "IMAGE"]
    info = json.loads(resp.PartSegmentationInfo)
    assert sum(len(v["face_ids"]) for v in info.values()) == 572
    paths = {}
    for f in resp.ResultFile3Ds:
        data = urllib.request.urlopen(f.Url, timeout=10).read()
        paths[f.Type] = tmp_path / f"out.{f.Type.lower()}"
        paths[f.Type].write_bytes(data)
    found = read_with("ufbx", [str(paths["FBX"])])[str(paths["FBX"])]
    assert set(found["meshes"]) == set(info)
    # Each part has its faces, and caps where it was cut out of a surface (closed parts).
    for name, faces in found["meshes"].items():
        assert faces >= len(info[name]["face_ids"]), name
    glb = trimesh.load(paths["GLB"], file_type="glb", process=False)
    nodes = set(glb.graph.nodes_geometry)
    # A part of several materials (its caps have their own) adds a node per further material.
    assert set(info) <= nodes
    assert all(any(n.startswith(f"{p}_") for p in info) for n in nodes - set(info))
    obj = trimesh.load(paths["OBJ"], file_type="obj", process=False, force="mesh")
    assert len(obj.faces) == sum(found["meshes"].values())
    assert Image.open(paths["IMAGE"]).size == (1024, 1024)


def test_domestic_sdk_gets_the_segmentation_url(service, key, files_server) -> None:
    client, models = _client(service, key, product="ai3d")
    resp = _wait(client, models, _submit(client, models, f"{files_server}/jeep1.fbx"))
    assert resp.Status == "DONE"
    assert resp.PartSegmentationInfoUrl.startswith("http://127.0.0.1:")
    text = urllib.request.urlopen(resp.PartSegmentationInfoUrl, timeout=10).read().decode()
    assert json.loads(text) == json.loads(resp.PartSegmentationInfo)


def test_corrupt_input_fails_with_a_useful_message_and_the_server_keeps_serving(
    service, key, files_server
) -> None:
    client, models = _client(service, key)
    resp = _wait(client, models, _submit(client, models, f"{files_server}/corrupt.fbx"))
    assert resp.Status == "FAIL" and resp.ErrorCode == "InvalidParameterValue"
    assert "zlib" in resp.ErrorMessage
    resp = _wait(client, models, _submit(client, models, f"{files_server}/notfbx.fbx"))
    assert resp.Status == "FAIL" and "not an FBX file" in resp.ErrorMessage
    resp = _wait(client, models, _submit(client, models, f"{files_server}/missing.fbx"))
    assert resp.Status == "FAIL" and "HTTP 404" in resp.ErrorMessage
    resp = _wait(client, models, _submit(client, models, "http://169.254.169.254/x.fbx"))
    assert resp.Status == "FAIL" and "refused" in resp.ErrorMessage
    resp = _wait(client, models, _submit(client, models, f"{files_server}/mar_rifle.fbx"))
    assert resp.Status == "DONE"


def _error_code(call) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value.get_code()


def test_error_paths_answer_the_documented_codes(service, key, files_server) -> None:
    client, models = _client(service, key)
    q = models.QueryHunyuan3DPartJobRequest()
    assert _error_code(lambda: client.QueryHunyuan3DPartJob(q)) == "MissingParameter"
    q.JobId = "1234567890123456789"
    assert _error_code(lambda: client.QueryHunyuan3DPartJob(q)) == "ResourceNotFound"
    bad_key = {"SecretId": key["SecretId"], "SecretKey": "wrong"}
    c2, _ = _client(service, bad_key)
    assert _error_code(lambda: c2.QueryHunyuan3DPartJob(q)) == "AuthFailure.SignatureFailure"
    c3, _ = _client(service, {"SecretId": "AKIDNOPE", "SecretKey": "x"})
    assert _error_code(lambda: c3.QueryHunyuan3DPartJob(q)) == "AuthFailure.SecretIdNotFound"
    c4, _ = _client(service, key, region="ap-guangzhou")
    assert _error_code(lambda: c4.QueryHunyuan3DPartJob(q)) == "UnsupportedRegion"
    assert (
        _error_code(lambda: _submit(client, models, f"{files_server}/x.max", file_type="MAX"))
        == "InvalidParameterValue"
    )
    assert (
        _error_code(lambda: _submit(client, models, "ftp://example.com/x.fbx"))
        == "InvalidParameterValue"
    )


def test_a_key_sees_only_its_accounts_jobs_and_revoked_keys_fail(
    service, key, files_server
) -> None:
    client, models = _client(service, key)
    job_id = _submit(client, models, f"{files_server}/mar_rifle.fbx")
    other = json.loads(service["keys"]("create", "--account", "other", "--json"))
    c_other, _ = _client(service, other)
    q = models.QueryHunyuan3DPartJobRequest()
    q.JobId = job_id
    assert _error_code(lambda: c_other.QueryHunyuan3DPartJob(q)) == "ResourceNotFound"
    service["keys"]("revoke", other["SecretId"])
    assert _error_code(lambda: c_other.QueryHunyuan3DPartJob(q)) == ("AuthFailure.SecretIdNotFound")


@pytest.mark.parametrize(
    ("method", "sign"),
    [("GET", None), ("GET", "HmacSHA256"), ("POST", "HmacSHA256"), ("GET", "HmacSHA1")],
)
def test_every_request_style_of_the_sdk_works(service, key, files_server, method, sign) -> None:
    client, models = _client(service, key, method=method, sign=sign)
    job_id = _submit(client, models, f"{files_server}/mar_rifle.fbx")
    assert _wait(client, models, job_id).Status == "DONE"


def test_rate_limit_answers_request_limit_exceeded(service, files_server) -> None:
    key = json.loads(service["keys"]("create", "--account", "busy", "--json"))
    client, models = _client(service, key)
    q = models.QueryHunyuan3DPartJobRequest()
    q.JobId = "1234567890123456789"
    codes = []
    for _ in range(40):
        try:
            client.QueryHunyuan3DPartJob(q)
        except TencentCloudSDKException as exc:
            codes.append(exc.get_code())
    assert "RequestLimitExceeded" in codes and "ResourceNotFound" in codes


def test_a_restarted_server_finishes_every_accepted_job(tmp_path, files_server) -> None:
    home = tmp_path / "home"
    proc, info = start_server(home)
    key = json.loads(info["keys"]("create", "--json"))
    client, models = _client(info, key)
    jobs = [_submit(client, models, f"{files_server}/jeep1.fbx") for _ in range(4)]
    proc.kill()  # no goodbye: mid-queue, maybe mid-job
    proc.wait(20)
    proc, info = start_server(home)
    try:
        client, models = _client(info, key)
        assert [_wait(client, models, j).Status for j in jobs] == ["DONE"] * 4
    finally:
        stop_server(proc)


def test_health_and_metrics(service, key, files_server) -> None:
    base = f"http://127.0.0.1:{service['port']}"
    health = json.loads(urllib.request.urlopen(f"{base}/healthz").read())
    assert health["status"] == "ok" and health["workers"]["alive"] == health["workers"]["expected"]
    client, models = _client(service, key)
    _wait(client, models, _submit(client, models, f"{files_server}/mar_rifle.fbx"))
    text = urllib.request.urlopen(f"{base}/metrics").read().decode()
    assert 'part3d_requests_total{action="SubmitHunyuan3DPartJob",code="Success"}' in text
    assert 'part3d_jobs{status="DONE"}' in text
    assert "part3d_queue_length" in text and "part3d_job_duration_seconds_bucket" in text


def test_result_urls_are_signed(service, key, files_server) -> None:
    client, models = _client(service, key)
    resp = _wait(client, models, _submit(client, models, f"{files_server}/mar_rifle.fbx"))
    url = resp.ResultFile3Ds[0].Url
    assert urllib.request.urlopen(url).status == 200
    # The MTL sits beside the OBJ under the same signature.
    assert urllib.request.urlopen(url.replace(".obj?", ".mtl?")).status == 200
    for tampered in (
        url.replace("signature=", "signature=0"),
        url.split("?")[0],
        url.replace("expires=", "expires=1"),
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(tampered)
        assert err.value.code == 404


def test_tccli_submits_and_queries(service, key, files_server, tmp_path) -> None:
    env = {**service["env"], "HOME": str(tmp_path)}
    tccli = str(Path(sys.executable).with_name("tccli"))
    common = [
        "--endpoint",
        f"http://127.0.0.1:{service['port']}",
        "--region",
        "ap-singapore",
        "--secretId",
        key["SecretId"],
        "--secretKey",
        key["SecretKey"],
    ]
    out = subprocess.run(
        [
            tccli,
            "hunyuan",
            "SubmitHunyuan3DPartJob",
            "--File",
            json.dumps({"Type": "FBX", "Url": f"{files_server}/mar_rifle.fbx"}),
            *common,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    job_id = json.loads(out.stdout)["JobId"]
    deadline = time.time() + 120
    while True:
        out = subprocess.run(
            [tccli, "hunyuan", "QueryHunyuan3DPartJob", "--JobId", job_id, *common],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr + out.stdout
        status = json.loads(out.stdout)["Status"]
        if status in ("DONE", "FAIL") or time.time() > deadline:
            break
        time.sleep(0.5)
    assert status == "DONE"


def test_protocol_errors_through_the_sdk(service, key, monkeypatch) -> None:
    client, models = _client(service, key)
    assert _error_code(lambda: client.call("DescribeInstances", {})) == "InvalidAction"
    assert (
        _error_code(
            lambda: client.call("QueryHunyuan3DPartJob", {"JobId": "1" * 19 + "x" * 11_000_000})
        )
        == "RequestSizeLimitExceeded"
    )
    stale = time.time() - 1000
    monkeypatch.setattr(time, "time", lambda: stale)
    assert _error_code(lambda: client.call("QueryHunyuan3DPartJob", {"JobId": "1"})) == (
        "AuthFailure.SignatureExpire"
    )
    monkeypatch.undo()
    client._apiVersion = "2020-01-01"
    assert _error_code(lambda: client.call("QueryHunyuan3DPartJob", {"JobId": "1"})) == (
        "NoSuchVersion"
    )


def test_malformed_json_body_is_invalid_parameter(service, key) -> None:

    from part3d.service.tencent.signing import sha256_hex, tc3_canonical_request, tc3_signature

    now = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(now))
    host = f"127.0.0.1:{service['port']}"
    body = b'{"JobId": '
    headers = {"content-type": "application/json", "host": host}
    canonical = tc3_canonical_request("POST", "", headers, "content-type;host", sha256_hex(body))
    sig = tc3_signature(key["SecretKey"], date, "hunyuan", str(now), canonical)
    req = urllib.request.Request(
        f"http://{host}/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-TC-Action": "QueryHunyuan3DPartJob",
            "X-TC-Version": "2023-09-01",
            "X-TC-Region": "ap-singapore",
            "X-TC-Timestamp": str(now),
            "Authorization": f"TC3-HMAC-SHA256 Credential={key['SecretId']}/{date}/hunyuan/"
            f"tc3_request, SignedHeaders=content-type;host, Signature={sig}",
        },
    )
    reply = urllib.request.urlopen(req)
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    error = json.loads(reply.read())["Response"]["Error"]
    assert error["Code"] == "InvalidParameter"


def test_post_processing_gives_one_clean_fbx_with_every_part(service, key, files_server, tmp_path):
    client, models = _client(service, key)
    req = models.SubmitHunyuan3DPartJobRequest()
    req.from_json_string(
        json.dumps(
            {"File": {"Url": f"{files_server}/spot.obj", "Type": "OBJ"}, "EnablePostProcess": True}
        )
    )
    resp = _wait(client, models, client.SubmitHunyuan3DPartJob(req).JobId)
    assert (resp.Status, resp.ErrorMessage) == ("DONE", "")
    assert [f.Type for f in resp.ResultFile3Ds] == ["FBX"]
    fbx, preview = resp.ResultFile3Ds[0].Url, resp.ResultFile3Ds[0].PreviewImageUrl
    assert preview.startswith("http://127.0.0.1:")
    path = tmp_path / "post.fbx"
    path.write_bytes(urllib.request.urlopen(fbx, timeout=10).read())
    info = json.loads(resp.PartSegmentationInfo)
    found = read_with("ufbx", [str(path)])[str(path)]
    assert set(found["meshes"]) == set(info) and len(info) >= 2
    # Every part closed: spot is a closed surface, so each part is watertight.
    scene = part3d.io.load(path)
    for mesh in scene.meshes:
        part = trimesh.Trimesh(mesh.vertices, mesh.triangles, process=True)
        assert part.is_watertight and part.volume > 0, mesh.name
    assert Image.open(io.BytesIO(urllib.request.urlopen(preview, timeout=10).read())).size == (
        1024,
        1024,
    )


def test_textures_come_beside_the_obj_with_its_signature(service, key, files_server) -> None:
    client, models = _client(service, key)
    url = f"{files_server}/trellis_uanu2002_sample.glb"
    resp = _wait(client, models, _submit(client, models, url, "GLB"))
    assert resp.Status == "DONE", resp.ErrorMessage
    obj_url = next(f.Url for f in resp.ResultFile3Ds if f.Type == "OBJ")
    base, query = obj_url.split("?", 1)
    mtl = urllib.request.urlopen(f"{base[:-4]}.mtl?{query}", timeout=10).read().decode()
    texture = next(line.split()[1] for line in mtl.splitlines() if line.startswith("map_Kd"))
    folder = base.rsplit("/", 1)[0]
    data = urllib.request.urlopen(f"{folder}/{texture}?{query}", timeout=10).read()
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)
    # Without the OBJ's signature, nothing.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{folder}/{texture}", timeout=10)


def test_a_full_queue_answers_engine_server_limit_exceeded(tmp_path, files_server) -> None:
    proc, info = start_server(tmp_path / "home", PART3D_MAX_QUEUED="0")
    try:
        key = json.loads(info["keys"]("create", "--json"))
        client, models = _client(info, key)
        assert _error_code(lambda: _submit(client, models, f"{files_server}/jeep1.fbx")) == (
            "FailedOperation.EngineServerLimitExceeded"
        )
    finally:
        stop_server(proc)


def test_result_files_are_named_after_the_input(service, key, files_server) -> None:
    client, models = _client(service, key)
    resp = _wait(client, models, _submit(client, models, f"{files_server}/jeep1.fbx"))
    names = [f.Url.split("?")[0].rsplit("/", 1)[1] for f in resp.ResultFile3Ds]
    assert names == ["jeep1_parts.obj", "jeep1_parts.fbx", "jeep1_parts.glb", "jeep1_preview.png"]


def _server_rss_mb(service) -> float:
    """Resident memory of the serve process listening on the service's port (MB)."""
    pid = int(
        subprocess.run(
            ["bash", "-c", f"ss -Hltnp 'sport = :{service['port']}' | grep -o 'pid=[0-9]*'"],
            capture_output=True, text=True, check=True,
        ).stdout.split("=")[1].split()[0]
    )  # fmt: skip
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_huge_body_is_refused_before_it_is_read(service) -> None:
    """A 512 MiB POST is answered RequestSizeLimitExceeded from its Content-Length, and a
    chunked body is cut off once past 10 MiB: the server never holds it, and /healthz stays
    quick meanwhile."""
    import http.client

    before = _server_rss_mb(service)
    conn = http.client.HTTPConnection("127.0.0.1", service["port"], timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(512 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"{" + b" " * 65536)
    reply = json.loads(conn.getresponse().read())
    assert reply["Response"]["Error"]["Code"] == "RequestSizeLimitExceeded"
    conn.close()

    def chunks():
        block = b" " * (1024 * 1024)
        for _ in range(64):
            yield block

    conn = http.client.HTTPConnection("127.0.0.1", service["port"], timeout=30)
    try:
        conn.request("POST", "/", body=chunks(), encode_chunked=True,
                     headers={"Content-Type": "application/json"})  # fmt: skip
        reply = json.loads(conn.getresponse().read())
        assert reply["Response"]["Error"]["Code"] == "RequestSizeLimitExceeded"
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close the connection while the client is still sending
    finally:
        conn.close()
    start = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{service['port']}/healthz", timeout=5).read()
    assert time.perf_counter() - start < 0.5
    assert _server_rss_mb(service) - before < 100


def test_a_job_id_that_is_not_one_never_names_a_folder(service) -> None:
    for job_id in ("..", "%2e%2e", "1234"):
        url = f"http://127.0.0.1:{service['port']}/files/{job_id}/x.png?expires=9999999999&signature=0"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 404


class _SlowModel(SimpleHTTPRequestHandler):
    """Serves the sample models after a pause, so that a job is still running when a test
    kills its worker."""

    requests: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _SlowModel.requests.append(time.time())
        time.sleep(2.0)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_a_killed_worker_is_replaced_and_its_job_runs_again(tmp_path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_SlowModel, directory=str(MODELS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc, info = start_server(tmp_path / "home")
    try:
        key = json.loads(info["keys"]("create", "--json"))
        client, models = _client(info, key)
        url = f"http://127.0.0.1:{server.server_address[1]}/jeep1.fbx"
        job_id = _submit(client, models, url)
        deadline = time.time() + 30
        while time.time() < deadline:
            q = models.QueryHunyuan3DPartJobRequest()
            q.JobId = job_id
            if client.QueryHunyuan3DPartJob(q).Status == "RUN":
                break
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert workers
        for pid in workers:
            os.kill(pid, 9)
        killed = time.time()
        resp = _wait(client, models, job_id, timeout=60)
        # lease (3 s) + one job time (a few seconds here) + the supervisor's pass.
        assert resp.Status == "DONE", resp.ErrorMessage
        assert time.time() - killed < 40
        health = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{info['port']}/healthz").read()
        )
        assert health["workers"]["restarts"] >= 1
        assert health["workers"]["alive"] == health["workers"]["expected"]
        assert set(_children(proc.pid)).isdisjoint(workers)
    finally:
        stop_server(proc)
        server.shutdown()


def test_a_job_whose_worker_keeps_dying_fails_after_three_attempts(tmp_path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_SlowModel, directory=str(MODELS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc, info = start_server(tmp_path / "home")
    try:
        key = json.loads(info["keys"]("create", "--json"))
        client, models = _client(info, key)
        job_id = _submit(client, models, f"http://127.0.0.1:{server.server_address[1]}/jeep1.fbx")
        q = models.QueryHunyuan3DPartJobRequest()
        q.JobId = job_id
        deadline = time.time() + 90
        resp = client.QueryHunyuan3DPartJob(q)
        _SlowModel.requests.clear()
        killed = 0
        while resp.Status not in ("DONE", "FAIL") and time.time() < deadline:
            # Each attempt downloads the input (which pauses 2 s): kill the workers then.
            if len(_SlowModel.requests) > killed:
                killed = len(_SlowModel.requests)
                for pid in _children(proc.pid):
                    os.kill(pid, 9)
            time.sleep(0.2)
            resp = client.QueryHunyuan3DPartJob(q)
        assert killed == 3
        assert resp.Status == "FAIL"
        assert resp.ErrorCode == "FailedOperation.EngineServerError"
        assert "stopped 3 times" in resp.ErrorMessage
    finally:
        stop_server(proc)
        server.shutdown()


def test_one_account_cannot_fill_the_queue_and_state_is_private(tmp_path) -> None:
    """An account gets its share of the queue (here 1 waiting job; a never-answering input
    keeps it waiting behind a busy worker), another account still gets in; metrics need the
    token; the home folder, records and results are the owner's only."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_SlowModel, directory=str(MODELS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    proc, info = start_server(home, PART3D_MAX_QUEUED_PER_ACCOUNT="1",
                              PART3D_METRICS_TOKEN="s3cret")  # fmt: skip
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jeep1.fbx"
        greedy = _client(info, json.loads(info["keys"]("create", "--account", "a", "--json")))
        other = _client(info, json.loads(info["keys"]("create", "--account", "b", "--json")))
        codes = []
        for _ in range(4):
            try:
                _submit(*greedy, url)
                codes.append("ok")
            except TencentCloudSDKException as exc:
                codes.append(exc.get_code())
        assert "FailedOperation.EngineServerLimitExceeded" in codes
        assert _submit(*other, url)
        base = f"http://127.0.0.1:{info['port']}/metrics"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base, timeout=5)
        assert refused.value.code == 401
        req = urllib.request.Request(base, headers={"Authorization": "Bearer s3cret"})
        assert b"part3d" in urllib.request.urlopen(req, timeout=5).read()
        assert home.stat().st_mode & 0o777 == 0o700
        assert (home / "results").stat().st_mode & 0o777 == 0o700
        for name in ("part3d.db", "queue.db", "secret.key"):
            assert (home / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        stop_server(proc)
        server.shutdown()


NODE_CLIENT = Path(__file__).resolve().parent / "node" / "part3d_client.js"


def test_the_nodejs_sdk_submits_and_queries(service, key, files_server) -> None:
    """Tencent's Node.js SDK signs TC3 over the host without its port while it sends
    `Host: 127.0.0.1:PORT` (API.md §3.2): it must get through, submit and see DONE."""
    import shutil

    node_modules = NODE_CLIENT.parent / "node_modules" / "tencentcloud-sdk-nodejs-intl-en"
    if shutil.which("node") is None or not node_modules.is_dir():
        if os.environ.get("CI"):
            pytest.fail("node or tests/node/node_modules is missing (make setup installs them)")
        pytest.skip("node or the Node.js SDK is not installed (run make setup)")
    env = {
        **os.environ,
        "ENDPOINT": f"127.0.0.1:{service['port']}",
        "SECRET_ID": key["SecretId"],
        "SECRET_KEY": key["SecretKey"],
        "FILE_URL": f"{files_server}/mar_rifle.fbx",
    }
    proc = subprocess.run(
        ["node", str(NODE_CLIENT)], capture_output=True, text=True, env=env, timeout=180
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, result
    assert result["Status"] == "DONE", result
    assert {f["Type"] for f in result["ResultFile3Ds"]} >= {"FBX", "OBJ", "GLB"}


def test_an_edited_segmentation_makes_exactly_those_parts(service, key, files_server) -> None:
    """A user merges two parts and moves faces in the JSON of a finished job, submits it as
    PartSegmentationInfo, and gets exactly those parts back; a bad one is refused at Submit
    (structure) or fails the job naming the part and the face (against the model)."""
    client, models = _client(service, key)
    url = f"{files_server}/mar_rifle.fbx"
    first = json.loads(_wait(client, models, _submit(client, models, url)).PartSegmentationInfo)
    names = list(first)
    edited = {
        names[0]: {"face_ids": sorted(first[names[0]]["face_ids"] + first[names[1]]["face_ids"]
                                      + first[names[2]]["face_ids"][:5])},
        names[2]: {"face_ids": first[names[2]]["face_ids"][5:]},
        **{n: first[n] for n in names[3:]},
    }  # fmt: skip
    req = models.SubmitHunyuan3DPartJobRequest()
    req.from_json_string(json.dumps({"File": {"Url": url, "Type": "FBX"},
                                     "PartSegmentationInfo": json.dumps(edited)}))  # fmt: skip
    resp = _wait(client, models, client.SubmitHunyuan3DPartJob(req).JobId)
    assert resp.Status == "DONE", resp.ErrorMessage
    got = json.loads(resp.PartSegmentationInfo)
    assert sorted(sorted(p["face_ids"]) for p in got.values()) == sorted(
        sorted(p["face_ids"]) for p in edited.values()
    )
    for bad, text in (
        ({"p": {"face_ids": [0, -1]}}, "face id -1"),
        ({"p": {"face_ids": [0], "color": "red"}}, "color"),
    ):
        req.from_json_string(json.dumps({"File": {"Url": url, "Type": "FBX"},
                                         "PartSegmentationInfo": json.dumps(bad)}))  # fmt: skip
        with pytest.raises(TencentCloudSDKException) as info:
            client.SubmitHunyuan3DPartJob(req)
        assert info.value.get_code() == "InvalidParameterValue" and text in info.value.get_message()
    out_of_range = {"m_rifle_part_1": {"face_ids": [0, 99999]}}
    fields = {"File": {"Url": url, "Type": "FBX"}, "PartSegmentationInfo": json.dumps(out_of_range)}
    req.from_json_string(json.dumps(fields))
    resp = _wait(client, models, client.SubmitHunyuan3DPartJob(req).JobId)
    assert (resp.Status, resp.ErrorCode) == ("FAIL", "InvalidParameterValue")
    assert "m_rifle_part_1" in resp.ErrorMessage and "99999" in resp.ErrorMessage


def test_staged_generation_round_trip_through_the_sdk(service, key, files_server, tmp_path):
    """Stage 1 (EnableStagedGeneration) gives the input model carrying the segmentation (FBX
    with one material per part, GLB, preview, PartSegmentationInfo); the user merges two parts
    and moves faces; stage 2 (the stage-1 FBX + the edited JSON) gives exactly those parts."""
    client, models = _client(service, key)
    req = models.SubmitHunyuan3DPartJobRequest()
    req.from_json_string(json.dumps({"File": {"Url": f"{files_server}/jeep1.fbx", "Type": "FBX"},
                                     "EnableStagedGeneration": True}))  # fmt: skip
    stage1 = _wait(client, models, client.SubmitHunyuan3DPartJob(req).JobId)
    assert stage1.Status == "DONE", stage1.ErrorMessage
    assert [f.Type for f in stage1.ResultFile3Ds] == ["FBX", "GLB", "IMAGE"]
    info = json.loads(stage1.PartSegmentationInfo)
    fbx = tmp_path / "jeep1_segmented.fbx"
    fbx.write_bytes(urllib.request.urlopen(stage1.ResultFile3Ds[0].Url, timeout=10).read())
    from part3d.io import load

    marked = load(fbx)
    original = load(MODELS / "jeep1.fbx")
    assert [m.polygon_count for m in marked.meshes] == [m.polygon_count for m in original.meshes]
    mats = {mat.name for m in marked.meshes for mat in m.materials}
    assert mats == set(info)
    # Edit as a user would: merge the first two parts of one mesh, move faces between two.
    by_mesh: dict[str, list[str]] = {}
    for n in info:
        by_mesh.setdefault(n.rsplit("_part_", 1)[0], []).append(n)
    names = next(v for v in by_mesh.values() if len(v) >= 2)
    edited = dict(info)
    a, b = names[0], names[1]
    edited[a] = {"face_ids": sorted(info[a]["face_ids"] + info[b]["face_ids"])}
    del edited[b]
    # Serve the stage-1 model back as the File of stage 2.
    (Path(files_server_root(files_server)) / "jeep1_segmented.fbx").write_bytes(fbx.read_bytes())
    req.from_json_string(json.dumps({
        "File": {"Url": f"{files_server}/jeep1_segmented.fbx", "Type": "FBX"},
        "EnableStagedGeneration": True, "PartSegmentationInfo": json.dumps(edited)}))  # fmt: skip
    stage2 = _wait(client, models, client.SubmitHunyuan3DPartJob(req).JobId)
    assert stage2.Status == "DONE", stage2.ErrorMessage
    assert [f.Type for f in stage2.ResultFile3Ds] == ["OBJ", "FBX", "GLB", "IMAGE"]
    got = json.loads(stage2.PartSegmentationInfo)

    def global_sets(parts: dict, scene) -> list:
        # Parts as sets of (mesh, face) so that both key styles compare.
        out = []
        for name, part in parts.items():
            mesh = name.rsplit("_part_", 1)[0]
            out.append(sorted((mesh, f) for f in part["face_ids"]))
        return sorted(out)

    assert global_sets(got, marked) == global_sets(edited, marked)


def test_huge_many_or_slow_headers_are_refused(tmp_path) -> None:
    """16 MiB of headers or 200 headers: 431 at once; headers trickled a byte at a time: the
    connection is dropped after the head deadline (2 s here, 10 s by default); meanwhile
    /healthz answers quickly."""
    proc, info = start_server(tmp_path / "home", PART3D_HEAD_TIMEOUT="2")
    port = info["port"]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            try:
                for _ in range(256):
                    s.sendall(b"X-Pad: " + b"a" * 65536 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert s.recv(200).startswith(b"HTTP/1.1 431")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
                b"X-H%d: 1\r\n" % i for i in range(200)) + b"\r\n")  # fmt: skip
            assert s.recv(200).startswith(b"HTTP/1.1 431")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            start = time.perf_counter()
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            closed = False
            for _ in range(40):
                try:
                    s.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                s.settimeout(0.25)
                try:
                    reply = s.recv(200)
                except TimeoutError:
                    continue
                closed = True
                assert reply == b"" or reply.startswith(b"HTTP/1.1 408")
                break
            assert closed and time.perf_counter() - start < 6
        start = time.perf_counter()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        assert time.perf_counter() - start < 0.5
    finally:
        stop_server(proc)
