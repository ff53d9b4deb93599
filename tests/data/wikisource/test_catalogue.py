"""Discovery rules: which pages are articles, their volume and part; and the client's retry schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from babylm.data.wikisource.api import ApiClient, ApiError, GaveUp, parse_retry_after
from babylm.data.wikisource.catalogue import (
    NON_ARTICLE_TITLES,
    PREFIX,
    Catalogue,
    classify,
    part_of,
    resolve_overlaps,
    scan_position,
)
from babylm.data.wikisource.sample.server import Faults


def page(volume: int, number: int) -> str:
    return f"Page:EB1911 - Volume {volume:02d}.djvu/{number}"


def test_first_scan_page_is_the_numerically_smallest_of_the_main_volume():
    assert scan_position([page(1, 100), page(1, 99), "Template:EB1911"]) == (1, 99)
    assert scan_position([page(2, 7), page(2, 8), page(1, 990)]) == (2, 7)  # most pages come from volume 2
    assert scan_position([page(5, 3), page(4, 900)]) == (4, 900)  # a tie goes to the lower volume
    assert scan_position(["Page:Some other book.djvu/3", "Template:Header"]) is None


def test_parts_are_blocks_of_one_hundred_scan_pages():
    assert [part_of(n) for n in (1, 100, 101, 200, 201, 1050)] == [1, 1, 2, 2, 3, 11]


def test_articles_need_a_scan_page_and_front_matter_is_skipped_even_with_one():
    article, reason = classify(PREFIX + "A", "https://x/wiki/A", [page(1, 32)])
    assert reason == "" and (article.name, article.volume, article.first_page, article.part) == ("A", 1, 32, 1)
    assert classify(PREFIX + "Mercury", "u", ["Template:Disambiguation"])[1] == "transcludes no EB1911 scan page"
    assert classify(PREFIX + "Volume 3", "u", [page(3, 5)])[1] == "front/back matter or listing"
    assert classify("Portal:Encyclopaedias", "u", [page(3, 5)])[1] == "outside the EB1911 prefix"
    assert classify(PREFIX + "Index Librorum Prohibitorum", "u", [page(14, 400)])[0] is not None


def test_the_front_matter_rule_on_the_real_title_list(shared_data):
    lines = (shared_data / "wikisource/titles/entries.txt").read_text(encoding="utf-8").splitlines()
    names = [t[len(PREFIX):] for t in lines if t.startswith(PREFIX)]
    matched = {name for name in names if NON_ARTICLE_TITLES.match(name)}
    assert {"Volume 1", "Volume 29", "Vol 1/Title page", "Contributors", "Brewing/Plates",
            "Classified Table of Contents"} <= matched
    for article in ("A", "Index", "Index Librorum Prohibitorum", "Plate", "Preface", "Abbreviation", "Volunteers"):
        assert article not in matched
    assert len(matched) == 103


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 30.0


def test_backoff_doubles_up_to_its_cap_then_gives_up(wiki_server):
    server = wiki_server(faults=Faults(parse={"Bee": ["500"] * 5}))
    waits: list[float] = []
    client = ApiClient(server.api_url, delay=0, backoff=1.0, max_backoff=3.0, max_tries=5, sleep=waits.append)
    with pytest.raises(GaveUp, match="HTTP 500"):
        client.get({"action": "parse", "page": PREFIX + "Bee"})
    assert waits == [1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ApiError) as missing:
        client.get({"action": "parse", "page": PREFIX + "Nonesuch"})
    assert missing.value.code == "missingtitle"
    client.close()


def test_a_sub_page_covered_by_its_parent_is_skipped_and_every_overlap_is_reported():
    def article(name: str, pages: range):
        found, _ = classify(PREFIX + name, "u", [page(1, n) for n in pages])
        return found

    articles = {a.title: a for a in [
        article("Brewing", range(500, 520)), article("Brewing/Chemistry", range(505, 508)),   # inside the parent
        article("Algae", range(600, 602)), article("Algae/Habitat", range(601, 604)),         # shares one page
        article("Algae/Uses", range(610, 612)), article("Abbey", range(42, 54)),              # no overlap
        article("Gregory (Popes)/Gregory I/Letters", range(700, 701)),                        # no parent article
    ]}
    catalogue = Catalogue(base_url="u", articles=articles, skipped={}, redirects={}, complete=True)
    assert resolve_overlaps(catalogue) == 1
    assert PREFIX + "Brewing/Chemistry" not in catalogue.articles
    assert "covered by its parent page" in catalogue.skipped[PREFIX + "Brewing/Chemistry"]
    assert catalogue.overlaps == {
        PREFIX + "Brewing/Chemistry": {"parent": PREFIX + "Brewing", "shared_pages": 3,
                                       "action": "skipped: covered by its parent page"},
        PREFIX + "Algae/Habitat": {"parent": PREFIX + "Algae", "shared_pages": 1, "action": "kept: partial overlap"},
    }
    assert articles[PREFIX + "Brewing"].pages == list(range(500, 520))
