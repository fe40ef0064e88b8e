"""The HTTP protocol of ``part3d serve``: uvicorn's httptools protocol with the limits it lacks.

A request's head (request line and headers) may take at most ``MAX_HEAD_BYTES`` bytes and
``MAX_HEADERS`` headers, and must arrive within ``HEAD_TIMEOUT`` seconds of its first byte (or
of the connection): a client that sends 16 MiB of headers gets ``431`` and a closed connection;
one that trickles its headers (slowloris) is dropped. Bodies are bounded in size and time by
the front door (``app._read_body``).
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
HEAD_TIMEOUT = float(os.environ.get("PART3D_HEAD_TIMEOUT", "10"))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        self._head_timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, b"Request Timeout", b"the request head took too long")

    def _refuse(self, code: int, reason: bytes, message: bytes) -> None:
        self._in_head = False
        self._cancel_head_timer()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (code, reason, len(message), message)
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # The head may end inside this chunk with body bytes after it: only a head that has
        # not ended once the parser has seen the chunk is refused.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(431, b"Request Header Fields Too Large", b"request headers are too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:
            # The next request on a kept-alive connection: a new head, a new deadline.
            self._in_head = True
            self._head_bytes = 0
            self._header_count = 0
            self._cancel_head_timer()
            self._head_timer = asyncio.get_running_loop().call_later(
                HEAD_TIMEOUT, self._head_expired
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            if not self.transport.is_closing():
                self._refuse(431, b"Request Header Fields Too Large", b"too many headers")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing() or self.cycle is None:
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing() or self.cycle is None:
            return
        super().on_message_complete()
