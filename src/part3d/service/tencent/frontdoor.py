"""The API 3.0 front door: from a raw HTTP request to an authenticated call, checked in the
order of API.md §3.5 (the first failing check decides the error), and the envelopes of §5.

Pure functions over the request as received: no web framework here, so that every rule is
testable with plain bytes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from part3d.service.keys import Key
from part3d.service.tencent.errors import (
    InvalidAction,
    InvalidAuthorization,
    InvalidParameter,
    MissingParameter,
    NoSuchVersion,
    RequestSizeLimitExceeded,
    SecretIdNotFound,
    SignatureExpire,
    TencentError,
    TokenFailure,
    UnsupportedProtocol,
    UnsupportedRegion,
)
from part3d.service.tencent.params import unflatten
from part3d.service.tencent.signing import parse_authorization, verify_legacy, verify_tc3

PRODUCTS = {"hunyuan": "2023-09-01", "ai3d": "2025-05-13"}
VERSIONS = {v: k for k, v in PRODUCTS.items()}
ACTIONS = ("SubmitHunyuan3DPartJob", "QueryHunyuan3DPartJob")
DEFAULT_REGIONS = {
    "hunyuan": ("ap-singapore", "na-siliconvalley"),
    "ai3d": ("ap-guangzhou", "ap-shanghai", "ap-beijing"),
}
MAX_QUERY = 32 * 1024
MAX_LEGACY_BODY = 1024 * 1024
MAX_TC3_BODY = 10 * 1024 * 1024
CLOCK_SKEW = 300
#: JSON bodies nest at most this deep (Submit's deepest field is 3 levels down).
MAX_DEPTH = 32


def _nesting(body: bytes) -> int:
    """The deepest nesting of JSON arrays and objects in ``body`` (brackets inside strings are
    not counted), found without parsing, so that no input can exhaust the parser's stack."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


@dataclass
class RawRequest:
    """An HTTP request as received: ``headers`` with lower-case names."""

    method: str
    query: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Call:
    """An authenticated API call."""

    product: str
    version: str
    action: str
    region: str
    language: str
    key: Key
    params: dict
    flattened: bool
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def authenticate(
    req: RawRequest,
    lookup: Callable[[str], Key | None],
    now: float,
    regions: dict[str, tuple[str, ...]] = DEFAULT_REGIONS,
    limit: Callable[[str, str], None] | None = None,
) -> Call:
    """Check ``req`` in API.md §3.5 order and return the call, or raise the TencentError of the
    first failing check. ``lookup`` finds an active key by SecretId; ``limit(account, action)``
    raises RequestLimitExceeded when the caller is over the rate limit (step 11)."""
    method = req.method.upper()
    if method not in ("GET", "POST"):
        raise UnsupportedProtocol(f"The HTTP method {req.method} is not supported; use GET or POST")
    headers = req.headers
    auth_header = headers.get("authorization", "").strip()
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    tc3 = auth_header.startswith("TC3-HMAC-SHA256")
    if len(req.query) > MAX_QUERY:
        raise RequestSizeLimitExceeded("The query string is over 32 KiB")
    if method == "POST" and len(req.body) > (MAX_TC3_BODY if tc3 else MAX_LEGACY_BODY):
        raise RequestSizeLimitExceeded(f"The request body is over {'10 MiB' if tc3 else '1 MiB'}")
    if not tc3:
        # The legacy style: parameters (with Signature) in the query, or in a form body.
        if method == "GET":
            raw = req.query
        elif content_type == "application/x-www-form-urlencoded":
            raw = req.body.decode("utf-8", "replace")
        else:
            raw = ""
        common = dict(parse_qsl(raw, keep_blank_values=True))
        if "Signature" not in common:
            if auth_header:
                raise InvalidAuthorization("Authorization header is malformed")
            raise MissingParameter("The request is missing a required parameter Signature")

    if tc3:
        auth = parse_authorization(auth_header)
        action = headers.get("x-tc-action", "")
        version = headers.get("x-tc-version", "")
        timestamp = headers.get("x-tc-timestamp", "")
        region = headers.get("x-tc-region", "")
        language = headers.get("x-tc-language", "")
        for name, value in (
            ("X-TC-Action", action),
            ("X-TC-Version", version),
            ("X-TC-Timestamp", timestamp),
        ):
            if not value:
                raise MissingParameter(f"The request is missing a required parameter {name}")
        product = VERSIONS.get(version)
        if product is None or (auth.service in PRODUCTS and auth.service != product):
            raise NoSuchVersion(f"The API version {version} does not exist for this product")
        secret_id = auth.secret_id
        params_source = req.query if method == "GET" else None
    else:
        for name in ("Action", "Version", "Timestamp", "Nonce", "SecretId"):
            if not common.get(name):
                raise MissingParameter(f"The request is missing a required parameter {name}")
        action, version, timestamp = common["Action"], common["Version"], common["Timestamp"]
        region, language = common.get("Region", ""), common.get("Language", "")
        product = VERSIONS.get(version)
        if product is None:
            raise NoSuchVersion(f"The API version {version} does not exist")
        secret_id = common["SecretId"]

    if action not in ACTIONS:
        raise InvalidAction(f"The action {action} does not exist")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise InvalidParameter("Timestamp must be an integer number of seconds (Unix time)")
    skew = abs(now - int(timestamp))
    if skew > CLOCK_SKEW:
        raise SignatureExpire(
            "The request timestamp differs from the server time by more than 5 minutes"
        )
    key = lookup(secret_id)
    if key is None:
        raise SecretIdNotFound(f"The SecretId {secret_id} is not found or is disabled")
    if tc3:
        verify_tc3(method, req.query, headers, req.body, timestamp, key.secret_key, auth)
        sent_token = headers.get("x-tc-token")
    else:
        verify_legacy(method, headers.get("host", ""), common, key.secret_key)
        sent_token = common.get("Token")
    if key.token is not None and sent_token != key.token:
        raise TokenFailure("The session token does not match")
    if not region:
        raise MissingParameter("The request is missing a required parameter Region")
    if region not in regions.get(product, ()):
        raise UnsupportedRegion(f"The region {region} is not supported by {product}")

    if limit is not None:
        limit(key.account, action)
    # Body parsing (§3.5 step 12).
    if tc3 and method == "POST":
        if content_type != "application/json":
            raise InvalidParameter(f"Content-Type {content_type or '(none)'} is not supported")
        if req.body.strip():
            if _nesting(req.body) > MAX_DEPTH:
                raise InvalidParameter(f"The request body nests deeper than {MAX_DEPTH} levels")
            try:
                params = json.loads(req.body)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                raise InvalidParameter("The request body is not valid JSON") from None
        else:
            params = {}
        if not isinstance(params, dict):
            raise InvalidParameter("The request body must be a JSON object")
        flattened = False
    else:
        flat = dict(parse_qsl(params_source if tc3 else raw, keep_blank_values=True))
        params = unflatten(flat)
        flattened = True
    return Call(product, version, action, region, language, key, params, flattened)


def success(fields: dict, request_id: str) -> bytes:
    """The §5.1 envelope."""
    return json.dumps({"Response": {**fields, "RequestId": request_id}}).encode("utf-8")


def failure(error: TencentError, request_id: str | None = None) -> bytes:
    """The §5.2 envelope (HTTP 200, Content-Type application/json, always a RequestId)."""
    return json.dumps(
        {
            "Response": {
                "Error": {"Code": error.code, "Message": error.message},
                "RequestId": request_id or str(uuid.uuid4()),
            }
        }
    ).encode("utf-8")
