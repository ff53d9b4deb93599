"""The corpus quality report: written by ``prepare``, one page that says whether the corpus is sound."""

from __future__ import annotations

import json

from babylm.data.sources.gutenberg import ingest_slice
from babylm.data.sources.wikitext import ingest_pages
from babylm.data.text import clean, combine, convert, quality
from babylm.data.text.quality import suspicious_title
from tests.data.text_fixtures import PAGE_WIKITEXT, write_article_json


def prepared(data, shared_data, shared_cases):
    """A data directory holding real Wikisource pages and a Gutenberg case, converted, combined and cleaned."""
    raw = data / "britannica_data"
    ingest_pages([shared_data / PAGE_WIKITEXT / "abbey_pages.json", shared_data / PAGE_WIKITEXT / "alloys_pages.json"],
                 raw)
    ingest_slice(shared_cases / "corpus" / "gutenberg_part_title.txt", raw)
    write_article_json(raw, 30, 1, "odd", "{{mystery|x}} some text", title='"I')
    convert.convert_tree(raw, data / "britannica_txt")
    combine.combine_tree(data / "britannica_txt", data / "combined_encyclopedia.txt")
    clean.clean_file(data / "combined_encyclopedia.txt", data / "encyclopedia_cleaned.txt")
    return data


def test_the_report_shows_routes_volumes_what_was_left_out_and_suspicious_titles(tmp_path, shared_data, shared_cases):
    data = prepared(tmp_path / "data", shared_data, shared_cases)
    report = quality.write_report(data)
    assert json.loads((data / "quality.json").read_text(encoding="utf-8")) == report
    assert report["articles"] == 13 + 2 + 1
    assert report["per_route"]["wikitext/headword"]["articles"] == 13
    assert report["per_route"]["gutenberg/headword"] == {"articles": 2, "words": report["per_volume"]["9"]["words"]}
    assert report["per_route"]["unknown"]["articles"] == 1 and set(report["per_volume"]) == {"1", "9", "30"}
    left_out = report["left_out_by_ingest"]
    assert left_out["orphan span"] == {"count": 2, "words": 362} and left_out["table"]["count"] >= 14
    assert left_out["footnote"]["count"] >= 1 and left_out["sidenote"]["count"] >= 20
    assert report["rejected_headwords"] == {"corrections list": 1, "no text": 2, "punctuation": 1}
    assert report["longest"][0]["title"] == "ABBEY" and report["shortest"][0]["words"] <= report["longest"][-1]["words"]
    assert report["suspicious_titles"] == [{"title": '"I', "volume": "30", "words": 3,
                                            "why": "starts with punctuation or a digit"}]
    assert sum(report["residual_markup_per_million_words"].values()) == 0
    page = (data / "quality.md").read_text(encoding="utf-8")
    for heading in ("## Articles per volume", "## Articles per source route", "## Residual markup",
                    "## What was left out", "## Templates without a rendering rule", "## The 16 longest articles",
                    "## Suspicious titles"):
        assert heading in page, heading


def test_suspicious_titles():
    assert suspicious_title("ABBEY") is None and suspicious_title("Abbey, Edwin Austin") is None
    assert suspicious_title("BRISTOL (3)") is None and suspicious_title("Ābū Bakr") is None
    assert suspicious_title('"I') == "starts with punctuation or a digit"
    assert suspicious_title("I") == "a single letter" and suspicious_title("B (2)") == "a single letter"
    assert suspicious_title("ABBEY {{sc") == "markup characters" and suspicious_title("abbey") == "no capital letter"
    assert suspicious_title("AUTHORITIES.--F. Cabrol") == "a sub-heading"


def test_an_empty_data_directory_is_a_one_line_error(tmp_path, capsys):
    assert quality.main(["--data-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "prepare" in error
