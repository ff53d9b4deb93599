"""A polite MediaWiki Action API client: one ``requests.Session``, serial requests, retries.

:class:`ApiClient` sends GET requests to ``api.php`` (JSON, ``formatversion=2``, ``maxlag``) with a
descriptive User-Agent, one at a time, waiting ``delay`` seconds after each response before the next
request. Each request has an overall deadline of ``timeout`` seconds for its body (a server that sends
one byte every half second is given up like a silent one), and a body over :data:`MAX_BODY_BYTES` is
refused. Transient trouble — timeouts, dropped or truncated responses, HTTP 408/429/5xx, transient
MediaWiki errors (:data:`TRANSIENT_API_CODES`: ``maxlag``, ``ratelimited``, ``concurrency-limit``, pool
counter time-outs, ``internal_api_error_*``…), bodies that are not JSON (nesting too deep included), or
a caller's ``check`` rejecting the data's shape — is retried with exponential backoff
(``backoff · 2^(try−1)`` seconds, capped at ``max_backoff``); a ``Retry-After`` header (429/503/maxlag)
is honoured instead when present. After ``max_tries`` tries :class:`GaveUp` is raised; MediaWiki errors
that retrying cannot fix (``missingtitle``, HTTP 403/404…) raise :class:`ApiError` at once. Both carry
``tries``, the number of requests the call really made. Used by :mod:`babylm.data.wikisource`; reads and
writes no files.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import requests
import urllib3

from babylm import __version__
from babylm.core.safe_json import JsonError, loads

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TRANSIENT_API_CODES = frozenset({
    "maxlag", "ratelimited", "readonly", "concurrency-limit", "actionthrottledtext", "timeout",
    "pool-timeout", "pool-queuefull", "pool-servererror", "pool-errorunknown", "poolcounter-timeout",
})
"""MediaWiki error codes that mean "busy, try again" (overload, lag, PoolCounter, read-only mode);
every ``internal_api_error_*`` (a server-side exception such as ``DBQueryError``) counts too."""
MAX_BODY_BYTES = 256 << 20
"""Largest response body accepted (bytes); a bigger one is refused rather than held in memory."""
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_READ_BYTES = 1 << 16


class ApiError(Exception):
    """A MediaWiki API error that retrying will not fix; ``code`` is the API's error code, ``tries`` the
    requests made for the call (1 unless earlier tries failed transiently)."""

    def __init__(self, code: str, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info
        self.tries = 1


class TransientError(Exception):
    """A failure worth retrying; ``wait`` is the server's Retry-After in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class GaveUp(Exception):
    """Raised after ``max_tries`` transient failures of one call; the message names the last one."""

    def __init__(self, message: str, tries: int) -> None:
        super().__init__(message)
        self.tries = tries


def is_transient_code(code: str) -> bool:
    """Whether the MediaWiki error ``code`` is worth retrying (see :data:`TRANSIENT_API_CODES`)."""
    return code in TRANSIENT_API_CODES or code.startswith("internal_api_error_")


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine (a test or sample server)."""
    return urlsplit(url).hostname in LOCAL_HOSTS


def user_agent(contact: str) -> str:
    """Return the User-Agent string in Wikimedia's form: ``name/version (contact) library/version``."""
    who = f"contact: {contact}" if contact else "no contact given"
    return f"babylm-scraper/{__version__} ({who}; EB1911 corpus for research) python-requests/{requests.__version__}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the wait in seconds a ``Retry-After`` header asks for (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ApiClient:
    """Serial, rate-limited, retrying GET client for one MediaWiki ``api.php`` endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        contact: str = "",
        delay: float = 1.0,
        timeout: float = 30.0,
        max_tries: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        maxlag: int | None = 5,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Takes the API URL, the contact put in the User-Agent, the pause after each response (s), the
        per-request timeout (s), tries per call, the first backoff (s) and its cap, and ``maxlag`` (None
        leaves it out)."""
        self.base_url = base_url
        self.delay = delay
        self.timeout = timeout
        self.max_tries = max(1, max_tries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.maxlag = maxlag
        self.log = logger or logging.getLogger(__name__)
        self._sleep = sleep
        self._next_request_at = 0.0
        self.requests_sent = 0
        self.retries = 0
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent(contact), "Accept": "application/json"})
        if is_local(base_url):
            self.session.trust_env = False  # never send a request for this machine through an HTTP proxy

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def get(self, params: Mapping[str, Any], check: Callable[[dict], None] | None = None) -> dict:
        """Call the API with ``params`` and return the decoded JSON object.

        ``check(data)`` may raise :class:`TransientError` to reject a response (it is then retried).
        Raises :class:`ApiError` for a permanent API error and :class:`GaveUp` after ``max_tries``; both
        carry ``tries``.
        """
        full = {"format": "json", "formatversion": "2", **params}
        if self.maxlag is not None:
            full["maxlag"] = str(self.maxlag)
        for attempt in range(1, self.max_tries + 1):
            try:
                data = self._request_once(full)
                if check is not None:
                    check(data)
                return data
            except ApiError as error:
                error.tries = attempt
                raise
            except TransientError as error:
                if attempt == self.max_tries:
                    raise GaveUp(f"gave up after {attempt} tries: {error}", attempt) from error
                wait = self._backoff_wait(attempt, error.wait)
                self.retries += 1
                self.log.warning("retry %d/%d in %.1fs: %s (%s)", attempt, self.max_tries - 1, wait, error,
                                 _describe(params))
                self._sleep(wait)
        raise AssertionError("unreachable")

    def query_continued(self, params: Mapping[str, Any], start: Mapping[str, Any] | None = None,
                        check: Callable[[dict], None] | None = None) -> Iterator[dict]:
        """Yield each response of an ``action=query`` with continuation, passing ``continue`` back.

        ``start`` is a saved ``continue`` object to resume from; ``check`` is passed to :meth:`get` (it
        should make sure ``continue`` is an object). Each response carries ``batchcomplete`` when the
        generator's current batch is complete.
        """
        last_continue: dict = dict(start or {})
        while True:
            data = self.get({**params, **last_continue}, check)
            yield data
            if "continue" not in data:
                return
            last_continue = data["continue"]

    def _backoff_wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)

    def _request_once(self, params: dict) -> dict:
        """One HTTP request, paced by ``delay``; returns JSON or raises TransientError / ApiError."""
        pause = self._next_request_at - time.monotonic()
        if pause > 0:
            self._sleep(pause)
        self.requests_sent += 1
        try:
            response, body = self._fetch(params)
        finally:
            self._next_request_at = time.monotonic() + self.delay
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code in _RETRY_STATUS:
            raise TransientError(f"HTTP {response.status_code}", retry_after)
        if response.status_code != 200:
            raise ApiError(f"http{response.status_code}", f"HTTP {response.status_code} from {self.base_url}")
        try:
            data = loads(body)
        except JsonError as error:
            raise TransientError(f"response is {error} ({len(body)} bytes)") from error
        if not isinstance(data, dict):
            raise TransientError("response is not a JSON object")
        error = data.get("error")
        if isinstance(error, dict):
            code, info = str(error.get("code", "unknown")), str(error.get("info", ""))
            if is_transient_code(code):
                lag_wait = retry_after if retry_after is not None else _lag_seconds(error)
                raise TransientError(f"API error {code}: {info}", lag_wait)
            raise ApiError(code, info)
        return data

    def _fetch(self, params: dict) -> tuple[requests.Response, bytes]:
        """GET the API and read the whole body before the deadline; returns (response, body bytes).

        ``timeout`` bounds the connection and the wait for the headers, and then the whole body: before
        each read the socket's timeout is set to the time left, so a trickling body cannot run past it.
        """
        deadline = time.monotonic() + self.timeout
        try:
            response = self.session.get(self.base_url, params=params, timeout=self.timeout, stream=True)
        except requests.Timeout as error:
            raise TransientError(f"timed out after {self.timeout:g}s") from error
        except requests.RequestException as error:
            raise TransientError(f"connection problem: {type(error).__name__}: {error}") from error
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TransientError(f"no complete answer within {self.timeout:g}s (body still arriving)")
                _set_socket_timeout(response, left)
                chunk = response.raw.read1(_READ_BYTES, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise ApiError("toolarge", f"response body over {MAX_BODY_BYTES >> 20} MiB; not read")
        except (urllib3.exceptions.HTTPError, OSError, requests.RequestException) as error:
            if time.monotonic() >= deadline or isinstance(error, (TimeoutError, urllib3.exceptions.TimeoutError)):
                raise TransientError(f"no complete answer within {self.timeout:g}s") from error
            raise TransientError(f"connection problem while reading: {type(error).__name__}: {error}") from error
        finally:
            response.close()
        return response, b"".join(chunks)


def _set_socket_timeout(response: requests.Response, seconds: float) -> None:
    """Make the next read of ``response``'s body wait at most ``seconds`` (when the socket is reachable)."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _lag_seconds(error: dict) -> float | None:
    lag = error.get("lag")
    return float(lag) if isinstance(lag, (int, float)) else None


def _describe(params: Mapping[str, Any]) -> str:
    """A short description of a call for log lines."""
    if params.get("action") == "parse":
        return f"parse {params.get('page')!r}"
    return str(params.get("action", "?"))
