"""Downloading a job's input (File.Url) safely: http/https only, a size cap enforced while
streaming, connect and total timeouts, at most 5 redirects (each hop checked again), and no
private, loopback or link-local address unless PART3D_FETCH_ALLOW lists its range."""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from part3d.errors import Part3DError

MAX_BYTES = 200 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 300.0


class FetchError(Part3DError):
    """The input could not be downloaded; the message says why, in one line."""

    code = "InvalidParameterValue"


def _allowed_networks() -> list:
    spec = os.environ.get("PART3D_FETCH_ALLOW", "")
    nets = []
    for part in spec.replace(";", ",").split(","):
        if part.strip():
            nets.append(ipaddress.ip_network(part.strip(), strict=False))
    return nets


def _check_host(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve host {host!r} ({exc.strerror})") from None
    allowed = _allowed_networks()
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if any(ip in net for net in allowed):
            continue
        if (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or (ip.is_multicast or ip.is_unspecified)
        ):
            raise FetchError(
                f"address {ip} of host {host!r} is private, loopback or link-local and is refused"
            )


def download(url: str, dest: Path, max_bytes: int = MAX_BYTES) -> int:
    """Download ``url`` to ``dest``; returns the byte count. Raises FetchError."""
    deadline = time.monotonic() + TOTAL_TIMEOUT
    session = requests.Session()
    session.trust_env = False
    for _ in range(MAX_REDIRECTS + 1):
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise FetchError(f"not a valid URL: {url[:200]!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"only http and https URLs can be downloaded, not {url[:200]!r}")
        _check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80))
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, CONNECT_TIMEOUT * 3),
            )
        except requests.RequestException as exc:
            raise FetchError(f"download failed: {type(exc).__name__}") from None
        if response.is_redirect:
            location = response.headers.get("location", "")
            response.close()
            url = urljoin(url, location)
            continue
        if response.status_code != 200:
            response.close()
            raise FetchError(f"download failed: HTTP {response.status_code} from {parts.hostname}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            response.close()
            raise FetchError(f"the file is {int(declared)} bytes, over the {max_bytes} byte limit")
        size = 0
        # A server trickling one byte at a time restarts the read timeout with every byte:
        # read1 returns whatever each receive brings, so the overall deadline is checked
        # after every receive, however small.
        try:
            with dest.open("wb") as f:
                while True:
                    if time.monotonic() > deadline:
                        raise FetchError(f"download took longer than {TOTAL_TIMEOUT:.0f} s")
                    chunk = response.raw.read1(1 << 16, decode_content=True)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"the file is over the {max_bytes} byte limit")
                    f.write(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"download failed: {type(exc).__name__}") from None
        finally:
            response.close()
        return size
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
