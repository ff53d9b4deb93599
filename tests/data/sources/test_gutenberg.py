"""Gutenberg ingest on the real EB1911 slice #19699: boilerplate out, articles at headwords, scraper layout."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.articles import read_ingest_report
from babylm.data.sources import gutenberg as ingest_gutenberg
from babylm.data.sources.gutenberg import cut_slice, decode_gutenberg, headword, ingest_slice, is_table, split_articles
from babylm.data.sources.gutenberg_headwords import classify_paragraph
from babylm.data.text.clean import clean_text
from tests.data.text_fixtures import pg_articles, pg_slice_path, pg_slice_text  # noqa: F401

CASES = "corpus"


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
    for expected in ("BRESCIA", "BREWING", "BRÉZÉ", "BRIDGES", "BUDDHA", "BUDÉ", "BUJNŪRD",
                     "BRETÓN DE LOS HERREROS, MANUEL"):
        assert expected in titles, expected
    for rejected in ("BIBLIOGRAPHY", "AUTHORITIES", "MATERIALS USED IN BREWING", "JOHN HERVEY", "PLATE I", "II",
                     "B, C"):
        assert rejected not in titles, rejected
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
    files = sorted(tmp_path.glob("volume_*/part_*/*.json"))
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


def test_the_article_count_equals_the_headwords_counted_by_hand(pg_articles):
    """311 headwords in #19699, counted by hand as follows.

    Every blank-line separated paragraph of the body (between PG's START and END lines) whose first word,
    after an inline page marker, is in capitals with two letters or more was listed: 363 paragraphs. Each was
    read and judged against the printed conventions (and, where unsure, against Wikisource's list of EB1911
    titles in ``titles/entries.txt``): 311 open an article (BRÉQUIGNY, continued from part 2, … BULGARIA);
    52 do not — 27 sub-headings ``AUTHORITIES.--`` / ``BIBLIOGRAPHY.--`` / ``BREWING OPERATIONS.--`` …, 9
    members of a family inside the family article (5 HERVEY in BRISTOL, EARLS AND MARQUESSES OF; 2 BROGLIE dukes
    in BROGLIE, DE; 2 GRENVILLE in BUCKINGHAM, EARLS …; Wikisource has no article for any of them), 6 headings
    without text (PRE-ROMAN BRITAIN, ROMAN BRITAIN, ANGLO-SAXON BRITAIN, HISTORY OF BRIDGE BUILDING, AMERICAN
    COTTON and DEAR SIRS in BROKER's specimen contract note), 6 numbered sections (II.–IV. in BRITAIN and in
    BROOCH) and 4 plate and figure titles inside ``[Illustration]`` blocks. Lines inside paragraphs that open
    with capitals were checked too (9, all continuations such as ``CARPENTRY. In public buildings``).
    """
    _, articles = pg_articles
    assert len(articles) == 311
    titles = [article.title for article in articles]
    assert len(set(titles)) == 301  # BRISTOL ×5, BUG ×2 … are separate articles under one headword
    for not_an_article in ("JOHN HERVEY", "ACHILLE CHARLES LÉONCE VICTOR, DUC DE BROGLIE",
                           "GEORGE NUGENT TEMPLE GRENVILLE", "PRE-ROMAN BRITAIN", "HISTORY OF BRIDGE BUILDING",
                           "AMERICAN COTTON", "DEAR SIRS", "II", "III", "IV"):
        assert not_an_article not in titles, not_an_article


def test_every_rejected_candidate_is_reported_with_its_reason(pg_slice_text, tmp_path, pg_slice_path):
    cut = cut_slice(pg_slice_text)
    reasons = {}
    for text, reason in cut.rejected:
        reasons.setdefault(reason, []).append(text)
    assert {reason: len(texts) for reason, texts in reasons.items()} == {
        "sub-heading": 27, "outside the range": 9, "no text": 6, "enumeration": 8, "single letter": 1,
    }
    assert any(text.startswith("JOHN HERVEY, 1st earl of Bristol") for text in reasons["outside the range"])
    stats = ingest_slice(pg_slice_path, tmp_path)
    assert stats.rejected == {reason: len(texts) for reason, texts in reasons.items()}
    run = read_ingest_report(tmp_path)["runs"]["gutenberg:19699-8.txt"]
    assert len(run["articles"]) == 311 and set(run["articles"].values()) == {"headword"}
    assert len(run["rejected_headwords"]) == len(cut.rejected)
    assert run["removed"]["table"]["count"] == 42 and run["removed"]["caption"]["words"] > 1000


def test_part_title_front_matter_notes_and_footnote_labels(shared_cases):
    """``../shared/cases/corpus/gutenberg_part_title.txt``: a ``(part)`` title, front matter, notes, ``38_a_``."""
    raw = (shared_cases / CASES / "gutenberg_part_title.txt").read_bytes()
    cut = cut_slice(decode_gutenberg(raw, "gutenberg_part_title.txt"))
    assert (cut.info.first, cut.info.last) == ("Dublin", "Dyeing")
    assert [article.title for article in cut.articles] == ["DUBLIN", "DUEL"]
    dublin, duel = cut.articles
    assert "Continued" not in dublin.content and "volume IX" not in dublin.content
    assert "The harbour was deepened during the last century at great cost." in dublin.paragraphs
    assert '"I, _A. B._, demand satisfaction of _C. D._ for the insult given."' in duel.paragraphs
    assert all(not paragraph.startswith("FOOTNOTES") for article in cut.articles for paragraph in article.paragraphs)
    cleaned = clean_text("\n".join(duel.paragraphs))
    assert "See Code, 12a, and Annals, 40b." in cleaned and "_" not in cleaned
    assert "The practice was forbidden by several edicts." in cleaned  # the footnote stays with DUEL
    assert dict((reason, text[:20]) for text, reason in cut.rejected) == {
        "corrections list": "ARTICLE DUMAS, ALEXA", "no text": "VOLUME IX, SLICE II",
        "punctuation": '"I, _A. B._, demand ',
    }


def test_a_quoted_capital_never_opens_an_article(shared_cases):
    """``../shared/cases/corpus/gutenberg_quoted_capital.txt``: the range includes I, the oath is still no headword."""
    raw = (shared_cases / CASES / "gutenberg_quoted_capital.txt").read_bytes()
    _, articles = split_articles(decode_gutenberg(raw, "gutenberg_quoted_capital.txt"))
    assert [article.title for article in articles] == ["IMMUNITY", "INCOME TAX"]
    assert '"I, _R._, grant to the abbey and its tenants freedom from every toll."' in articles[0].paragraphs
    assert "After the grant the tenants paid nothing at the bridge." in articles[0].paragraphs


def test_headword_rules():
    assert headword("BRESCIA (anc. _Brixia_), a city") == "BRESCIA"
    assert headword("BREST, a fortified seaport") == "BREST"
    assert headword("AUTHORITIES.--F. Cabrol, _Introduction_") is None
    assert headword("JOHN HERVEY, 1st earl of Bristol", "Brescia", "Bulgaria") is None
    assert headword("JOHN HERVEY, 1st earl of Bristol") == "JOHN HERVEY"  # no range known: syntax only
    assert headword("A, the first letter of the alphabet") == "A"  # the articles on the letters themselves
    assert headword("B, C. Further stages of the development") is None
    assert headword("The plan of the city is rectangular") is None
    verdicts = {
        '"I, _A. B._, demand satisfaction': "punctuation", "I, _A. B._, demand satisfaction": "enumeration",
        "I, _A. B._, demand": "enumeration", "B, C. Further stages": "single letter",
        "II. _The Province_": "enumeration",
        "AUTHORITIES.--See the article": "sub-heading", "VOLUME IX, SLICE II": "no text", "PLATE I.": "no text",
        'ARTICLE DUMAS, ALEXANDRE: "He wrote"': "corrections list",
    }
    for paragraph, reason in verdicts.items():
        assert classify_paragraph(paragraph, "Hydrolysis", "Ireland").reason == reason, paragraph
    for ordinary in ("A compromise is sometimes made", "R_2 = W_1x_1/l", "R² = H²+V²", "(W. A. B. C.)",
                     "[1] _I.e._ in the"):
        assert classify_paragraph(ordinary).reason is None and classify_paragraph(ordinary).title is None, ordinary
    assert headword("DUBLIN, [_Continued from volume IX slice I._]", "Dublin", "Dyeing") == "DUBLIN"
    assert classify_paragraph("DUBLIN HARBOUR and more", "Dublin", "Dyeing").reason == "no definition"


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


PARAGRAPH_STARTS = st.sampled_from(['"', "'", "“", "I", "A", "B", ",", ".", " ", "BR", "IX", "ÉT", "-", "_", "(",
                                    "[1]", "a", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(PARAGRAPH_STARTS, min_size=1, max_size=8).map("".join), st.sampled_from(["", " the letter", " a town"]))
def test_a_headword_never_is_punctuation_or_a_lone_letter(start, rest):
    for first, last in ((None, None), ("A", "Z")):
        title = headword(start + rest, first, last)
        if title is not None:
            name = title[1:] if title[0] == "'" else title  # the ʿayn of a transliterated name: 'ANTARA
            assert name[0].isalpha(), title
            letters = sum(c.isalpha() for c in name.split(" ")[0])
            assert letters >= 2 or (letters == 1 and "letter" in rest), title


def test_an_empty_slice_is_named_empty_not_missing_its_volume(tmp_path, capsys):
    empty = tmp_path / "19699-8.txt"
    empty.write_bytes(b"")
    assert ingest_gutenberg.main([str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "19699-8.txt: the file is empty" in err[0] and "Volume N" not in err[0]
    assert not (tmp_path / "out").exists()
