"""Scrape stage: EB1911 articles from Wikisource into ``data/britannica_data/``.

Run ``python -m babylm.data.wikisource --help`` (or ``python scripts/scrape.py --help``). Steps:

1. **discover** the articles (:mod:`babylm.data.wikisource.catalogue`: one ``allpages`` query with the
   transcluded scan pages, so each article's volume and part are known before anything is downloaded);
2. **download** each selected article's rendered HTML with ``action=parse`` through the polite client of
   :mod:`babylm.data.wikisource.api`, extract its prose (:mod:`babylm.data.wikisource.html`) and write
   ``<out>/volume_VV/part_PP/<stem>.json`` = ``{url, title, content, timestamp}`` atomically.

Writes ``<out>/discovery.json`` (catalogue + discovery resume point), ``<out>/progress.json`` (counts,
rate, ETA, failed and skipped titles; rewritten atomically after every article), ``<out>/scraper.log``
(appended) and, while running, the lock file ``<out>/.articles.lock`` (shared with the offline ingests: one
writer per article tree; a tree an ingest wrote is refused). An article is done when its JSON
file exists; a run killed at any moment (SIGKILL included) is simply started again. Articles that failed
``--max-tries`` times are recorded and retried by the next run (unless ``--skip-failed``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlsplit

from babylm.core.arguments import MAX_SECONDS, CommandParser, int_in_range, positive_int, positive_seconds, seconds
from babylm.data.article_tree import TreeError, writing
from babylm.data.articles import write_article
from babylm.data.wikisource.api import ApiClient, ApiError, GaveUp, TransientError, is_local
from babylm.data.wikisource.catalogue import PREFIX, Article, Catalogue, CatalogueError, discover
from babylm.data.wikisource.html import HtmlError, extract_prose, looks_truncated, redirect_target
from babylm.data.wikisource.progress import Progress, ProgressBar, ProgressFileError, utc_now
from babylm.data.wikisource.sample.server import serve_sample

DEFAULT_BASE_URL = "https://en.wikisource.org/w/api.php"
DEFAULT_OUT = "data/britannica_data"
PARSE_PARAMS = {
    "action": "parse",
    "prop": "text",
    "redirects": "1",
    "disableeditsection": "1",
    "disablelimitreport": "1",
    "disabletoc": "1",
}
LOGGER_NAME = "babylm.scrape"
GONE_CODES = frozenset({"missingtitle", "invalidtitle", "nosuchpageid", "pagecannotexist"})
"""API errors meaning the page is gone: recorded as skipped, not retried (other API errors count as failures)."""


class ScrapeError(Exception):
    """A problem the user can fix (bad option, unusable output folder…); printed as one line."""


@dataclass
class ScrapeOptions:
    """Everything one scrape run needs; the command line maps onto it one to one."""

    base_url: str = DEFAULT_BASE_URL
    out: Path = Path(DEFAULT_OUT)
    limit: int | None = None
    volumes: frozenset[int] | None = None
    delay: float = 1.0
    max_tries: int = 5
    timeout: float = 30.0
    backoff: float = 2.0
    maxlag: int = 5
    contact: str = ""
    skip_failed: bool = False
    rediscover: bool = False
    max_consecutive_failures: int = 25
    quiet: bool = False


@dataclass
class ScrapeResult:
    """What a run ended with: counts over the selected articles, and whether it stopped early."""

    selected: int = 0
    done: int = 0
    downloaded: int = 0
    failed: int = 0
    skipped: int = 0
    aborted: bool = False
    failed_titles: dict[str, dict] = field(default_factory=dict)


def scrape(options: ScrapeOptions) -> ScrapeResult:
    """Discover, then download every selected article not yet on disk; returns the run's counts.

    Raises :class:`ScrapeError` for problems the user must fix, and the client's GaveUp/ApiError when
    discovery itself fails.
    """
    out = _prepare_out(options.out)
    with _locked(out), _file_logger(out / "scraper.log") as log:
        log.info("run: base_url=%s limit=%s volumes=%s delay=%gs", options.base_url, options.limit,
                 sorted(options.volumes) if options.volumes else "all", options.delay)
        client = ApiClient(options.base_url, contact=options.contact, delay=options.delay,
                           timeout=options.timeout, max_tries=options.max_tries, backoff=options.backoff,
                           maxlag=options.maxlag, logger=log)
        try:
            try:
                catalogue = discover(client, out / "discovery.json", options.base_url,
                                     rediscover=options.rediscover, log=log)
            except CatalogueError as error:
                raise ScrapeError(str(error)) from error
            except (GaveUp, ApiError) as error:
                log.error("discovery failed: %s", error)
                raise
            try:
                progress = Progress(out / "progress.json", options.base_url)
            except ProgressFileError as error:
                raise ScrapeError(str(error)) from error
            return _download_all(client, catalogue, progress, options, out, log)
        finally:
            log.info("run end: %d requests, %d retries", client.requests_sent, client.retries)
            client.close()


def select_articles(catalogue: Catalogue, volumes: frozenset[int] | None, limit: int | None) -> list[Article]:
    """The articles a run is about: book order, only ``volumes`` if given, the first ``limit`` if given."""
    chosen = [a for a in catalogue.ordered() if volumes is None or a.volume in volumes]
    return chosen[:limit] if limit is not None else chosen


def _download_all(client: ApiClient, catalogue: Catalogue, progress: Progress, options: ScrapeOptions, out: Path,
                  log: logging.Logger) -> ScrapeResult:
    """Download the selected articles not yet on disk, recording each outcome in ``progress``."""
    selected = select_articles(catalogue, options.volumes, options.limit)
    selected_titles = {a.title for a in selected}
    by_title = {article.title: article for article in catalogue.articles.values()}
    done = {a.title for a in selected if (out / a.path).is_file()}
    skipped = {a.title for a in selected if a.title in progress.skipped and a.title not in done}
    for title in done & set(progress.failed):  # finished by a run killed before it could clear the record
        del progress.failed[title]
    result = ScrapeResult(selected=len(selected), done=len(done), skipped=len(skipped))
    bar = ProgressBar(len(selected), len(done) + len(skipped), None if options.quiet else sys.stderr)

    def save() -> None:
        finished = result.done + result.skipped
        progress.save(discovered=len(catalogue.articles), selected=result.selected, done=result.done,
                      failed=len(selected_titles & set(progress.failed)), skipped=result.skipped,
                      pending=result.selected - finished, rate_per_min=round(bar.rate_per_min(finished), 2),
                      eta_seconds=_round(bar.eta_seconds(finished)), requests=client.requests_sent,
                      retries=client.retries)

    save()
    consecutive_failures = 0
    for article in selected:
        if article.title in done or article.title in skipped:
            continue
        if options.skip_failed and article.title in progress.failed:
            continue
        outcome = _download_one(client, article, out / article.path, by_title, log)
        if outcome.kind == "failed":
            tries = progress.failed.get(article.title, {}).get("tries", 0) + outcome.tries
            progress.failed[article.title] = {"tries": tries, "error": outcome.message, "at": utc_now()}
            consecutive_failures += 1
        else:
            progress.failed.pop(article.title, None)
            consecutive_failures = 0
            if outcome.kind == "done":
                result.done += 1
                result.downloaded += 1
            else:
                progress.skipped[article.title] = outcome.message
                result.skipped += 1
        save()
        bar.update(result.done + result.skipped, len(progress.failed))
        if consecutive_failures >= options.max_consecutive_failures:
            log.error("stopping: %d articles in a row failed; the server may be down", consecutive_failures)
            result.aborted = True
            break
    result.failed_titles = {t: v for t, v in progress.failed.items() if t in selected_titles}
    result.failed = len(result.failed_titles)
    save()
    bar.update(result.done + result.skipped, result.failed, final=True)
    log.info("summary: %d selected, %d done (%d this run), %d failed, %d skipped", result.selected,
             result.done, result.downloaded, result.failed, result.skipped)
    return result


@dataclass
class _Outcome:
    kind: str  # "done", "skipped" or "failed"
    message: str = ""
    tries: int = 1  # requests made for the article


def _reject_bad_parse(data: dict) -> None:
    """``check`` for parse responses: no text (formatversion=1 shape included), a title that is not a
    string, or HTML cut short is a bad answer, retried."""
    parse = data.get("parse")
    if not isinstance(parse, dict) or not isinstance(parse.get("text"), str):
        raise TransientError("parse response without HTML text")
    if not isinstance(parse.get("title", ""), str):
        raise TransientError("parse response with a title that is not a string")
    if looks_truncated(parse["text"]):
        raise TransientError("parse HTML is cut short")


def _download_one(client: ApiClient, article: Article, target: Path, by_title: dict[str, Article],
                  log: logging.Logger) -> _Outcome:
    """Fetch, extract and write one article; returns what happened (never raises for API trouble)."""
    try:
        data = client.get({**PARSE_PARAMS, "page": article.title}, check=_reject_bad_parse)
    except GaveUp as error:
        log.error("failed %r: %s", article.title, error)
        return _Outcome("failed", str(error), error.tries)
    except ApiError as error:
        if error.code in GONE_CODES:
            log.warning("skipped %r: API error %s", article.title, error)
            return _Outcome("skipped", f"API error {error}", error.tries)
        log.error("failed %r: API error %s", article.title, error)
        return _Outcome("failed", f"API error {error}", error.tries)
    parse = data["parse"]
    still_redirect = redirect_target(parse["text"])
    if still_redirect is not None:  # a double redirect: MediaWiki follows only one
        log.warning("skipped %r: still a redirect after following one (to %r)", article.title, still_redirect)
        return _Outcome("skipped", f"double redirect: still a redirect (to {still_redirect}) after following one")
    resolved = str(parse.get("title") or article.title)
    name = article.name
    if resolved != article.title:
        if resolved in by_title:
            log.info("skipped %r: now redirects to %r, scraped on its own", article.title, resolved)
            return _Outcome("skipped", f"redirects to {resolved}")
        if not resolved.startswith(PREFIX):
            log.info("skipped %r: now redirects outside EB1911 (%r)", article.title, resolved)
            return _Outcome("skipped", f"redirects outside EB1911 to {resolved}")
        name = resolved[len(PREFIX):]
    try:
        content = extract_prose(parse["text"])
    except HtmlError as error:
        log.error("failed %r: %s", article.title, error)
        return _Outcome("failed", str(error))
    if not content:
        log.warning("skipped %r: no prose in the page", article.title)
        return _Outcome("skipped", "no prose in the page")
    write_article(target, url=article.url, title=name, content=content, timestamp=utc_now())
    log.info("saved %r -> %s (%d words)", article.title, article.path, len(content.split()))
    return _Outcome("done")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ScrapeError(f"--out {out} exists and is not a folder; pass a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScrapeError(f"cannot create --out {out}: {error.strerror}") from error
    return out


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold the article tree's lock (``<out>/.articles.lock``, shared with the ingests) after checking the tree is
    not an ingest's, and remove what a killed run left (:func:`babylm.data.article_tree.writing`)."""
    try:
        with writing(out, "scrape"):
            yield
    except TreeError as error:
        raise ScrapeError(str(error)) from None


@contextlib.contextmanager
def _file_logger(path: Path) -> Iterator[logging.Logger]:
    """The stage's logger, writing to ``path`` (appended) for the duration of the block."""
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        yield log
    finally:
        log.removeHandler(handler)
        handler.close()


def parse_volumes(text: str) -> frozenset[int]:
    """Parse ``--volumes`` such as ``1,2,5-7`` into a set of volume numbers (1–29)."""
    volumes: set[int] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        low, _, high = item.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ScrapeError(f"--volumes: {item!r} is not a volume number or range (e.g. 1,2,5-7)") from None
        if not 1 <= first <= last <= 29:
            raise ScrapeError(f"--volumes: {item!r} is outside EB1911's volumes 1-29")
        volumes.update(range(first, last + 1))
    if not volumes:
        raise ScrapeError("--volumes: give at least one volume, e.g. --volumes 1,2")
    return frozenset(volumes)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of the scrape stage."""
    parser = CommandParser(
        prog="python -m babylm.data.wikisource",
        description="Scrape EB1911 articles from Wikisource (MediaWiki API) into "
                    "<out>/volume_XX/part_XX/<title>.json; resumable, polite.",
    )
    add = parser.add_argument
    add("--base-url", default=DEFAULT_BASE_URL, help="MediaWiki api.php URL (default: %(default)s)")
    add("--sample", action="store_true",
        help="scrape the bundled offline sample, served on 127.0.0.1 for this run, instead of --base-url")
    add("--out", type=Path, default=Path(DEFAULT_OUT), help="output folder (default: %(default)s)")
    add("--limit", type=positive_int, help="only the first N articles (book order) of the selection")
    add("--volumes", help="only these volumes, e.g. 1,2 or 1-3")
    add("--delay", type=seconds, default=1.0, help="seconds to wait after each response (default: %(default)s)")
    add("--max-tries", type=positive_int, default=5,
        help="tries per request before an article is recorded as failed (default: %(default)s)")
    add("--timeout", type=positive_seconds, default=30.0,
        help="seconds a whole response may take (default: %(default)s)")
    add("--backoff", type=seconds, default=2.0,
        help="first retry wait in seconds, doubled each try, at most 120 (default: %(default)s)")
    add("--maxlag", type=int_in_range(0, 86_400, "maxlag"), default=5,
        help="MediaWiki maxlag in seconds (default: %(default)s)")
    add("--contact", default="", help="e-mail or URL for the User-Agent; required for a public wiki")
    add("--skip-failed", action="store_true", help="do not retry articles that failed in earlier runs")
    add("--rediscover", action="store_true", help="list the articles again instead of reusing discovery.json")
    add("--max-consecutive-failures", type=positive_int, default=25,
        help="stop after this many failed articles in a row (default: %(default)s)")
    add("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def options_from_args(args: argparse.Namespace) -> ScrapeOptions:
    """Validate parsed arguments and turn them into :class:`ScrapeOptions`; raises ScrapeError."""
    parts = urlsplit(args.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScrapeError(f"--base-url {args.base_url!r} is not an http(s) URL of api.php")
    if not is_local(args.base_url) and not args.contact.strip():
        raise ScrapeError(f"--contact is required for {parts.hostname} (Wikimedia's User-Agent policy); "
                          "e.g. --contact you@example.org")
    for name, value, low in (("--limit", args.limit, 1), ("--max-tries", args.max_tries, 1),
                             ("--max-consecutive-failures", args.max_consecutive_failures, 1)):
        if value is not None and value < low:
            raise ScrapeError(f"{name} must be at least {low}, got {value}")
    for name, value, low in (("--delay", args.delay, 0), ("--backoff", args.backoff, 0), ("--maxlag", args.maxlag, 0),
                             ("--timeout", args.timeout, 1e-3)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= MAX_SECONDS):
            raise ScrapeError(f"{name} must be a number of seconds from {low:g} to {MAX_SECONDS:g}, got {value}")
    return ScrapeOptions(
        base_url=args.base_url, out=args.out, limit=args.limit,
        volumes=parse_volumes(args.volumes) if args.volumes is not None else None,
        delay=args.delay, max_tries=args.max_tries, timeout=args.timeout, backoff=args.backoff,
        maxlag=args.maxlag, contact=args.contact.strip(), skip_failed=args.skip_failed,
        rediscover=args.rediscover, max_consecutive_failures=args.max_consecutive_failures, quiet=args.quiet,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scrape stage on ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    0: every selected article is on disk or skipped for a recorded reason; 1: some failed (run again to
    retry them) or the run stopped after too many failures; 2: bad options or output folder;
    130: interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        with contextlib.ExitStack() as stack:
            if args.sample:
                if args.base_url != DEFAULT_BASE_URL:
                    raise ScrapeError("--sample serves its own wiki; leave out --base-url")

                args.base_url = stack.enter_context(serve_sample())
            options = options_from_args(args)
            result = scrape(options)
    except ScrapeError as error:
        print(f"scrape: error: {error}", file=sys.stderr)
        return 2
    except (GaveUp, ApiError) as error:
        print(f"scrape: error: discovery failed against {args.base_url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scrape: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if not options.quiet:
        print(f"scrape: {result.done}/{result.selected} articles on disk in {options.out} "
              f"({result.downloaded} this run), {result.failed} failed, {result.skipped} skipped")
        if result.failed:
            print("scrape: run the same command again to retry the failed articles", file=sys.stderr)
    return 1 if result.failed or result.aborted else 0


if __name__ == "__main__":
    sys.exit(main())
