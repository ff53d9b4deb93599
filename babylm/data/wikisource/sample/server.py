"""A local stand-in for Wikisource: the bundled sample served in the MediaWiki Action API's shape.

A real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0 = any free port) answering
``GET /w/api.php`` like MediaWiki (``formatversion=2``): page enumeration with continuation
(``list=allpages``, ``generator=allpages`` with ``prop=templates|info`` and ``redirects``), and
``action=parse`` with Wikisource-like HTML, listing pages and ``missingtitle`` errors — the API logic is
:mod:`babylm.data.wikisource.sample.api`, the pages :mod:`babylm.data.wikisource.sample.wiki`.

Faults (:class:`Faults`) are queued per page title (parse requests) or for query requests, each consumed by
one request: ``429`` / ``503`` (with ``Retry-After``), ``500``, ``403``, ``404``, ``maxlag`` (API error +
``Retry-After``), ``concurrency-limit`` (the API error Wikimedia's PoolCounter gives), ``hang`` (no answer;
the client must time out), ``drip`` (the body sent one byte every ``drip_seconds``), ``truncated-body``
(connection closed mid-body), ``not-json``, ``deep-json`` (``[`` × 200000), ``v1-shape`` (the
``formatversion=1`` layout: ``pages`` a dict keyed by page id, ``text`` a ``{"*": html}`` object),
``no-title`` (a page or parse result without ``title``), ``query-list`` (``query`` is a list),
``truncated-html`` / ``malformed-html`` (valid JSON, damaged HTML), ``huge-text`` (a paragraph of one
10.5 MB text node appended to the page), ``missing`` (the page vanished), ``redirect:NAME`` (the page now
redirects to NAME), ``double-redirect:NAME`` (the page redirects to NAME, which redirects back: the parse
is NAME's redirect notice) and ``none`` (this request goes through). ``latency`` delays every answer.

Use :func:`serve_sample` (yields the api.php URL) or :class:`SampleServer` (also exposes the request log).
``python -m babylm.data.wikisource.sample.server --port 8765`` serves the sample until Ctrl-C. Reads the sample
files; writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

from babylm.core.arguments import CommandParser, port, seconds
from babylm.data.wikisource.sample.api import ApiReply, MediaWikiEmulator, api_error
from babylm.data.wikisource.sample.wiki import PREFIX, SampleWiki, load_sample

API_PATH = "/w/api.php"
FAULT_KINDS = ("none", "429", "503", "500", "403", "404", "maxlag", "concurrency-limit", "hang", "drip",
               "truncated-body", "not-json", "deep-json", "v1-shape", "no-title", "query-list", "truncated-html",
               "malformed-html", "huge-text", "missing")
_NAMED_FAULTS = ("redirect:", "double-redirect:")


@dataclass
class Faults:
    """Faults to inject: ``parse`` maps a page title (full, or without the prefix) to the faults its next
    parse requests get, one each; ``query`` lists faults for the next ``action=query`` requests."""

    parse: dict[str, list[str]] = field(default_factory=dict)
    query: list[str] = field(default_factory=list)
    retry_after: int = 1
    hang_seconds: float = 30.0
    drip_seconds: float = 0.5

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        for fault in [*self.query, *(f for faults in self.parse.values() for f in faults)]:
            if fault not in FAULT_KINDS and not fault.startswith(_NAMED_FAULTS):
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULT_KINDS)}, redirect:NAME, "
                                 "double-redirect:NAME")

    def take(self, action: str, title: str = "") -> str | None:
        """Pop the next fault for a request (``action`` = query or parse, ``title`` for parse); ``"none"``
        in a queue lets one request through unharmed."""
        fault = None
        with self._lock:
            if action == "query":
                fault = self.query.pop(0) if self.query else None
            else:
                for key in (title, title[len(PREFIX):] if title.startswith(PREFIX) else None):
                    if key is not None and self.parse.get(key):
                        fault = self.parse[key].pop(0)
                        break
        return None if fault == "none" else fault


@dataclass
class RequestRecord:
    """One request as the server saw it: arrival time (monotonic), query parameters, User-Agent, fault."""

    at: float
    params: dict[str, str]
    user_agent: str
    fault: str | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    server: "_HTTPServer"

    def log_message(self, format, *args) -> None:  # noqa: A002 (stdlib signature) — keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        """Answer one API request, after the latency and with the next queued fault, and log it."""
        owner = self.server.owner
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with owner.track():
            time.sleep(owner.latency)
            if url.path != API_PATH:
                self._send(404, b"<html><body>Not found. The API is at /w/api.php</body></html>", "text/html")
                return
            action = params.get("action", "")
            title = params.get("page", "").replace("_", " ")
            fault = owner.faults.take("parse" if action == "parse" else "query", title)
            owner.record(RequestRecord(time.monotonic(), params, self.headers.get("User-Agent", ""), fault))
            self._answer(owner, params, fault)

    def _answer(self, owner: "SampleServer", params: dict[str, str], fault: str | None) -> None:
        retry = {"Retry-After": str(owner.faults.retry_after)}
        if fault == "hang":
            owner.stopping.wait(owner.faults.hang_seconds)
            self.close_connection = True
            return
        if fault in ("429", "503", "500", "403", "404"):
            headers = retry if fault in ("429", "503") else {}
            self._send(int(fault), f"<html><body>Error {fault}</body></html>".encode(), "text/html", headers)
            return
        if fault == "not-json":
            self._send(200, b"<html><body>Upstream proxy error</body></html>", "text/html")
            return
        if fault == "deep-json":
            self._send(200, b"[" * 200_000, "application/json; charset=utf-8")
            return
        if fault == "query-list":
            self._send_json({"batchcomplete": True, "query": [{"title": "x"}]})
            return
        if fault == "maxlag":
            body = api_error("maxlag", "Waiting for db1: 7 seconds lagged.")
            body["error"].update(host="db1", lag=7)
            self._send_json(body, {**retry, "X-Database-Lag": "7"})
            return
        if fault == "concurrency-limit":
            self._send_json(api_error("concurrency-limit", "You have exceeded your concurrency limit."))
            return
        host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        try:
            if params.get("action") == "parse":
                body = owner.api.parse(params, host, fault) if params.get("formatversion") == "2" \
                    else owner.api.answer(params, host)
            else:
                body = owner.api.answer(params, host)
        except ApiReply as reply:
            self._send_json(reply.body, reply.headers, reply.status)
            return
        body = _reshape(body, fault)
        if fault == "drip":
            self._drip(json.dumps(body, ensure_ascii=False).encode("utf-8"), owner)
            return
        if fault == "truncated-body":
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send_json(body)

    def _drip(self, payload: bytes, owner: "SampleServer") -> None:
        """Send ``payload`` one byte every ``drip_seconds`` (until done, the client leaves or the server stops)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            for index in range(len(payload)):
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
                if owner.stopping.wait(owner.faults.drip_seconds):
                    break
        except OSError:  # the client gave up and closed the connection
            pass
        self.close_connection = True

    def _send_json(self, body, headers: dict[str, str] | None = None, status: int = 200) -> None:
        headers = dict(headers or {})
        if isinstance(body, dict) and "error" in body:
            headers.setdefault("MediaWiki-API-Error", body["error"]["code"])
        self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8", headers)

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _reshape(body: dict, fault: str | None) -> dict:
    """Apply the shape faults (``v1-shape``, ``no-title``) to an answer; other answers come back as they are."""
    query, parse = body.get("query"), body.get("parse")
    if fault == "v1-shape":
        if isinstance(query, dict) and isinstance(query.get("pages"), list):
            query["pages"] = {str(page.get("pageid", -1 - i)): page for i, page in enumerate(query["pages"])}
        if isinstance(parse, dict) and "text" in parse:
            parse["text"] = {"*": parse["text"]}
    elif fault == "no-title":
        for page in (query or {}).get("pages", [])[:1]:
            page.pop("title", None)
        if isinstance(parse, dict):
            parse.pop("title", None)
    return body


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: "SampleServer"


class SampleServer:
    """The sample wiki on a real local HTTP server; a context manager. ``api_url`` is the api.php URL,
    ``requests`` the log of requests served, ``max_in_flight`` the most requests handled at once."""

    def __init__(self, *, latency: float = 0.0, faults: Faults | None = None, wiki: SampleWiki | None = None,
                 max_limit: int = 500, host: str = "127.0.0.1", port: int = 0) -> None:
        """Takes the delay added to every answer (s), the faults to inject, the wiki (default: the bundled
        sample), the value ``max`` stands for in ``*limit`` parameters, and where to listen."""
        self.latency = latency
        self.faults = faults or Faults()
        self.api = MediaWikiEmulator(wiki or load_sample(), max_limit=max_limit)
        self.requests: list[RequestRecord] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/w/api.php``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{API_PATH}"

    def record(self, entry: RequestRecord) -> None:
        """Append to the request log (thread-safe)."""
        with self._lock:
            self.requests.append(entry)

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count a request as in flight while the block runs."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def start(self) -> "SampleServer":
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sample-wikisource", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and close the socket."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> "SampleServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def serve_sample(latency: float = 0.0, faults: Faults | None = None, **kwargs) -> Iterator[str]:
    """Serve the bundled sample on 127.0.0.1 for the duration of the block; yields the api.php URL.

    ``latency`` (s) delays every answer; ``faults`` injects errors; other keywords go to :class:`SampleServer`.
    """
    with SampleServer(latency=latency, faults=faults, **kwargs) as server:
        yield server.api_url


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the sample until interrupted (``--port``, ``--latency``); returns an exit code."""
    parser = CommandParser(prog="python -m babylm.data.wikisource.sample",
                                     description="Serve the bundled EB1911-style sample like Wikisource's API.")
    parser.add_argument("--port", type=port, default=0, help="port on 127.0.0.1, 0 … 65535 (default: 0, any free port)")
    parser.add_argument("--latency", type=seconds, default=0.0, help="seconds added to every answer")
    args = parser.parse_args(argv)
    try:
        server = SampleServer(latency=args.latency, port=args.port).start()
    except OSError as error:
        print(f"sample_server: error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}")
        return 2
    print(f"serving the sample wiki at {server.api_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
