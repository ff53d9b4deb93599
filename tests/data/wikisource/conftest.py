"""Fixtures for the scrape-stage tests: the bundled sample wiki and local fake-Wikisource servers.

``wiki_server(**kwargs)`` starts a real :class:`~babylm.data.wikisource.sample.server.SampleServer` on 127.0.0.1
(``max_limit=7`` by default, so that discovery needs several batches and ``tlcontinue`` steps) and stops
it after the test. ``run_scrape(server, out, *extra)`` runs the stage's real ``main`` with fast settings
(no delay, tiny backoff, short timeout, quiet) and returns its exit code; ``read_articles(out)`` loads
every article JSON a scrape wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

import pytest

from babylm.data.wikisource.sample.server import SampleServer
from babylm.data.wikisource.sample.wiki import SampleWiki, load_sample
from babylm.data.wikisource.scrape import main as scrape_main

FAST = ["--delay", "0", "--backoff", "0.01", "--timeout", "2", "--quiet"]


@pytest.fixture(scope="session")
def sample_wiki() -> SampleWiki:
    """The bundled sample, loaded once."""
    return load_sample()


@pytest.fixture
def wiki_server(sample_wiki) -> Iterator[Callable[..., SampleServer]]:
    """Factory: ``wiki_server(latency=…, faults=…, max_limit=…)`` → a started server, stopped at teardown."""
    servers: list[SampleServer] = []

    def start(**kwargs) -> SampleServer:
        kwargs.setdefault("max_limit", 7)
        kwargs.setdefault("wiki", sample_wiki)
        server = SampleServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def run_scrape() -> Callable[..., int]:
    """Run the scrape stage's ``main`` against ``server`` into ``out`` with fast settings."""

    def run(server: SampleServer, out: Path, *extra: str) -> int:
        return scrape_main(["--base-url", server.api_url, "--out", str(out), *FAST, *extra])

    return run


@pytest.fixture
def read_articles() -> Callable[[Path], dict[str, dict]]:
    """``read_articles(out)``: every article JSON under ``out``, keyed by its path relative to ``out``."""

    def read(out: Path) -> dict[str, dict]:
        return {path.relative_to(out).as_posix(): json.loads(path.read_text(encoding="utf-8"))
                for path in sorted(out.glob("volume_*/part_*/*.json"))}

    return read
