"""The HTTP server: the API 3.0 front door at ``/``, result files, ``/healthz``."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from part3d.service import actions, results
from part3d.service.config import config, store
from part3d.service.observe import REQUESTS, metrics
from part3d.service.tencent import errors
from part3d.service.tencent.frontdoor import (
    MAX_TC3_BODY,
    Call,
    RawRequest,
    authenticate,
    failure,
    success,
)
from part3d.service.tencent.params import validate_query, validate_submit

log = logging.getLogger("part3d.api")
JSON = "application/json"
#: Seconds a request body may take to arrive.
BODY_TIMEOUT = 60.0
FILE_TYPES = {"obj": "OBJ", "fbx": "FBX", "glb": "GLB"}


def submit(call: Call) -> dict:
    """SubmitHunyuan3DPartJob: Tencent's fields in, ``actions.submit``, Tencent's fields out."""
    req = validate_submit(call.params, flattened=call.flattened)
    request = actions.JobRequest(
        account=call.key.account,
        product=call.product,
        url=req.url,
        file_type=req.file_type,
        model=req.model,
        segmentation=req.part_segmentation_info,
        staged=req.staged,
        post_process=req.post_process,
    )
    try:
        return {"JobId": actions.submit(request)}
    except actions.QueueFull as exc:
        raise errors.EngineServerLimitExceeded(str(exc)) from None


def query(call: Call) -> dict:
    """QueryHunyuan3DPartJob: all six data fields on both products (API.md §6.2)."""
    req = validate_query(call.params)
    try:
        view = actions.query(call.key.account, req.job_id)
    except actions.JobNotFound as exc:
        raise errors.ResourceNotFound(str(exc)) from None
    files = [
        {"Type": FILE_TYPES[fmt], "Url": url, "PreviewImageUrl": view.preview_url}
        for fmt, url in view.models
    ]
    if view.preview_url and not view.single_model:
        files.append({"Type": "IMAGE", "Url": view.preview_url, "PreviewImageUrl": ""})
    return {
        "Status": view.status,
        "ErrorCode": view.error_code,
        "ErrorMessage": view.error_message,
        "ResultFile3Ds": files,
        "PartSegmentationInfo": view.segmentation,
        # The intl SDK ignores the URL; the domestic one reads it.
        "PartSegmentationInfoUrl": view.segmentation_url,
    }


ACTIONS = {"SubmitHunyuan3DPartJob": submit, "QueryHunyuan3DPartJob": query}


def _reply(body: bytes) -> Response:
    return Response(content=body, status_code=200, media_type=None, headers={"content-type": JSON})


def _rate_limiter():
    from limits import RateLimitItemPerSecond, storage, strategies

    # The sliding-window counter lets a client pacing at exactly the limit through (a strict
    # moving window refuses it now and then, on timer jitter), and still stops bursts.
    # With Redis configured, the counters are shared: the limit holds across front doors.
    url = config().redis_url
    counters = storage.storage_from_string(url) if url else storage.MemoryStorage()
    window = strategies.SlidingWindowCounterRateLimiter(counters)
    item = RateLimitItemPerSecond(config().rate_limit)

    def limit(account: str, action: str) -> None:
        if not window.hit(item, account, action):
            raise errors.RequestLimitExceeded(
                f"more than {config().rate_limit} {action} requests per second"
            )

    return limit


def create_app() -> FastAPI:
    app = FastAPI(title="part3d", docs_url=None, redoc_url=None, openapi_url=None)
    limit = _rate_limiter()

    @app.api_route("/", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
    async def front_door(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            body = await _read_body(request, MAX_TC3_BODY)
        except errors.TencentError as exc:
            REQUESTS.labels("unknown", exc.code).inc()
            return _reply(failure(exc, request_id))
        raw = RawRequest(
            method=request.method,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        # The records are reached synchronously (SQLAlchemy): in a thread, off the event loop.
        return await run_in_threadpool(handle, raw, request_id)

    def handle(raw: RawRequest, request_id: str) -> Response:
        started = time.perf_counter()
        action, code, account = raw.headers.get("x-tc-action", ""), "Success", None
        try:
            call = authenticate(raw, store().lookup_key, time.time(), limit=limit)
            call.request_id = request_id
            action, account = call.action, call.key.account
            return _reply(success(ACTIONS[call.action](call), request_id))
        except errors.TencentError as exc:
            code = exc.code
            return _reply(failure(exc, request_id))
        except Exception:
            code = "InternalError"
            err = errors.InternalError(f"internal error (RequestId {request_id} in the server log)")
            log.exception("request failed", extra={"request_id": request_id})
            return _reply(failure(err, request_id))
        finally:
            REQUESTS.labels(action or "unknown", code).inc()
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "action": action,
                    "code": code,
                    "account": account,
                    "seconds": round(time.perf_counter() - started, 4),
                },
            )

    @app.get("/files/{job_id}/{name:path}")
    async def files(job_id: str, name: str, expires: int = 0, signature: str = "") -> Response:
        path = results.served_path(job_id, name, expires, signature, time.time())
        if path is None:
            return JSONResponse({"error": "not found or expired"}, status_code=404)
        return FileResponse(path)

    @app.get("/metrics")
    def prometheus(request: Request) -> Response:
        token = config().metrics_token
        if token:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return JSONResponse({"error": "metrics need the bearer token"}, status_code=401)
        elif not _loopback(request.client.host if request.client else ""):
            return JSONResponse(
                {"error": "metrics are served to this machine only (or set a token)"},
                status_code=403,
            )
        return Response(metrics(store()), media_type="text/plain; version=0.0.4")

    @app.get("/healthz")
    def healthz() -> dict:
        # A plain function: FastAPI runs it in a thread, so slow backends never block the loop.
        from part3d.service.queue import huey, reachable
        from part3d.service.supervise import STATE

        workers = STATE.report()
        try:
            store().ping()
            database = True
        except Exception:  # noqa: BLE001 - reported, not raised
            database = False
        checks = {"database": database, "queue": reachable(huey), "storage": results.reachable()}
        ok = all(checks.values()) and workers["alive"] >= workers["expected"]
        return {"status": "ok" if ok else "degraded", "workers": workers, **checks}

    return app


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to be over ``limit`` bytes: by its
    Content-Length before reading anything, and by counting while it streams in (chunked
    bodies have no length), so a huge body never sits in memory."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise errors.InvalidParameter("Content-Length is not a number")
        if int(declared) > limit:
            raise errors.RequestSizeLimitExceeded(f"The request body is over {limit >> 20} MiB")
    chunks, size = [], 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.RequestSizeLimitExceeded(f"The request body is over {limit >> 20} MiB")
            chunks.append(chunk)

    try:
        # A client trickling its body is not waited for forever.
        await asyncio.wait_for(read(), BODY_TIMEOUT)
    except TimeoutError:
        raise errors.InvalidParameter(
            f"The request body did not arrive within {BODY_TIMEOUT:.0f} s"
        ) from None
    return b"".join(chunks)
