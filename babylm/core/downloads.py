"""Bounded HTTP reads: one overall deadline and one size cap (after decompression) for every download.

Every network read of the project goes through :func:`read_response`: the BLiMP download
(:mod:`babylm.evaluation.fetch`), the Wikisource API client (:mod:`babylm.data.wikisource.api`) and the W&B
reachability probe (:mod:`babylm.training.wandb_mode`). Nothing to run on its own; reads nothing from disk and writes
only through the caller's ``sink``.

The promises, each refused in one line by a :class:`DownloadError` whose ``kind`` says which:

* **Deadline** (``timeout``): connecting, the TLS handshake, the reply's head and the whole body must be done
  within ``timeout`` seconds *in all*. ``requests``' own ``timeout`` bounds each socket read only, so a server
  dripping a byte every half second (in its headers or its body) never tripped it; here a watchdog shuts the
  socket down at the deadline.
* **Size** (``too_large``): at most ``max_bytes`` bytes of body are delivered, counted *after* decompression: a
  ``Content-Length`` above it is refused before anything is read, and a body that grows past it (a stream that
  never ends, a gzip bomb) is cut off there. Compressed bodies (``Content-Encoding: gzip`` or ``deflate``, the
  only ones asked for) are inflated here with ``zlib`` in steps of at most 64 KiB, so memory stays bounded too.
* **Streaming**: the body goes to ``sink`` chunk by chunk (a file, for downloads), never held whole here.
* Anything else the server sends (``br``, a stack of encodings) is refused (``encoding``); a corrupt compressed
  body too (``corrupt``); a refused or dropped connection is ``connection``.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CHUNK_BYTES = 1 << 16
"""Bytes read from the socket, and produced by decompression, per step."""


class DownloadError(Exception):
    """A download refused or failed; ``kind`` is ``timeout``, ``too_large``, ``encoding``, ``corrupt`` or
    ``connection``; the message is one line."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    """What a GET got: HTTP ``status``, ``headers``, and ``size``, the decompressed bytes given to the sink
    (0 when the status was not 200: such a body is not read)."""

    status: int
    headers: Mapping[str, str]
    size: int


# --------------------------------------------------------------------------------------------- the watchdog
_watched = threading.local()  # .sockets: the sockets the current read_response call uses (None outside one)


def _watch(sock: socket.socket | None) -> None:
    sockets = getattr(_watched, "sockets", None)
    if sockets is not None and sock is not None:
        sockets.append(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """An urllib3 connection whose socket the watchdog of the current download can shut down."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # before the TLS handshake (in connect()), so a dripping handshake is bounded too
        return sock

    def getresponse(self, *args: Any, **kwargs: Any):
        _watch(self.sock)  # a kept-alive connection made by an earlier download
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """``requests``' adapter with the watched connection classes (direct and through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any):
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine (a test or sample server: never through a proxy)."""
    return urlsplit(url).hostname in LOCAL_HOSTS


def open_session(user_agent: str, *, accept: str = "*/*", trust_env: bool = True) -> requests.Session:
    """A ``requests.Session`` for :func:`read_response`: watched connections, ``user_agent``, gzip/deflate only.

    ``trust_env`` False ignores proxy settings (for this machine's own servers)."""
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"})
    session.trust_env = trust_env
    return session


def _shut_down(sockets: list[socket.socket], fired: threading.Event) -> None:
    fired.set()
    for sock in list(sockets):
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv at once
        except OSError:
            pass


# ------------------------------------------------------------------------------------------- the reading
class _Inflater:
    """Content-Encoding → bounded decompression (``identity``, ``gzip`` with any number of members, ``deflate`` with
    or without its zlib wrapper, as servers differ)."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding.strip().lower()
        if self.encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise DownloadError(f"{url}: the server sent Content-Encoding {encoding!r}, which is not supported "
                                "(only gzip and deflate are asked for)", "encoding")
        self.url = url
        self.started = False
        self.decoder = None if self.encoding in ("", "identity") else \
            zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in self.encoding else zlib.MAX_WBITS)

    def _corrupt(self, error: zlib.error) -> DownloadError:
        return DownloadError(f"{self.url}: the {self.encoding} body is corrupt ({error})", "corrupt")

    def feed(self, data: bytes):
        """Yield the decompressed bytes of ``data``, at most :data:`CHUNK_BYTES` at a time."""
        if self.decoder is None:
            yield data
            return
        while data:
            try:
                out = self.decoder.decompress(data, CHUNK_BYTES)
            except zlib.error as error:
                if self.encoding != "deflate" or self.started:
                    raise self._corrupt(error) from None
                self.decoder, self.started = zlib.decompressobj(-zlib.MAX_WBITS), True  # raw deflate: try once more
                continue
            self.started = True
            data = self.decoder.unconsumed_tail
            if out:
                yield out
            if self.decoder.eof:
                data = self.decoder.unused_data + data
                if "gzip" not in self.encoding or not data.strip(b"\0"):
                    return
                self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member

    def finish(self):
        """Yield what the decoder still holds; refuses a compressed body cut short."""
        if self.decoder is None:
            return
        try:
            while out := self.decoder.flush(CHUNK_BYTES):
                yield out
        except zlib.error as error:
            raise self._corrupt(error) from None
        if not self.decoder.eof:
            raise DownloadError(f"{self.url}: the {self.encoding} body ends before its end marker (truncated)",
                                "corrupt")


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size:,} bytes"


def read_response(session: requests.Session, url: str, *, timeout: float, max_bytes: int,
                  sink: Callable[[bytes], None] | None = None, params: Mapping[str, Any] | None = None) -> Reply:
    """GET ``url`` (with ``params``) and give its body to ``sink`` within ``timeout`` seconds and ``max_bytes`` bytes.

    The deadline covers the whole exchange (see the module docstring); ``max_bytes`` counts decompressed bytes.
    The body of a reply whose status is not 200 is not read (``Reply.size`` is 0); ``sink`` None reads only the
    head. Raises :class:`DownloadError` (one line, ``kind`` says which promise was broken). ``session`` must
    come from :func:`open_session` for the deadline to cover the reply's head.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86_400:
        raise ValueError(f"timeout must be a number of seconds above 0 and at most 86400, got {timeout!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be an integer of 0 or more, got {max_bytes!r}")
    deadline = time.monotonic() + timeout
    sockets: list[socket.socket] = []
    fired = threading.Event()
    watchdog = threading.Timer(timeout, _shut_down, (sockets, fired))
    watchdog.daemon = True
    _watched.sockets = sockets
    watchdog.start()
    late = f"{url}: no complete answer within {timeout:g} s"
    try:
        try:
            response = session.get(url, params=params, timeout=(timeout, timeout), stream=True)
        except requests.Timeout:
            raise DownloadError(late, "timeout") from None
        except requests.RequestException as error:
            if fired.is_set():
                raise DownloadError(late, "timeout") from None
            raise DownloadError(f"{url}: cannot connect ({type(error).__name__})", "connection") from None
        with response:
            if fired.is_set():  # the head was cut off at the deadline (what arrived may even parse)
                raise DownloadError(late, "timeout")
            if response.status_code != 200 or sink is None:
                return Reply(response.status_code, response.headers, 0)
            return Reply(response.status_code, response.headers,
                         _read_body(response, url, max_bytes, sink, deadline, fired, late))
    finally:
        watchdog.cancel()
        _watched.sockets = None


def _read_body(response: requests.Response, url: str, max_bytes: int, sink: Callable[[bytes], None], deadline: float,
               fired: threading.Event, late: str) -> int:
    """Stream ``response``'s body through bounded decompression into ``sink``; returns the decompressed size."""
    too_large = f"{url}: the answer is larger than {_megabytes(max_bytes)}"
    length = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "")
    identity = encoding.strip().lower() in ("", "identity")
    if length.isascii() and length.isdigit() and identity and int(length) > max_bytes:
        raise DownloadError(f"{too_large} (Content-Length {_megabytes(int(length))}); refused", "too_large")
    inflater = _Inflater(encoding, url)
    size = 0
    try:
        while True:
            if time.monotonic() >= deadline:
                raise DownloadError(late + " (body still arriving)", "timeout")
            data = response.raw.read1(CHUNK_BYTES, decode_content=False)
            if fired.is_set():  # the watchdog shut the socket: what looks like the end of the body is the deadline
                raise DownloadError(late + " (body still arriving)", "timeout")
            pieces = inflater.feed(data) if data else inflater.finish()
            for piece in pieces:
                size += len(piece)
                if size > max_bytes:
                    raise DownloadError(too_large + (" once decompressed" if inflater.decoder is not None else "")
                                        + "; refused", "too_large")
                sink(piece)
            if not data:
                return size
    except DownloadError:
        raise
    except (urllib3.exceptions.HTTPError, OSError, requests.RequestException) as error:
        timed_out = isinstance(error, (TimeoutError, urllib3.exceptions.TimeoutError))
        if fired.is_set() or time.monotonic() >= deadline or timed_out:
            raise DownloadError(late + " (body still arriving)", "timeout") from None
        raise DownloadError(f"{url}: the connection broke while reading ({type(error).__name__})",
                            "connection") from None


def read_bytes(session: requests.Session, url: str, *, timeout: float, max_bytes: int,
               params: Mapping[str, Any] | None = None) -> tuple[Reply, bytes]:
    """:func:`read_response` into memory: returns the reply and its (decompressed) body."""
    chunks: list[bytes] = []
    reply = read_response(session, url, timeout=timeout, max_bytes=max_bytes, sink=chunks.append, params=params)
    return reply, b"".join(chunks)
