"""Gutenberg ingest of many slices (the 66-slice strict-small corpus): book order, articles joined across
slices, no file written twice, one-article slices, and the slice-reading faults found at that scale."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.articles import number_repeats, read_ingest_report
from babylm.data.sources import gutenberg
from babylm.data.sources.gutenberg import ingest_slices, overlap
from babylm.data.sources.gutenberg_headwords import classify_paragraph, headword
from babylm.data.sources.gutenberg_text import (
    cut_slice,
    decode_gutenberg,
    is_drawing_line,
    read_slice_info,
    remove_diagrams,
)

TEN_M = Path("eb1911") / "gutenberg-10m"


def _slice(shared_data: Path, ebook: str) -> Path:
    return next((shared_data / TEN_M).glob(f"{ebook}-*.txt"))


def _articles(out: Path) -> dict[str, dict]:
    return {p.relative_to(out).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(out.rglob("volume_*/part_*/*.json"))}


def fake_slice(volume: int, number: int, first: str, last: str, body: str) -> str:
    """A slice shaped like the real ones (header, START/END lines) around ``body``."""
    return (f"Title: Encyclopaedia Britannica, 11th Edition, Volume {volume}, Slice {number}\n"
            f'       "{first}" to "{last}"\n\nRelease Date: 2010 [EBook #{volume}{number:03d}]\n\n'
            "*** START OF THIS PROJECT GUTENBERG EBOOK ENCYCLOPAEDIA BRITANNICA ***\n\n"
            f"{body}\n\n*** END OF THIS PROJECT GUTENBERG EBOOK ENCYCLOPAEDIA BRITANNICA ***\n")


def test_convention_printed_at_the_end_of_one_slice_and_the_start_of_the_next_is_one_article(shared_data, tmp_path):
    """#30935 ends with CONVENTION's first paragraph, #32097 opens with it again and goes on: one article, that
    paragraph once; the input order does not matter and nothing is overwritten (one file per article)."""
    first, second = _slice(shared_data, "30935"), _slice(shared_data, "32097")
    stats = ingest_slices([second, first], tmp_path / "a")
    written = _articles(tmp_path / "a")
    assert stats.articles == len(written) == 43 + 89 - 1 and stats.joined == 1
    convention = written["volume_07/part_01/CONVENTION.json"]
    assert convention["content"].count("CONVENTION (Lat. _conventio_, an assembly or agreement") == 1
    assert "CONVENTION (2)" not in " ".join(written) and convention["url"].endswith("/30935")
    run = read_ingest_report(tmp_path / "a")["runs"][f"gutenberg:{second.name}"]
    assert run["joined"] == [{"title": "CONVENTION", "from": first.name, "duplicate_paragraphs": 1}]
    assert run["removed"]["duplicate paragraph"] == {"count": 1, "words": 229}
    ingest_slices([first, second], tmp_path / "b")
    assert _articles(tmp_path / "b") == written


def test_diameter_cut_short_with_dots_keeps_the_whole_copy(shared_data, tmp_path):
    """#30073 ends with DIAMETER's first paragraph cut short (``... are at ...``); #32607 prints it whole."""
    ingest_slices([_slice(shared_data, "30073"), _slice(shared_data, "32607")], tmp_path)
    diameter = json.loads((tmp_path / "volume_08" / "part_01" / "DIAMETER.json").read_text(encoding="utf-8"))
    paragraphs = diameter["content"].split("\n\n")
    assert paragraphs[0].startswith("DIAMETER (from the Gr.") and "..." not in paragraphs[0]
    assert paragraphs[1].startswith("In architecture, the term is used to express the measure")
    assert diameter["content"].count("DIAMETER (from the Gr.") == 1


def test_an_article_continued_into_the_next_slice_is_joined_without_its_repeated_headword(tmp_path):
    """The DRAMA/FRANCE shape: the next slice opens with the headword alone (``DRAMA.``, or with a
    ``(continued from part 6)`` note); a slice of another volume or a later headword never joins."""
    one = fake_slice(8, 6, "Dodwell", "Drama", "DODWELL, EDWARD (1767-1832), English traveller.\n\n"
                     "DRAMA (Gr. _drama_, action), the art.\n\n[85] _Brundisinae_.")
    two = fake_slice(8, 7, "Drama", "Dublin", "DRAMA. (_continued from part 6_)\n\n10. MEDIEVAL DRAMA\n\n"
                     "The Middle Ages had plays.\n\nDRAWBACK, a term in commerce.")
    other = fake_slice(9, 1, "Drama", "Dublin", "DRAMA, a town of Macedonia.")
    for name, text in (("a-8.txt", two), ("b-8.txt", one), ("c-8.txt", other)):
        (tmp_path / name).write_text(text, encoding="latin-1")
    stats = ingest_slices([tmp_path], tmp_path / "out")
    drama = json.loads((tmp_path / "out" / "volume_08" / "part_01" / "DRAMA.json").read_text(encoding="utf-8"))
    assert drama["content"].split("\n\n") == ["DRAMA (Gr. _drama_, action), the art.", "[85] _Brundisinae_.",
                                              "10. MEDIEVAL DRAMA", "The Middle Ages had plays."]
    assert stats.joined == 1 and stats.articles == 4
    assert (tmp_path / "out" / "volume_09" / "part_01" / "DRAMA.json").is_file()


def test_a_headword_repeated_in_two_slices_gets_two_files(tmp_path):
    """Two ABBEY articles of one volume in different slices (not a continuation): ``ABBEY`` and ``ABBEY (2)``,
    and the report lists an article whose beginning is in a slice not given (BULGARIA in #19846)."""
    (tmp_path / "s1-8.txt").write_text(fake_slice(1, 1, "Aachen", "Abbey", "AACHEN, a city.\n\nABBEY, a monastery.\n\n"
                                                  "ABBOT, its head."), encoding="latin-1")
    (tmp_path / "s2-8.txt").write_text(fake_slice(1, 2, "Abbotsford", "Abel",
                                                  "ABBEY (_continued from part 1_), more.\n\n"
                                                  "ABBEY, a town in Mississippi.\n\nABEL, a son of Adam."),
                                       encoding="latin-1")
    stats = ingest_slices([tmp_path / "s2-8.txt", tmp_path / "s1-8.txt"], tmp_path / "out")
    names = sorted(_articles(tmp_path / "out"))
    assert names == [f"volume_01/part_01/{stem}.json"
                     for stem in ("AACHEN", "ABBEY (2)", "ABBEY (3)", "ABBEY", "ABBOT", "ABEL")]
    assert stats.articles == 6 and stats.joined == 0
    assert read_ingest_report(tmp_path / "out")["runs"]["gutenberg:s2-8.txt"]["continued_from_elsewhere"] == ["ABBEY"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["X", "X (2)", "X (3)", "Y", "x"]), max_size=12), st.data())
def test_repeated_titles_never_share_a_key_within_a_group(titles, data):
    groups = data.draw(st.lists(st.sampled_from([1, 2]), min_size=len(titles), max_size=len(titles)))
    keys = number_repeats(titles, groups)
    assert len(set(zip(groups, keys))) == len(titles)
    assert all(key == title or key.startswith(title + " (") for key, title in zip(keys, titles))


def test_overlap_finds_paragraphs_printed_twice():
    assert overlap(["a", "Same paragraph, printed at the end of one slice and again"],
                   ["Same paragraph, printed at the end of one slice and again", "b"]) == 1
    assert overlap(["x", "The first paragraph of the article, cut short at the end ..."],
                   ["The first paragraph of the article, cut short at the end of the slice, whole", "y"]) == 1
    assert overlap(["short"], ["short and then more"]) == 0 and overlap(["a"], ["b"]) == 0


def test_english_history_is_one_article_named_by_its_title_page(shared_data, tmp_path):
    """#35236's title is ``Volume 9, Slice 5 / English History``; its only capital opening is a sub-heading
    (``ENGLISH HISTORY.--The general account``): it is that one article, not "no article headwords found"."""
    path = _slice(shared_data, "35236")
    assert read_slice_info(decode_gutenberg(path.read_bytes(), path.name)).subject == "English History"
    assert gutenberg.main([str(path), "--out", str(tmp_path)]) == 0
    (article,) = _articles(tmp_path).values()
    assert article["title"] == "ENGLISH HISTORY" and len(article["content"].split()) > 170_000
    assert article["content"].startswith("ENGLISH HISTORY.--The general account of English history which follows")
    assert read_ingest_report(tmp_path)["runs"][f"gutenberg:{path.name}"]["route"] == "title page"


def test_a_file_that_is_not_eb1911_is_one_line_exit_2(tmp_path, capsys):
    novel = tmp_path / "1342-0.txt"
    novel.write_text("Title: Pride and Prejudice, Volume 1\n       Chapter One\n\n"
                     "*** START OF THE PROJECT GUTENBERG EBOOK PRIDE ***\n\nIt is a truth universally acknowledged.\n",
                     encoding="utf-8")
    assert gutenberg.main([str(novel), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "1342-0.txt: no article headwords found" in error


def test_a_lost_bracket_ends_its_illustration_at_the_next_prose_paragraph(shared_data):
    """#34533's FIG. 19 (BEE-KEEPING) lost its ``]``: the next 165,000 words are not a caption; 249 articles
    as in the slice's own list (BEDLAM … BENSON, GEORGE), not 9."""
    path = _slice(shared_data, "34533")
    cut = cut_slice(decode_gutenberg(path.read_bytes(), path.name))
    titles = [article.title for article in cut.articles]
    assert len(titles) == 249 and titles[-1] == "BENSON, GEORGE" and "BEETHOVEN, LUDWIG VAN" in titles
    bee = cut.articles[titles.index("BEE")]
    assert any(p.startswith('The latest form of honey extractor used in America is that known as the')
               for p in bee.paragraphs)
    assert not any("Fixing rail" in p for p in bee.paragraphs)
    assert cut.removed.as_dict()["unclosed caption"]["count"] == 2


def test_a_headword_standing_above_relocated_side_notes_opens_its_article():
    """``ATOM`` / ``  Theories of matter.`` / ``(Gr. atomos …``: one article whose first paragraph is the
    headword with its definition; ``HISTORY.`` over a side-note inside CHILE stays a heading of CHILE."""
    body = ("ATLAS, a giant.\n\n\nATOM\n\n  Theories of matter.\n\n(Gr. _atomos_, indivisible), the term given\n"
            "in physical science to the ultimate particle.\n\nMore about atoms.\n\n\nATTAR, a perfume.\n\n"
            "HISTORY.\n\n  Inca conquest.\n\nThe Incas came.\n\nCHURCH HISTORY.\n\n  Church historians.\n\n"
            "The sketch given below.")
    cut = cut_slice(fake_slice(2, 8, "Atherstone", "Austria", body))
    assert [a.title for a in cut.articles] == ["ATLAS", "ATOM", "ATTAR"] and cut.standalone == ["ATOM"]
    assert cut.articles[1].paragraphs == ["ATOM (Gr. _atomos_, indivisible), the term given in physical science to the "
                                          "ultimate particle.", "More about atoms."]
    assert cut.articles[2].paragraphs[1:] == ["HISTORY.", "Inca conquest.", "The Incas came.", "CHURCH HISTORY.",
                                              "Church historians.", "The sketch given below."]


def test_headwords_found_at_scale():
    ranged = ("Apollodorus", "Aral")
    assert headword('"FLYING DUTCHMAN," a spectre-ship', "Fleury", "Foraker") == "FLYING DUTCHMAN"
    assert headword("'ANTARA IBN SHADDAD, Arabian poet", "Anjar", "Apollo") == "'ANTARA IBN SHADDAD"
    assert headword("D'URBAN, SIR BENJAMIN (1777-1849), British general", "Dubner", "Dyeing") == "D'URBAN, SIR BENJAMIN"
    assert (headword("EMBER DAYS and EMBER WEEKS, the four seasons", "Electrostatics", "Engis")
            == "EMBER DAYS and EMBER WEEKS")
    assert headword("CAPILLARY ACTION.[1] A tube, the bore of which", "Capefigue", "Carneades") == "CAPILLARY ACTION"
    assert headword("ANEMONE, or WIND-FLOWER, a genus", "Andros", "Anise") == "ANEMONE"
    assert classify_paragraph("ARTHROPODA. The Arachnida form a distinct class", *ranged).reason == "outside the range"
    assert headword("ARAL, a sea", *ranged) == "ARAL" and headword("APSE, an end", *ranged) == "APSE"
    assert classify_paragraph('"I, _A. B._, demand', "Hydrolysis", "Ireland").reason == "punctuation"
    assert headword("F     This is the sixth letter of the English alphabet", "Evangelical Church Conference",
                    "Fairbairn, Sir William") == "F"  # #36735's article on the letter


def test_ascii_structure_diagrams_are_left_out_with_their_atom_labels(shared_data):
    """DIPHENYL (#32689) draws four molecules in ASCII; one stood inside a prose paragraph and came out as
    ``acid, __ __ H2N / \\__/ \\ NH2 , … HOOC COOH or from phenanthrene``. The prose stays, the drawings go."""
    raw = (shared_data / "eb1911" / "gutenberg-10m" / "32689-eb1911-v8-s5-dinard-to-dodsworth.txt").read_bytes()
    cut = cut_slice(decode_gutenberg(raw, "32689-8.txt"))
    (article,) = [a for a in cut.articles if a.title == "DIPHENYL"]
    assert "diparadiaminodiphenyldiorthocarboxylic acid,\n\nor from phenanthrene (q.v.)" in article.content
    assert "_Orthoaminodiphenyl_," in article.content and "is prepared by the action of bromine" in article.content
    assert not any(mark in article.content for mark in ("__", "\\", "HOOC", "NH2 ,"))
    assert cut.removed.as_dict()["diagram"]["count"] == 3  # the fourth, phenazone's, has columns: a table


PROSE_WORD = st.from_regex(r"[A-Za-z]{3,10}[,.;]?", fullmatch=True)
PROSE_MARK = st.sampled_from(["1/2", "and/or", "(q.v.)", "3/4", "|", "--", "£21,000", "A/B", "x/y"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(PROSE_WORD, PROSE_MARK | st.just("")).map(" ".join), min_size=1, max_size=12)
                .map(lambda words: "  " + " ".join(words)), min_size=1, max_size=6))
def test_prose_lines_with_slashes_and_rules_are_never_taken_for_a_diagram(lines):
    """A line with at least as many words as marks (fractions, ``and/or``, a stray ``|``) is prose: kept."""
    kept, removed = remove_diagrams(lines)
    assert kept == lines and removed == []


def test_a_diagram_inside_a_paragraph_goes_and_its_prose_stays():
    lines = ["  diparadiaminodiphenyldiorthocarboxylic acid,", "         __    __", "    H2N /  \\__/  \\ NH2 ,",
             "        \\__/  \\__/", "           |  |", "        HOOC  COOH", "  or from phenanthrene (q.v.)."]
    kept, removed = remove_diagrams(lines)
    assert kept == [lines[0], lines[-1]] and removed == lines[1:-1]
    assert not is_drawing_line("  the ratio a/b of the two, or 1/2 in all") and is_drawing_line("    \\__/  \\__/")
