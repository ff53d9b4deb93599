"""The article files every acquisition path writes: ``<out>/volume_VV/part_PP/<stem>.json``.

Each file holds exactly ``{"url", "title", "content", "timestamp"}`` and is written atomically. The scraper
(:mod:`babylm.data.wikisource`) and the offline ingests (:mod:`babylm.data.ingest_gutenberg`,
:mod:`babylm.data.ingest_wikitext`) all go through here, so the layout the text stages read has one
definition. Stems come from :func:`babylm.data.filenames.assign_stems`.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Hashable, Sequence

from babylm.atomic import atomic_write_json


def article_relpath(volume: int, part: int, stem: str) -> str:
    """Return ``volume_VV/part_PP/<stem>.json``, an article's path relative to the output folder."""
    return f"volume_{volume:02d}/part_{part:02d}/{stem}.json"


def write_article(path: str | os.PathLike, *, url: str, title: str, content: str, timestamp: str) -> None:
    """Write one article record to ``path`` atomically; returns nothing."""
    atomic_write_json(path, {"url": url, "title": title, "content": content, "timestamp": timestamp})


def number_repeats(titles: Sequence[str], groups: Sequence[Hashable] | None = None) -> list[str]:
    """Tell repeated titles apart: the second ``X`` (within its group) becomes ``X (2)``, the third ``X (3)``.

    Takes the titles in order and, optionally, a group per title (e.g. its volume: repeats are counted
    within a group); returns one key per title, suitable for :func:`assign_stems`.
    """
    seen: Counter = Counter()
    keys = []
    for index, title in enumerate(titles):
        seen[(groups[index] if groups is not None else None, title)] += 1
        count = seen[(groups[index] if groups is not None else None, title)]
        keys.append(title if count == 1 else f"{title} ({count})")
    return keys
