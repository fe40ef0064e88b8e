"""Every signature test vector of shared/spec/API.md §9, verified by the server-side code."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from part3d.service.tencent.errors import InvalidAuthorization, SignatureFailure
from part3d.service.tencent.signing import (
    legacy_signature,
    legacy_string_to_sign,
    parse_authorization,
    sha256_hex,
    tc3_canonical_request,
    tc3_signature,
    tc3_signing_key,
    verify_legacy,
    verify_tc3,
)

KEY = "example-secret"
TS = "1767268800"
HOST = "127.0.0.1:18931"
QUERY_BODY = b'{"JobId": "1376862528873414656"}'
SUBMIT_BODY = (
    b'{"File": {"Url": "https://example.com/in/chair.fbx", "Type": "FBX"}, '
    b'"EnableStagedGeneration": true}'
)
JSON_HEADERS = {"content-type": "application/json", "host": HOST}
FORM_HEADERS = {"content-type": "application/x-www-form-urlencoded", "host": HOST}


def _auth(signature: str, service: str = "hunyuan") -> str:
    return (
        f"TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-01-01/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def test_derived_signing_keys() -> None:
    import hashlib
    import hmac

    k_date = hmac.new(b"TC3" + KEY.encode(), b"2026-01-01", hashlib.sha256).digest()
    assert k_date.hex() == "5f3d947fe58dc978cf5fe2fb16c1cc3c83f64bcb9d7fec5add4539d85ada1352"
    assert (
        tc3_signing_key(KEY, "2026-01-01", "hunyuan").hex()
        == "df4565d369fcb9e597d26c313e18318f69934eee000cf99a04509e3599801f10"
    )


def test_tc3_post_query_vector() -> None:
    assert sha256_hex(QUERY_BODY) == (
        "3f01947db46a30c06f5948ba7018e1294e24ac5e89c80c5ea9b3de85de3f368c"
    )
    canonical = tc3_canonical_request(
        "POST", "", JSON_HEADERS, "content-type;host", sha256_hex(QUERY_BODY)
    )
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json\nhost:127.0.0.1:18931\n\ncontent-type;host\n"
        "3f01947db46a30c06f5948ba7018e1294e24ac5e89c80c5ea9b3de85de3f368c"
    )
    assert sha256_hex(canonical) == (
        "e51f18ca10e2b25ea92236279a98bc05ef1c9ad366eb4c712005cb4b4c45ac80"
    )
    assert tc3_signature(KEY, "2026-01-01", "hunyuan", TS, canonical) == (
        "ebe490e0738d78dae030e88a4babf816863e97778f6ed616ab13103b144586d0"
    )


@pytest.mark.parametrize(
    ("method", "query", "headers", "body", "service", "signature"),
    [
        (
            "POST",
            "",
            JSON_HEADERS,
            QUERY_BODY,
            "hunyuan",
            "ebe490e0738d78dae030e88a4babf816863e97778f6ed616ab13103b144586d0",
        ),
        (
            "POST",
            "",
            JSON_HEADERS,
            SUBMIT_BODY,
            "hunyuan",
            "c780680d99065cead53b9777f3200a09cd814f152bfda305ee88c13f54c4e813",
        ),
        (
            "GET",
            "JobId=1376862528873414656",
            FORM_HEADERS,
            b"",
            "hunyuan",
            "d0582f4bc61270618a94ceccd6975981037559a9f944c33e8648db60487f7e46",
        ),
        (
            "GET",
            "File.Url=https%3A%2F%2Fexample.com%2Fin%2Fchair.fbx&File.Type=FBX"
            "&EnableStagedGeneration=True",
            FORM_HEADERS,
            b"",
            "hunyuan",
            "a7d5b6c89dc851ac4adbebdf376c0a7e6993f88fac80fdc671fce2befdbb95da",
        ),
        (
            "POST",
            "",
            {**JSON_HEADERS, "x-tc-content-sha256": "UNSIGNED-PAYLOAD", "x-tc-token": "tok-123"},
            QUERY_BODY,
            "hunyuan",
            "b3cc7d80975ec216161a7350a3227539cd1efbd89cf072f2070069657854ba31",
        ),
        (
            "POST",
            "",
            JSON_HEADERS,
            QUERY_BODY,
            "ai3d",
            "77550c00760a6c39f6dadd331061e98d0bcb0b4682ab6eba7449c65bc18270f7",
        ),
    ],
    ids=["post-query", "post-submit", "get-query", "get-submit", "unsigned-payload", "ai3d"],
)
def test_tc3_vectors_verify(method, query, headers, body, service, signature) -> None:
    auth = parse_authorization(_auth(signature, service))
    verify_tc3(method, query, headers, body, TS, KEY, auth)
    wrong = parse_authorization(
        _auth(signature[:-1] + ("0" if signature[-1] != "0" else "1"), service)
    )
    with pytest.raises(SignatureFailure):
        verify_tc3(method, query, headers, body, TS, KEY, wrong)
    with pytest.raises(SignatureFailure):
        verify_tc3(method, query, headers, body, TS, "another-secret", auth)


def test_tc3_credential_date_must_be_the_timestamps_day() -> None:
    auth = parse_authorization(
        _auth("ebe490e0738d78dae030e88a4babf816863e97778f6ed616ab13103b144586d0")
    )
    with pytest.raises(SignatureFailure, match="date"):
        verify_tc3("POST", "", JSON_HEADERS, QUERY_BODY, str(int(TS) + 86400), KEY, auth)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (
            "HMAC-SHA1 Credential=a/b/c/tc3_request, SignedHeaders=content-type;host, Signature=x",
            "algorithm",
        ),
        (
            "TC3-HMAC-SHA256 Credential=a/b/c/other, SignedHeaders=content-type;host, Signature=x",
            "tc3_request",
        ),
        (
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=host, Signature=x",
            "content-type and host",
        ),
        (
            "TC3-HMAC-SHA256 Credential=a/b/tc3_request, "
            "SignedHeaders=content-type;host, Signature=x",
            "ID/DATE/SERVICE",
        ),
        ("TC3-HMAC-SHA256 garbage", "malformed"),
        (
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=content-type;host",
            "Signature",
        ),
    ],
)
def test_malformed_authorization_is_refused(header: str, problem: str) -> None:
    with pytest.raises(InvalidAuthorization, match=problem):
        parse_authorization(header)


LEGACY_QUERY = (
    "JobId=1376862528873414656&Action=QueryHunyuan3DPartJob&RequestClient=SDK_PYTHON_3.1.193"
    "&Nonce=1234567890&Timestamp=1767268800&Version=2023-09-01&Region=ap-singapore"
    "&SecretId=AKIDEXAMPLE&SignatureMethod=HmacSHA256&Language=en-US"
    "&Signature=3KzxN%2BPXpfX2cVdhTIL4LdbzLUka2vskrYfUXuyP%2Fq4%3D"
)


def test_legacy_get_vector() -> None:
    params = dict(parse_qsl(LEGACY_QUERY, keep_blank_values=True))
    assert legacy_string_to_sign("GET", HOST, params) == (
        "GET127.0.0.1:18931/?Action=QueryHunyuan3DPartJob&JobId=1376862528873414656"
        "&Language=en-US&Nonce=1234567890&Region=ap-singapore&RequestClient=SDK_PYTHON_3.1.193"
        "&SecretId=AKIDEXAMPLE&SignatureMethod=HmacSHA256&Timestamp=1767268800&Version=2023-09-01"
    )
    verify_legacy("GET", HOST, params, KEY)
    with pytest.raises(SignatureFailure):
        verify_legacy("GET", HOST, {**params, "JobId": "1"}, KEY)


def test_legacy_variants() -> None:
    params = dict(parse_qsl(LEGACY_QUERY, keep_blank_values=True))
    post = legacy_string_to_sign("POST", HOST, params)
    assert legacy_signature(KEY, post, "HmacSHA256") == (
        "lGUnDajfAbTf1jepBc335CZRdAYDd/pmwybKXbp7KCM="
    )
    sha1 = {**params, "SignatureMethod": "HmacSHA1"}
    assert legacy_signature(KEY, legacy_string_to_sign("GET", HOST, sha1), "HmacSHA1") == (
        "9O1l3KMnp9mQ07eyEiG9NaEq2Lo="
    )
    submit = {k: v for k, v in params.items() if k != "JobId"}
    submit.update(
        {
            "Action": "SubmitHunyuan3DPartJob",
            "File.Url": "https://example.com/in/chair.fbx",
            "File.Type": "FBX",
            "EnableStagedGeneration": "True",
        }
    )
    assert legacy_signature(KEY, legacy_string_to_sign("GET", HOST, submit), "HmacSHA256") == (
        "N1srys/dEZuoGRYwlMJ1/AdFnVbm4H+3ZaZTsB0N4LY="
    )
