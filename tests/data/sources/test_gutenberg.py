"""Gutenberg ingest on the real EB1911 slice #19699: boilerplate out, articles at headwords, scraper layout."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.sources import gutenberg as ingest_gutenberg
from babylm.data.sources.gutenberg import decode_gutenberg, headword, ingest_slice, is_table, split_articles
from tests.data.text_fixtures import pg_articles, pg_slice_path, pg_slice_text  # noqa: F401


def test_the_slice_is_decoded_from_latin1_with_unix_line_ends(pg_slice_text):
    assert "\r" not in pg_slice_text
    assert "BRÉQUIGNY" in pg_slice_text and "Bréquigny" in pg_slice_text and "BRIANÇON" in pg_slice_text


def test_boilerplate_notes_and_page_furniture_are_gone(pg_articles):
    info, articles = pg_articles
    assert (info.volume, info.ebook, info.first, info.last) == (4, 19699, "Brescia", "Bulgaria")
    text = "\n".join(article.content for article in articles)
    for gone in ("Project Gutenberg", "PROJECT GUTENBERG", "Transcriber's note", "Corrections made to printed original",
                 "Produced by", "[v.04", "[Illustration", "[Sidenote", "continued in part 4", "continued from"):
        assert gone not in text, gone
    assert "*       *" not in text


def test_articles_start_at_headwords_and_not_at_sub_headings(pg_articles):
    _, articles = pg_articles
    titles = [article.title for article in articles]
    assert titles[0] == "BRÉQUIGNY, LOUIS GEORGE OUDARD FEUDRIX DE"  # tail of an article begun in part 2
    assert titles[-1] == "BULGARIA"
    for expected in ("BRESCIA", "BREWING", "BRÉZÉ", "BRIDGES", "BUDDHA", "BUDÉ", "BUJNŪRD", "BRETÓN DE LOS HERREROS, MANUEL"):
        assert expected in titles, expected
    for rejected in ("BIBLIOGRAPHY", "AUTHORITIES", "MATERIALS USED IN BREWING", "JOHN HERVEY", "PLATE I", "II", "B, C"):
        assert rejected not in titles, rejected
    assert 300 <= len(articles) <= 330
    brewing = next(article for article in articles if article.title == "BREWING")
    assert "MATERIALS USED IN BREWING.--These are water" in brewing.content  # sub-heading stays inside


def test_paragraphs_are_unwrapped_and_tables_dropped(pg_articles):
    _, articles = pg_articles
    brescia = next(article for article in articles if article.title == "BRESCIA")
    first = brescia.paragraphs[0]
    assert first.startswith("BRESCIA (anc. _Brixia_), a city and episcopal see of Lombardy, Italy, the capital of")
    assert "\n" not in first and "Pop. (1901) town, 42,495; commune, 72,731." in first
    assert all("   " not in paragraph for article in articles for paragraph in article.paragraphs)
    assert is_table(["Sodium Chloride                  3.90", "Potassium Sulphate               1.59"])
    assert not is_table(["An ordinary line of prose that wraps", "onto a second line."])


def test_ingest_writes_the_scraper_layout(tmp_path, pg_slice_path):
    stats = ingest_slice(pg_slice_path, tmp_path)
    files = sorted(tmp_path.rglob("*.json"))
    assert stats.articles == len(files) and stats.words > 300_000
    brescia = json.loads((tmp_path / "volume_04" / "part_05" / "BRESCIA.json").read_text(encoding="utf-8"))
    assert set(brescia) == {"url", "title", "content", "timestamp"}
    assert brescia["url"] == "https://www.gutenberg.org/ebooks/19699" and brescia["title"] == "BRESCIA"
    bristols = sorted(p.name for p in tmp_path.rglob("BRISTOL*.json") if "," not in p.name)
    assert bristols == ["BRISTOL (2).json", "BRISTOL (3).json", "BRISTOL (4).json", "BRISTOL (5).json", "BRISTOL.json"]
    assert {p.parent.parent.name for p in files} == {"volume_04"}
    before = {p: p.read_bytes() for p in files}
    ingest_slice(pg_slice_path, tmp_path)
    assert {p: p.read_bytes() for p in files} == before  # re-ingesting is deterministic


def test_encodings_are_decoded_by_declaration_bom_and_name():
    utf8 = "Character set encoding: UTF-8\n\nBRÉZÉ".encode("utf-8")
    assert decode_gutenberg(utf8).endswith("BRÉZÉ")
    assert decode_gutenberg(b"\xef\xbb\xbfBR\xc3\x89Z\xc3\x89\r\n") == "BRÉZÉ\n"
    assert decode_gutenberg("café “q”".encode("cp1252"), "x-8.txt") == "café “q”"
    assert decode_gutenberg("na\xefve".encode("latin-1"), "x.txt") == "naïve"
    with pytest.raises(ingest_gutenberg.IngestError, match="not valid utf-8"):
        decode_gutenberg(b"Character set encoding: UTF-8\n\xff\xfe", "bad.txt")


def test_headword_rules():
    assert headword("BRESCIA (anc. _Brixia_), a city") == "BRESCIA"
    assert headword("BREST, a fortified seaport") == "BREST"
    assert headword("AUTHORITIES.--F. Cabrol, _Introduction_") is None
    assert headword("JOHN HERVEY, 1st earl of Bristol", "Brescia", "Bulgaria") is None
    assert headword("JOHN HERVEY, 1st earl of Bristol") == "JOHN HERVEY"  # no range known: syntax only
    assert headword("A, the first letter of the alphabet") == "A"
    assert headword("B, C. Further stages of the development") is None
    assert headword("The plan of the city is rectangular") is None


def test_main_errors_are_one_line(tmp_path, capsys):
    assert ingest_gutenberg.main([str(tmp_path / "missing.txt"), "--out", str(tmp_path / "out")]) == 2
    assert "missing.txt" in capsys.readouterr().err.strip()
    not_eb = tmp_path / "novel-0.txt"
    not_eb.write_text("Title: A Novel, Volume 1\n\nIt was a dark and stormy night.\n", encoding="utf-8")
    assert ingest_gutenberg.main([str(not_eb), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "no article headwords" in error


GUTENBERG_PIECES = st.sampled_from([
    "*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n", "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\n",
    "Title: EB, Volume 4, Part 3\n", '"Brescia" to "Bulgaria"\n', "[v.04 p.0498]", "[Illustration: ", "]", "[",
    "BRESCIA, a city", "BRIE (x)", "AUTHORITIES.--", "\n", "\n\n", "   ", "|", "--", "_it_", "é", "Produced by",
])


@settings(max_examples=100, deadline=None)
@given(st.lists(GUTENBERG_PIECES, max_size=40).map("".join))
def test_cutting_articles_never_crashes_on_malformed_slices(text):
    info, articles = split_articles(text)
    assert all(article.title and article.paragraphs for article in articles)
