"""A polite MediaWiki Action API client: one ``requests.Session``, serial requests, retries.

:class:`ApiClient` sends GET requests to ``api.php`` (JSON, ``formatversion=2``, ``maxlag``) with a
descriptive User-Agent, one at a time, waiting ``delay`` seconds after each response before the next
request. Each request has an overall deadline of ``timeout`` seconds, head and body (a server that sends
one byte every half second is given up like a silent one), and a body over :data:`MAX_BODY_BYTES` (counted
after decompression) is refused: both through :mod:`babylm.core.downloads`, the project's one reader of
network replies. Transient trouble — timeouts, dropped or truncated responses, HTTP 408/429/5xx, transient
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

import requests

from babylm import __version__
from babylm.core.downloads import LOCAL_HOSTS, DownloadError, Reply, is_local, open_session, read_bytes  # noqa: F401
from babylm.core.safe_json import JsonError, loads

TRANSIENT_API_CODES = frozenset({
    "maxlag", "ratelimited", "readonly", "concurrency-limit", "actionthrottledtext", "timeout",
    "pool-timeout", "pool-queuefull", "pool-servererror", "pool-errorunknown", "poolcounter-timeout",
})
"""MediaWiki error codes that mean "busy, try again" (overload, lag, PoolCounter, read-only mode);
every ``internal_api_error_*`` (a server-side exception such as ``DBQueryError``) counts too."""
MAX_BODY_BYTES = 256 << 20
"""Largest response body accepted (bytes); a bigger one is refused rather than held in memory."""
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


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
        # never send a request for this machine through an HTTP proxy
        self.session = open_session(user_agent(contact), accept="application/json", trust_env=not is_local(base_url))

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
            reply, body = self._fetch(params)
        finally:
            self._next_request_at = time.monotonic() + self.delay
        retry_after = parse_retry_after(reply.headers.get("Retry-After"))
        if reply.status in _RETRY_STATUS:
            raise TransientError(f"HTTP {reply.status}", retry_after)
        if reply.status != 200:
            raise ApiError(f"http{reply.status}", f"HTTP {reply.status} from {self.base_url}")
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

    def _fetch(self, params: dict) -> tuple[Reply, bytes]:
        """GET the API and read the whole body before the deadline; returns (reply, body bytes).

        :func:`babylm.core.downloads.read_bytes` bounds the whole exchange by ``timeout`` (connection, the reply's
        head and body, however slowly they trickle in) and the body by :data:`MAX_BODY_BYTES` after decompression.
        """
        try:
            return read_bytes(self.session, self.base_url, params=params, timeout=self.timeout,
                              max_bytes=MAX_BODY_BYTES)
        except DownloadError as error:
            if error.kind == "too_large":
                raise ApiError("toolarge", f"response body over {MAX_BODY_BYTES >> 20} MiB; not read") from error
            if error.kind == "encoding":
                raise ApiError("badencoding", str(error)) from error
            if error.kind == "timeout":
                raise TransientError(f"no complete answer within {self.timeout:g}s") from error
            raise TransientError(f"connection problem: {error}") from error


def _lag_seconds(error: dict) -> float | None:
    lag = error.get("lag")
    return float(lag) if isinstance(lag, (int, float)) else None


def _describe(params: Mapping[str, Any]) -> str:
    """A short description of a call for log lines."""
    if params.get("action") == "parse":
        return f"parse {params.get('page')!r}"
    return str(params.get("action", "?"))
