"""Progress of a scrape run: the ``progress.json`` state file and the terminal progress bar.

:class:`Progress` keeps what must survive a restart besides the article files themselves — failed titles
(with tries and last error) and skipped titles (with the reason) — and writes them atomically together
with the run's counts, rate and ETA. :class:`ProgressBar` draws ``done/total``, articles per minute and
the ETA on a terminal (a plain line every 30 s when the output is not a terminal). Used by
:mod:`babylm.data.wikisource`; reads and writes ``<out>/progress.json``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from babylm.core.atomic import atomic_write_json
from babylm.core.safe_json import JsonError, read_json


class ProgressFileError(Exception):
    """``progress.json`` exists but cannot be read; the message says what to do."""


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Progress:
    """``progress.json``: counts, rate and ETA, plus failed and skipped titles that must survive a restart."""

    def __init__(self, path: Path, base_url: str) -> None:
        self.path = path
        self.base_url = base_url
        self.failed: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}
        if path.exists():
            try:
                self.failed, self.skipped = _read_records(path)
            except JsonError as error:
                raise ProgressFileError(f"{error}; delete it to start the counts afresh") from None
        self.started = time.monotonic()
        self.started_at = utc_now()

    def save(self, **counts) -> None:
        """Write the counts given plus the failed/skipped records, atomically."""
        atomic_write_json(self.path, {
            "base_url": self.base_url,
            "started": self.started_at,
            "updated": utc_now(),
            **counts,
            "failed_titles": self.failed,
            "skipped_titles": self.skipped,
        })


def _read_records(path: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """The failed and skipped records of a ``progress.json``; raises JsonError naming the bad part."""
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise JsonError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    failed, skipped = raw.get("failed_titles", {}), raw.get("skipped_titles", {})
    if not isinstance(failed, dict) or not all(
        isinstance(record, dict) and type(record.get("tries", 0)) is int and record.get("tries", 0) >= 0
        and isinstance(record.get("error", ""), str) for record in failed.values()
    ):
        raise JsonError(f"{path}: field 'failed_titles' is not a map of title to {{tries, error, at}}")
    if not isinstance(skipped, dict) or not all(isinstance(reason, str) for reason in skipped.values()):
        raise JsonError(f"{path}: field 'skipped_titles' is not a map of title to reason")
    return dict(failed), dict(skipped)


class ProgressBar:
    """A one-line progress display on a terminal (plain lines every 30 s otherwise): count, rate, ETA."""

    def __init__(self, total: int, already: int, stream: IO[str] | None) -> None:
        self.total, self.already, self.stream = total, already, stream
        self.started = time.monotonic()
        self.last_line = 0.0
        self.tty = bool(stream and stream.isatty())

    def rate_per_min(self, done: int) -> float:
        """Articles per minute finished by this run."""
        elapsed = time.monotonic() - self.started
        return 60.0 * (done - self.already) / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self, done: int) -> float | None:
        """Seconds left at the current rate, or None before the first article."""
        rate = self.rate_per_min(done)
        return 60.0 * (self.total - done) / rate if rate > 0 else None

    def update(self, done: int, failed: int, final: bool = False) -> None:
        """Redraw the bar for ``done`` of ``total`` articles, ``failed`` failures."""
        if self.stream is None:
            return
        now = time.monotonic()
        if not (self.tty or final or now - self.last_line >= 30):
            return
        self.last_line = now
        width = 24
        filled = int(width * done / self.total) if self.total else width
        eta = self.eta_seconds(done)
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta is not None else "--:--:--"
        line = (f"scrape [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                f"{self.rate_per_min(done):.1f} art/min ETA {eta_text} failed {failed}")
        self.stream.write(("\r" + line + ("\n" if final else "")) if self.tty else line + "\n")
        self.stream.flush()
