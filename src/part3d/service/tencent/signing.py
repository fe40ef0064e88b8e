"""Request signatures of Tencent Cloud API 3.0, verified on the server side.

TC3-HMAC-SHA256 (API.md §3.2) and the legacy HmacSHA1/HmacSHA256 style (§3.3). Everything
works on the request as received: the raw query string, the raw body bytes, the Host header
verbatim; comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from part3d.service.tencent.errors import InvalidAuthorization, SignatureFailure

ALGORITHM = "TC3-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True)
class Tc3Authorization:
    """The parsed ``Authorization`` header of a TC3 request."""

    secret_id: str
    date: str
    service: str
    signed_headers: str
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.service}/tc3_request"


def parse_authorization(header: str) -> Tc3Authorization:
    """Parse ``TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=...,
    Signature=HEX``; raises InvalidAuthorization naming what is wrong."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise InvalidAuthorization(f"Authorization algorithm must be {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key:
            raise InvalidAuthorization("Authorization header is malformed")
        fields[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise InvalidAuthorization(f"Authorization header lacks {missing[0]}")
    credential = fields["Credential"].split("/")
    if len(credential) != 4 or not all(credential):
        raise InvalidAuthorization("Authorization Credential must be ID/DATE/SERVICE/tc3_request")
    secret_id, date, service, terminator = credential
    if terminator != "tc3_request":
        raise InvalidAuthorization("Authorization Credential must end with tc3_request")
    signed = fields["SignedHeaders"].split(";")
    if "content-type" not in signed or "host" not in signed:
        raise InvalidAuthorization("SignedHeaders must include content-type and host")
    return Tc3Authorization(secret_id, date, service, fields["SignedHeaders"], fields["Signature"])


def tc3_canonical_request(
    method: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: str,
    payload_hash: str,
    *,
    lower_values: bool = True,
) -> str:
    """The CanonicalRequest: ``headers`` maps lower-case names to values as received."""
    lines = []
    for name in signed_headers.split(";"):
        value = headers.get(name, "").strip()
        lines.append(f"{name}:{value.lower() if lower_values else value}\n")
    return "\n".join([method.upper(), "/", query, "".join(lines), signed_headers, payload_hash])


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    k_date = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k_service = hmac.new(k_date, service.encode(), hashlib.sha256).digest()
    return hmac.new(k_service, b"tc3_request", hashlib.sha256).digest()


def tc3_signature(
    secret_key: str, date: str, service: str, timestamp: str, canonical_request: str
) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, f"{date}/{service}/tc3_request", sha256_hex(canonical_request)]
    )
    key = tc3_signing_key(secret_key, date, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_payload_hash(method: str, body: bytes, headers: Mapping[str, str]) -> str:
    if headers.get("x-tc-content-sha256", "").strip() == UNSIGNED_PAYLOAD:
        return sha256_hex(UNSIGNED_PAYLOAD)
    return sha256_hex(body if method.upper() == "POST" else b"")


def verify_tc3(
    method: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    timestamp: str,
    secret_key: str,
    auth: Tc3Authorization,
) -> None:
    """Raise SignatureFailure unless ``auth`` signs this request with ``secret_key``.

    The documented form lower-cases header values; the Python SDK signs them verbatim: either
    is accepted. The scope's date must be the UTC date of ``timestamp``.
    """
    try:
        day = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        raise SignatureFailure("X-TC-Timestamp is not a Unix time") from None
    if auth.date != day:
        raise SignatureFailure(f"credential date {auth.date} is not the date of the timestamp")
    payload = tc3_payload_hash(method, body, headers)
    query = query if method.upper() == "GET" else ""
    variants = [headers]
    host = headers.get("host", "")
    bare = _without_port(host)
    if bare != host:
        # Tencent's Node.js SDK signs the host name without the port it sends (API.md §3.2).
        variants.append({**headers, "host": bare})
    for signed in variants:
        for lower in (True, False):
            canonical = tc3_canonical_request(
                method, query, signed, auth.signed_headers, payload, lower_values=lower
            )
            expected = tc3_signature(secret_key, auth.date, auth.service, timestamp, canonical)
            if hmac.compare_digest(expected, auth.signature.lower()):
                return
    raise SignatureFailure("the request signature does not match")


def _without_port(host: str) -> str:
    """``127.0.0.1:18931`` -> ``127.0.0.1``, ``[::1]:80`` -> ``[::1]``; others unchanged."""
    head, sep, port = host.rpartition(":")
    if sep and port.isdigit() and head and (not head.startswith("[") or head.endswith("]")):
        if head.count(":") and not head.startswith("["):
            return host  # a bare IPv6 address, no port
        return head
    return host


def legacy_string_to_sign(method: str, host: str, params: Mapping[str, str]) -> str:
    """``METHOD`` + Host + ``/?`` + the parameters (without Signature) sorted by name, values
    as decoded (not re-encoded)."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "Signature")
    return f"{method.upper()}{host}/?{joined}"


def legacy_signature(secret_key: str, string_to_sign: str, signature_method: str) -> str:
    digest = hashlib.sha256 if signature_method == "HmacSHA256" else hashlib.sha1
    mac = hmac.new(secret_key.encode(), string_to_sign.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def verify_legacy(method: str, host: str, params: Mapping[str, str], secret_key: str) -> None:
    """Raise SignatureFailure unless ``params["Signature"]`` signs the request."""
    expected = legacy_signature(
        secret_key,
        legacy_string_to_sign(method, host, params),
        params.get("SignatureMethod", "HmacSHA1"),
    )
    if not hmac.compare_digest(expected.encode(), params.get("Signature", "").encode()):
        raise SignatureFailure("the request signature does not match")
