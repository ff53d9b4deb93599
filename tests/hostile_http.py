"""A loopback HTTP server that misbehaves on purpose, for the download tests (no network beyond 127.0.0.1).

``serve({path: behaviour})`` yields the base URL; each path answers with one behaviour:

* ``bytes`` — a normal 200 with that body (and its Content-Length);
* ``"forever"`` — a 200 without Content-Length streaming ``x`` until the client leaves;
* ``"drip-body"`` — a 200 whose body comes one byte every 0.1 s, forever;
* ``"drip-head"`` — a status line, then the headers one byte every 0.1 s, forever;
* ``"silent"`` — reads the request and never answers;
* ``"bomb"`` — ``Content-Encoding: gzip`` of 64 MiB of zeros (64 KiB on the wire);
* ``"huge-length"`` — a 200 announcing a 1 TB body (sends nothing of it);
* ``"brotli"`` — a 200 with ``Content-Encoding: br``;
* ``("gzip", data)`` — a 200 with ``Content-Encoding: gzip`` of ``data``;
* ``("status", code)`` — that status, empty body.

Every handler loop stops when the server stops or the client goes away.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Mapping


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """64 MiB of zeros, gzip-compressed (about 64 KiB)."""
    return gzip.compress(b"\0" * (64 << 20), compresslevel=9)


@contextlib.contextmanager
def serve(routes: Mapping[str, object]) -> Iterator[str]:
    """Serve ``routes`` on 127.0.0.1 (a free port); yields ``http://127.0.0.1:<port>``. ``requested`` on the
    yielded string's server is not kept: count requests with a ``bytes`` route and a test of your own."""
    stop = threading.Event()
    if "bomb" in routes.values():
        gzip_bomb()  # made before serving (a second or two), so a client's deadline measures only the transfer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _drip(self, data: bytes) -> None:
            while not stop.is_set():
                self.wfile.write(data)
                self.wfile.flush()
                time.sleep(0.1)

        def do_GET(self):  # noqa: N802 (http.server's name)
            behaviour = routes.get(self.path.split("?")[0].rstrip("/"), ("status", 404))
            try:
                if isinstance(behaviour, bytes):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(behaviour)))
                    self.end_headers()
                    self.wfile.write(behaviour)
                elif behaviour == "forever":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    block = b"x" * (1 << 16)
                    while not stop.is_set():
                        self.wfile.write(block)
                elif behaviour == "drip-body":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self._drip(b"x")
                elif behaviour == "drip-head":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    self._drip(b"y")
                elif behaviour == "silent":
                    stop.wait(60)
                elif behaviour == "bomb":
                    body = gzip_bomb()
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif behaviour == "huge-length":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**12))
                    self.end_headers()
                    stop.wait(60)
                elif behaviour == "brotli":
                    self.send_response(200)
                    self.send_header("Content-Encoding", "br")
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"\x0b\x01\x80\x03")
                elif behaviour[0] == "gzip":
                    body = gzip.compress(behaviour[1])
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(behaviour[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
