"""The API 3.0 front door: the §3.5 checks in order, on requests signed like the SDK's."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from part3d.service.tencent import errors
from part3d.service.tencent.frontdoor import Key, RawRequest, authenticate, failure, success
from part3d.service.tencent.signing import (
    legacy_signature,
    legacy_string_to_sign,
    sha256_hex,
    tc3_canonical_request,
    tc3_signature,
)

NOW = 1767268800
HOST = "127.0.0.1:18931"
KEYS = {
    "AKIDEXAMPLE": Key("AKIDEXAMPLE", "example-secret", "acme"),
    "AKIDTOKEN": Key("AKIDTOKEN", "token-secret", "acme", token="tok-123"),
}


def tc3(
    body: bytes = b'{"JobId": "1376862528873414656"}',
    *,
    method: str = "POST",
    query: str = "",
    action: str = "QueryHunyuan3DPartJob",
    version: str = "2023-09-01",
    service: str = "hunyuan",
    region: str | None = "ap-singapore",
    timestamp: int = NOW,
    secret_id: str = "AKIDEXAMPLE",
    secret_key: str = "example-secret",
    content_type: str = "application/json",
    extra: dict | None = None,
) -> RawRequest:
    headers = {
        "content-type": content_type,
        "host": HOST,
        "x-tc-action": action,
        "x-tc-version": version,
        "x-tc-timestamp": str(timestamp),
    }
    if region:
        headers["x-tc-region"] = region
    headers.update(extra or {})
    date = "2026-01-01"
    payload = sha256_hex(body if method == "POST" else b"")
    canonical = tc3_canonical_request(method, query, headers, "content-type;host", payload)
    signature = tc3_signature(secret_key, date, service, str(timestamp), canonical)
    headers["authorization"] = (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    return RawRequest(method, query, headers, body if method == "POST" else b"")


def legacy(params: dict, method: str = "GET", secret_key: str = "example-secret") -> RawRequest:
    common = {
        "Action": "QueryHunyuan3DPartJob",
        "Version": "2023-09-01",
        "Region": "ap-singapore",
        "Timestamp": str(NOW),
        "Nonce": "1234567890",
        "SecretId": "AKIDEXAMPLE",
        "SignatureMethod": "HmacSHA256",
        **params,
    }
    common["Signature"] = legacy_signature(
        secret_key, legacy_string_to_sign(method, HOST, common), "HmacSHA256"
    )
    encoded = urlencode(common)
    headers = {"content-type": "application/x-www-form-urlencoded", "host": HOST}
    if method == "GET":
        return RawRequest("GET", encoded, headers)
    return RawRequest("POST", "", headers, encoded.encode())


def check(req: RawRequest, now: float = NOW):
    return authenticate(req, KEYS.get, now)


def test_tc3_post_query_is_authenticated() -> None:
    call = check(tc3())
    assert (call.product, call.action, call.region) == (
        "hunyuan",
        "QueryHunyuan3DPartJob",
        "ap-singapore",
    )
    assert call.key.account == "acme" and call.params == {"JobId": "1376862528873414656"}
    assert not call.flattened


def test_tc3_get_and_domestic_and_numeric_scope() -> None:
    call = check(
        tc3(
            method="GET",
            query="JobId=1376862528873414656",
            content_type="application/x-www-form-urlencoded",
        )
    )
    assert call.params == {"JobId": "1376862528873414656"} and call.flattened
    call = check(tc3(version="2025-05-13", service="ai3d", region="ap-guangzhou"))
    assert call.product == "ai3d"
    # SDKs that take the scope's service from the host's first label sign with "127".
    assert check(tc3(service="127")).product == "hunyuan"


def test_legacy_get_and_post_are_authenticated() -> None:
    assert check(legacy({"JobId": "1"})).params == {"JobId": "1"}
    call = check(
        legacy(
            {"File.Url": "https://x/y.fbx", "File.Type": "FBX", "Action": "SubmitHunyuan3DPartJob"},
            method="POST",
        )
    )
    assert call.params == {"File": {"Url": "https://x/y.fbx", "Type": "FBX"}}


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (RawRequest("PUT", "", {}), errors.UnsupportedProtocol),
        (tc3(body=b" " * (10 * 1024 * 1024 + 1)), errors.RequestSizeLimitExceeded),
        (
            RawRequest("POST", "", {"content-type": "application/json"}, b"{}"),
            errors.MissingParameter,
        ),
        (
            RawRequest("POST", "", {"authorization": "Basic abc"}, b"{}"),
            errors.InvalidAuthorization,
        ),
        (tc3(version="2020-01-01"), errors.NoSuchVersion),
        (tc3(version="2025-05-13"), errors.NoSuchVersion),  # hunyuan scope, ai3d version
        (tc3(action="DescribeInstances"), errors.InvalidAction),
        (tc3(timestamp=NOW - 301), errors.SignatureExpire),
        (tc3(secret_id="AKIDUNKNOWN"), errors.SecretIdNotFound),
        (tc3(secret_key="wrong"), errors.SignatureFailure),
        (tc3(secret_id="AKIDTOKEN", secret_key="token-secret"), errors.TokenFailure),
        (tc3(region=None), errors.MissingParameter),
        (tc3(region="ap-guangzhou"), errors.UnsupportedRegion),
        (tc3(content_type="text/plain"), errors.InvalidParameter),
        (tc3(body=b"[1, 2]"), errors.InvalidParameter),
        (tc3(body=b"{not json"), errors.InvalidParameter),
        (legacy({"JobId": "1"}, secret_key="wrong"), errors.SignatureFailure),
    ],
    ids=[
        "method",
        "size",
        "no-signature",
        "bad-authorization",
        "version",
        "product-mismatch",
        "action",
        "expired",
        "unknown-id",
        "bad-signature",
        "token",
        "no-region",
        "region",
        "content-type",
        "not-object",
        "not-json",
        "legacy-signature",
    ],
)
def test_checks_fail_with_the_documented_code(request_, error) -> None:
    with pytest.raises(error):
        check(request_)


def test_matching_token_passes() -> None:
    req = tc3(secret_id="AKIDTOKEN", secret_key="token-secret", extra={"x-tc-token": "tok-123"})
    assert check(req).key.secret_id == "AKIDTOKEN"


def test_envelopes() -> None:
    ok = json.loads(success({"JobId": "1"}, "rid"))
    assert ok == {"Response": {"JobId": "1", "RequestId": "rid"}}
    err = json.loads(failure(errors.ResourceNotFound("no such job"), "rid"))
    assert err == {
        "Response": {
            "Error": {"Code": "ResourceNotFound", "Message": "no such job"},
            "RequestId": "rid",
        }
    }
    assert json.loads(failure(errors.InternalError("x")))["Response"]["RequestId"]


def test_a_huge_timestamp_is_an_invalid_parameter() -> None:
    digits = "9" * 400
    with pytest.raises(errors.InvalidParameter, match="Timestamp"):
        check(tc3(extra={"x-tc-timestamp": digits}))
    with pytest.raises(errors.InvalidParameter, match="Timestamp"):
        check(legacy({"Timestamp": digits}))


def test_deeply_nested_json_is_an_invalid_parameter() -> None:
    body = b'{"JobId": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with pytest.raises(errors.InvalidParameter, match="nests deeper"):
        check(tc3(body))
    # Brackets inside strings are not nesting.
    assert check(tc3(b'{"JobId": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1"}')).params


def test_a_huge_flattened_index_is_refused_at_once() -> None:
    import time

    start = time.perf_counter()
    with pytest.raises(errors.InvalidParameter, match="over the limit"):
        check(legacy({"JobId": "1", "Foo.100000000": "1"}))
    assert time.perf_counter() - start < 0.5


def test_node_sdk_signs_the_host_without_its_port() -> None:
    """Tencent's Node.js SDK puts `host:127.0.0.1` in the CanonicalRequest while it sends
    `Host: 127.0.0.1:18931` (API.md §3.2)."""
    req = tc3()
    headers = {**req.headers, "host": "127.0.0.1"}
    del headers["authorization"]
    signed = tc3()
    # Re-sign over the bare host, then send the Host with its port.
    payload = sha256_hex(signed.body)
    canonical = tc3_canonical_request("POST", "", headers, "content-type;host", payload)
    signature = tc3_signature("example-secret", "2026-01-01", "hunyuan", str(NOW), canonical)
    sent = {**signed.headers}
    sent["authorization"] = (
        "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-01-01/hunyuan/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    assert sent["host"] == HOST
    assert check(RawRequest("POST", "", sent, signed.body)).action == "QueryHunyuan3DPartJob"
    # Another host name is still refused.
    sent["host"] = "evil.example:18931"
    with pytest.raises(errors.SignatureFailure):
        check(RawRequest("POST", "", sent, signed.body))
