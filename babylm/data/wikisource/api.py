"""A polite MediaWiki Action API client: one ``requests.Session``, serial requests, retries.

:class:`ApiClient` sends GET requests to ``api.php`` (JSON, ``formatversion=2``, ``maxlag``) with a
descriptive User-Agent, one at a time, waiting ``delay`` seconds after each response before the next
request. Transient trouble — timeouts, dropped or truncated responses, HTTP 5xx, 429, ``maxlag`` and
``ratelimited`` errors, bodies that are not JSON, or a caller's ``check`` rejecting the data — is retried
with exponential backoff (``backoff · 2^(try−1)`` seconds, capped at ``max_backoff``); a ``Retry-After``
header (429/503/maxlag) is honoured instead when present. After ``max_tries`` tries :class:`GaveUp` is
raised; MediaWiki errors that retrying cannot fix (``missingtitle``…) raise :class:`ApiError` at once.
Used by :mod:`babylm.data.wikisource`; reads and writes no files.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import requests

from babylm import __version__

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TRANSIENT_API_CODES = frozenset({"maxlag", "ratelimited", "readonly", "internal_api_error_DBQueryError"})
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """A MediaWiki API error that retrying will not fix; ``code`` is the API's error code."""

    def __init__(self, code: str, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info


class TransientError(Exception):
    """A failure worth retrying; ``wait`` is the server's Retry-After in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class GaveUp(Exception):
    """Raised after ``max_tries`` transient failures of one call; the message names the last one."""


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
        Raises :class:`ApiError` for a permanent API error and :class:`GaveUp` after ``max_tries``.
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
            except TransientError as error:
                if attempt == self.max_tries:
                    raise GaveUp(f"gave up after {attempt} tries: {error}") from error
                wait = self._backoff_wait(attempt, error.wait)
                self.retries += 1
                self.log.warning("retry %d/%d in %.1fs: %s (%s)", attempt, self.max_tries - 1, wait, error,
                                 _describe(params))
                self._sleep(wait)
        raise AssertionError("unreachable")

    def query_continued(self, params: Mapping[str, Any], start: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Yield each response of an ``action=query`` with continuation, passing ``continue`` back.

        ``start`` is a saved ``continue`` object to resume from. Each response carries ``batchcomplete``
        when the generator's current batch is complete.
        """
        last_continue: dict = dict(start or {})
        while True:
            data = self.get({**params, **last_continue})
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
            response = self.session.get(self.base_url, params=params, timeout=self.timeout)
            body = response.content  # read it all here: a body cut short raises now
        except requests.Timeout as error:
            raise TransientError(f"timed out after {self.timeout:g}s") from error
        except requests.RequestException as error:
            raise TransientError(f"connection problem: {type(error).__name__}: {error}") from error
        finally:
            self._next_request_at = time.monotonic() + self.delay
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code in _RETRY_STATUS:
            raise TransientError(f"HTTP {response.status_code}", retry_after)
        if response.status_code != 200:
            raise ApiError(f"http{response.status_code}", f"HTTP {response.status_code} from {self.base_url}")
        try:
            data = json.loads(body.decode(response.encoding or "utf-8"))
        except ValueError as error:
            raise TransientError(f"response is not JSON ({len(body)} bytes)") from error
        if not isinstance(data, dict):
            raise TransientError("response is not a JSON object")
        error = data.get("error")
        if isinstance(error, dict):
            code, info = str(error.get("code", "unknown")), str(error.get("info", ""))
            if code in TRANSIENT_API_CODES:
                lag_wait = retry_after if retry_after is not None else _lag_seconds(error)
                raise TransientError(f"API error {code}: {info}", lag_wait)
            raise ApiError(code, info)
        return data


def _lag_seconds(error: dict) -> float | None:
    lag = error.get("lag")
    return float(lag) if isinstance(lag, (int, float)) else None


def _describe(params: Mapping[str, Any]) -> str:
    """A short description of a call for log lines."""
    if params.get("action") == "parse":
        return f"parse {params.get('page')!r}"
    return str(params.get("action", "?"))
