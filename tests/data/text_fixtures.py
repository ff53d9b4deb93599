"""Fixtures and helpers shared by the text-stage tests (convert, combine, clean, split, ingests, pipeline).

Import the fixtures by name into a test module (``from tests.data.text_fixtures import pg_articles``).
Real EB1911 material is reached only through the ``shared_data`` fixture of ``tests/conftest.py``; these
fixtures read it once per session and never copy it into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babylm.data.sources.gutenberg import decode_gutenberg, split_articles

PG_SLICE = Path("eb1911") / "gutenberg" / "19699-8.txt"
OCR_VOLUME = Path("eb1911") / "internet-archive-ocr" / "vol5_trunc.txt"
PAGE_WIKITEXT = Path("wikisource") / "page-wikitext"
ARTICLE_WIKITEXT = Path("wikisource") / "article-wikitext-britannica-edition"


def write_article_json(root: Path, volume: int, part: int, stem: str, content: object,
                       title: str | None = None) -> Path:
    """Write one scraper-layout article JSON under ``root``; returns its path."""
    path = root / f"volume_{volume:02d}" / f"part_{part:02d}" / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"url": f"https://example.org/{stem}", "title": title or stem, "content": content,
              "timestamp": "2024-01-01T00:00:00+00:00"}
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


def cleaned_corpus_text(articles: list[str]) -> str:
    """A cleaned-format corpus holding ``articles`` (each a list of lines joined by newlines)."""
    return "".join(f"<s>\n{article}\n</s>\n\n" for article in articles)


@pytest.fixture(scope="session")
def pg_slice_path(shared_data: Path) -> Path:
    """The real Project Gutenberg EB1911 slice (#19699, Volume 4 Part 3)."""
    return shared_data / PG_SLICE


@pytest.fixture(scope="session")
def pg_slice_text(pg_slice_path: Path) -> str:
    """The real slice decoded (ISO-8859-1, CRLF) to text with ``\\n`` line ends."""
    return decode_gutenberg(pg_slice_path.read_bytes(), pg_slice_path.name)


@pytest.fixture(scope="session")
def pg_articles(pg_slice_text: str):
    """(slice info, articles) cut from the real slice."""
    return split_articles(pg_slice_text)


@pytest.fixture(scope="session")
def ocr_lines(shared_data: Path) -> list[str]:
    """The non-empty lines of the real uncorrected OCR of EB1911 Volume I (trailing spaces kept)."""
    text = (shared_data / OCR_VOLUME).read_text(encoding="utf-8")
    return [line.rstrip("\n") for line in text.split("\n") if line.strip()]


@pytest.fixture(scope="session")
def wikisource_pages(shared_data: Path) -> list[dict]:
    """The real Wikisource page wikitext records (ABBEY and ALLOYS pages)."""
    pages: list[dict] = []
    for name in ("abbey_pages.json", "alloys_pages.json"):
        pages.extend(json.loads((shared_data / PAGE_WIKITEXT / name).read_text(encoding="utf-8")))
    return pages


@pytest.fixture(scope="session")
def article_wikitext(shared_data: Path) -> dict[str, str]:
    """The 14 pre-assembled real article wikitexts, keyed by headword (``ABBEY``, ``DYNAMICS`` …)."""
    folder = shared_data / ARTICLE_WIKITEXT
    return {
        path.name.split("-", 3)[3].removesuffix(".input.txt"): path.read_text(encoding="utf-8")
        for path in sorted(folder.glob("*.input.txt"))
    }
