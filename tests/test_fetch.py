"""Downloads end by their overall deadline even when the server trickles bytes."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from part3d.errors import Part3DError
from part3d.service import fetch


class _Trickle(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args) -> None:
        pass


def test_a_trickling_server_is_cut_off_at_the_deadline(tmp_path: Path, monkeypatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PART3D_FETCH_ALLOW", "127.0.0.0/8")
    monkeypatch.setattr(fetch, "TOTAL_TIMEOUT", 2.0)
    start = time.perf_counter()
    try:
        with pytest.raises(fetch.FetchError, match="longer than 2 s"):
            fetch.download(f"http://127.0.0.1:{server.server_address[1]}/x.fbx", tmp_path / "x")
    finally:
        server.shutdown()
    assert time.perf_counter() - start < 6
    assert issubclass(fetch.FetchError, Part3DError)
