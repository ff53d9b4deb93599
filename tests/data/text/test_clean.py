"""The cleaner: each named rule on real EB1911 snippets, the composed chain, the file stage and its CLI."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babylm.data.text import clean
from babylm.data.text.clean import clean_corpus, clean_text, iter_articles, iter_blocks, residual_markup_counts
from babylm.data.text.clean_rules import (
    LOSSY_RULE_NAMES,
    RULE_NAMES,
    RULES,
    hyphenation_rule,
    join_hyphenated_words,
    select_rules,
)
from babylm.data.text.hyphenation import _pairs, collect_evidence
from tests.data.text_fixtures import OCR_VOLUME, ocr_lines, pg_articles, pg_slice_path, pg_slice_text, wikisource_pages  # noqa: F401

LOSSLESS = select_rules()
RULE = {rule.name: rule.apply for rule in RULES}


def lines_from(lines: list[str], anchor: str, count: int) -> str:
    """``count`` lines of ``lines`` starting at the first one containing ``anchor``, joined by newlines."""
    start = next(i for i, line in enumerate(lines) if anchor in line)
    return "\n".join(lines[start: start + count])


def pg_lines(pg_slice_text: str) -> list[str]:
    return pg_slice_text.split("\n")


# ------------------------------------------------------------------------------------------ the rule list
def test_rules_are_named_documented_and_lossy_ones_are_off_by_default():
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    assert all(rule.summary for rule in RULES)
    assert set(LOSSY_RULE_NAMES) == {"strip_accents", "recase_headwords"}
    assert not {rule.name for rule in select_rules()} & set(LOSSY_RULE_NAMES)
    assert {rule.name for rule in select_rules(strip_accents=True, recase_headwords=True)} == set(RULE_NAMES)


# ------------------------------------------------------------------------------ what must go (real text)
def test_page_marker_split_over_a_line_end_goes_and_the_sentence_closes_up(pg_slice_text):
    snippet = lines_from(pg_lines(pg_slice_text), "_Grinding_.--In most modern breweries", 2)
    assert "[v.04\np.0509]" in snippet
    cleaned = clean_text(snippet)
    assert "[v.04" not in cleaned and "p.0509" not in cleaned
    assert "passes, on its way from the bins to the mill" in " ".join(cleaned.split())


def test_illustration_captions_and_sidenotes_go(pg_slice_text):
    lines = pg_lines(pg_slice_text)
    caption = lines_from(lines, "[Illustration: BREWING", 9)
    sidenote = lines_from(lines, "[Sidenote: Hollow", 2)
    assert clean_text(caption) == ""
    cleaned = clean_text(sidenote)
    assert "Sidenote" not in cleaned and "Hollow walls" not in cleaned
    assert "an outer skin usually half a brick thick" in " ".join(cleaned.split())


def test_ocr_page_number_and_running_head_go(ocr_lines):
    snippet = lines_from(ocr_lines, "the crying of wares before the booths", 5)
    assert [line.strip() for line in snippet.split("\n")[1:4]] == [
        "236", "ADVERTISEMENT", "was the first form of advertisement which had any marked effect"]
    cleaned = clean_text(snippet).split("\n")
    assert cleaned[0].endswith("on the banks of the Stour")
    assert cleaned[1].startswith("was the first form of advertisement")
    assert "236" not in "\n".join(cleaned) and "ADVERTISEMENT" not in "\n".join(cleaned)


def test_ocr_line_end_hyphenation_is_joined_but_real_hyphens_stay(ocr_lines):
    snippet = lines_from(ocr_lines, "chance of danger ; so a hazard-", 2)
    assert "hazard- \nous" in snippet
    assert "a hazardous enterprise" in clean_text(snippet)
    declaring = clean_text(lines_from(ocr_lines, "signed by the shipmaster de-", 2))
    assert "shipmaster declaring that" in declaring
    assert clean_text("north-east of the town") == "north-east of the town"
    assert clean_text("the Seven-\nYears War") == "the Seven-\nYears War"  # capital after the break: kept


def test_line_end_compounds_keep_their_hyphen(shared_cases):
    """``../shared/cases/corpus/hyphen_compounds.txt``: compounds kept, broken words joined."""
    cleaned = clean_text((shared_cases / "corpus" / "hyphen_compounds.txt").read_text(encoding="utf-8"))
    for compound in ("twenty-one", "self-governing", "well-known", "so-called", "cross-sectional"):
        assert cleaned.count(compound) == 1, compound
    assert cleaned.count("north-west") == 2 and cleaned.count("charter-party") == 2
    assert "The hazardous voyage ended in a general celebration." in cleaned
    assert "-\n" not in cleaned


def test_hyphenation_follows_the_corpus_evidence_on_the_real_ocr_volume(shared_data):
    """Vol. I OCR: no line-end join makes a word the text never has while it has the hyphenated one.

    Counted as in BENCHMARKS.md: a join ``L-⏎R`` → ``LR`` is wrong when ``L-R`` occurs in-line elsewhere
    and ``LR`` nowhere else. The old rule (join whenever both sides are lower-case) made 45 of 1,771 such joins.
    """
    path = shared_data / OCR_VOLUME
    evidence = collect_evidence(lambda: iter_blocks(path.read_text(encoding="utf-8").splitlines()))
    decisions = Counter()
    text = path.read_text(encoding="utf-8")
    cleaned = "\n".join(hyphenation_rule(evidence, decisions).apply(block) for block in iter_blocks(text.splitlines()))
    assert sum(decisions.values()) == 1771
    cleaned_words = set(cleaned.casefold().split())
    wrong = [(left, right) for left, right, _ in _pairs(text)
             if (left + right).casefold() in cleaned_words and not evidence.words[(left + right).casefold()]
             and evidence.hyphenated[f"{left}-{right}".casefold()]]
    assert wrong == []
    assert decisions["kept: hyphenated form attested"] == 62 and decisions["joined: fused form attested"] == 1356
    for kept in ("well-known", "south-eastern", "sixty-four", "steam-engine", "cross-bred", "pleuro-pneumonia"):
        assert kept in cleaned, kept


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["north", "west", "-\n", "-", " ", "\n", "hazard", "ous", "Anglo", "twenty", "one",
                                 "ing", "é"]),
                max_size=30).map("".join))
def test_hyphenation_only_touches_line_end_hyphens_and_is_idempotent(text):
    once = join_hyphenated_words(text)
    assert join_hyphenated_words(once) == once or "-\n" in once
    if "-" not in text:
        assert once == text
    assert once.replace("-", "").replace("\n", "").replace(" ", "").replace("\t", "") == \
        text.replace("-", "").replace("\n", "").replace(" ", "").replace("\t", "")


def test_footnote_markers_go_but_footnote_text_stays(pg_slice_text):
    snippet = lines_from(pg_lines(pg_slice_text), "BRISTOL, GEORGE DIGBY, 2ND EARL OF[1]", 1)
    assert clean_text(snippet).startswith("BRISTOL, GEORGE DIGBY, 2ND EARL OF (1612-1677)")
    assert clean_text("[Footnote 1: See above.]") == "See above."


def test_editorial_brackets_resolve_to_the_characters_they_stand_for(pg_slice_text):
    lines = pg_lines(pg_slice_text)
    assert "Canonical Pāli" in clean_text(lines_from(lines, "AUTHORITIES ON THE LIFE OF THE BUDDHA.--Canonical P[=a]li",
                                                     1))
    assert "county of Modruš-Fiume" in clean_text(lines_from(lines, "county of Modru[vs]-Fiume", 1))
    britain = clean_text(lines_from(lines, "BRITAIN (Gr. [Greek: Pretanikai", 1))
    assert "BRITAIN (Gr. Pretanikai nêsoi, Brettania; Lat. Britannia" in britain
    assert clean_text("f = 4.4 (1+½[phi]) and [root]P, [inf]") == "f = 4.4 (1+½φ) and √P, ∞"
    # the dot below, written after its letter too ("[h.] 'h with dot below'", the 10M-word slices' own notes)
    assert clean_text("a _ma[h.]kama_; Ba[.s]ra; BAI[D.]ĀWĪ") == "a maḥkama; Baṣra; BAIḌĀWĪ"


def test_residual_wiki_markup_goes_and_greek_stays(wikisource_pages):
    page = next(p for p in wikisource_pages if p["volume"] == 1 and p["page_number"] == 43)
    cleaned = clean_text(page["raw_text"])
    assert sum(residual_markup_counts(cleaned).values()) == 0
    assert "ABBESS" not in cleaned.split("\n")[0]  # the running head inside <noinclude> is gone
    assert "known as Laurae, Λαὒραι, \"streets\" or \"lanes.\"" in cleaned
    assert "coenobian (κοινός, common, and βίος, life)" in cleaned
    assert "3 p.m., up to which hour" in cleaned  # {{sc|p.m.}} and &nbsp; rendered


def test_gutenberg_italics_go_and_dashes_become_em_dashes(pg_slice_text):
    snippet = lines_from(pg_lines(pg_slice_text), "AUTHORITIES.--F. Cabrol", 1)
    assert clean_text(snippet).startswith("AUTHORITIES.—F. Cabrol, Introduction aux études liturgiques; Probst")


def test_sub_and_superscript_notation_is_resolved():
    assert clean_text("C_{12}H_{22}O_{11}, W_l and l_1, x^{2}, XIII^{me}") == "C12H22O11, Wl and l1, x², XIIIme"


def test_quotes_are_normalised_and_the_reference_no_op_is_fixed():
    assert clean_text("Clark’s “cells” ‘here’ „low“") == "Clark's \"cells\" 'here' \"low\""
    assert clean_text("5′ 3″ « Dieu »") == "5′ 3″ « Dieu »"  # primes and guillemets are not quotes


def test_unicode_and_whitespace_rules():
    assert (clean_text("soft\u00adhy\u200bphen  and\tmore\u00a0space \ufb01ne\r\n\n\n  next  ")
            == "softhyphen and more space fine\nnext")
    assert clean_text("e\u0301te\u0301") == "été"  # NFC


# ---------------------------------------------------------------------------- what must stay (real text)
def test_numbers_punctuation_and_accents_survive_cleaning(pg_slice_text):
    lines = pg_lines(pg_slice_text)
    brescia = clean_text(lines_from(lines, "BRESCIA (anc. _Brixia_)", 3))
    assert brescia.startswith("BRESCIA (anc. Brixia), a city and episcopal see of Lombardy, Italy, the")
    assert "52 m. E. of Milan and 40 m. W. of Verona by rail. Pop. (1901) town," in brescia
    accents = clean_text(lines_from(lines, "researches into the French communes. To the _Table chronologique des", 3))
    assert "diplômes, chartes, lettres, et actes imprimés" in " ".join(accents.split())


def test_lossy_rules_only_when_asked(pg_slice_text):
    snippet = lines_from(pg_lines(pg_slice_text), "BRÉQUIGNY, LOUIS GEORGE OUDARD FEUDRIX DE", 1)
    assert clean_text(snippet).startswith("BRÉQUIGNY, LOUIS GEORGE OUDARD FEUDRIX DE")
    both = select_rules(strip_accents=True, recase_headwords=True)
    assert clean_text(snippet, both).startswith("Brequigny, Louis George Oudard Feudrix de (")
    assert clean_text("BRIGHT'S DISEASE, a term", select_rules(recase_headwords=True)) == "Bright's Disease, a term"
    assert clean_text("BRIDGEWATER, FRANCIS EGERTON, 3RD DUKE OF (1736", select_rules(recase_headwords=True)) == (
        "Bridgewater, Francis Egerton, 3rd Duke of (1736"
    )
    assert clean_text("βίος", select_rules(strip_accents=True)) == "βιος"


def test_the_whole_real_slice_cleans_to_no_residual_markup(pg_articles):
    _, articles = pg_articles
    cleaned = list(clean_corpus(article.content for article in articles))
    assert len(cleaned) == len(articles)
    total = sum((residual_markup_counts(text) for text in cleaned), start=residual_markup_counts(""))
    assert sum(total.values()) == 0, total
    text = "\n".join(cleaned)
    assert "BRÉQUIGNY" in text and "Bréquigny" in text and "Pāli" in text
    assert "[v.04" not in text
    assert "C36H62O31" in text and "SiO2" in text  # Gutenberg sub/superscript notation resolved


# ----------------------------------------------------------------------------------------- properties
MARKUP_PIECES = st.sampled_from(
    list("aAé -_[]{}|<>/'\"=:.;&#1\n\t\u00ad\u200b\u2019\u201c\xa0\u0301")
    + ["&amp;", "&nbsp;", "''", "{{sc|", "}}", "[[", "]]", "<s>", "</s>", "<br>", "[v.04 p.0498]", "[1]",
       "[=a]", "--", "[Illustration:", "{|", "|}", "<math>", "</math>", "12", "ABC", "&lt;", "[alpha]",
       "[Greek: ", "<ref>", "_x_", "-\n", "BRESCIA (", "Ça"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MARKUP_PIECES, max_size=40).map("".join), st.booleans(), st.booleans())
def test_cleaning_is_idempotent(text, strip_accents, recase_headwords):
    rules = select_rules(strip_accents=strip_accents, recase_headwords=recase_headwords)
    once = clean_text(text, rules)
    assert clean_text(once, rules) == once
    lines = once.split("\n") if once else []
    assert all(line and line == line.strip() for line in lines)  # no empty lines, no outer spaces
    assert "<s>" not in lines and "</s>" not in lines


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_cleaning_never_crashes_on_arbitrary_text(text):
    assert isinstance(clean_text(text, select_rules(strip_accents=True, recase_headwords=True)), str)


# ---------------------------------------------------------------------------------------- file and CLI
def test_clean_stage_writes_the_documented_format(tmp_path):
    combined = tmp_path / "combined.txt"
    combined.write_text("BREST, a seaport.\nSecond [1] paragraph.\n\n{{sc|}}\n\nBRIE (''Briegus''), a district.\n\n",
                        encoding="utf-8")
    output = tmp_path / "cleaned.txt"
    assert clean.main(["--input", str(combined), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert text == "<s>\nBREST, a seaport.\nSecond paragraph.\n</s>\n\n<s>\nBRIE (Briegus), a district.\n</s>\n\n"
    assert list(iter_articles(text.splitlines(keepends=True))) == ["BREST, a seaport.\nSecond paragraph.",
                                                                   "BRIE (Briegus), a district."]
    assert clean.main(["--input", str(combined), "--output", str(output), "--recase-headwords"]) == 0
    assert output.read_text(encoding="utf-8").startswith("<s>\nBrest, a seaport.")


def test_clean_stage_reports_a_missing_input_in_one_line(tmp_path, capsys):
    assert clean.main(["--input", str(tmp_path / "absent.txt"), "--output", str(tmp_path / "out.txt")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "absent.txt" in error and "combine" in error
    assert not (tmp_path / "out.txt").exists()


def test_clean_list_rules_prints_every_rule(capsys):
    assert clean.main(["--list-rules"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RULE_NAMES) and "lossy" in out


def test_residual_markup_counter_finds_leftovers():
    counts = residual_markup_counts("{{sc|x}} [[a]] <span> &amp; [v.04 p.0498] _it_ [=a] '''b'''")
    assert {kind for kind, n in counts.items() if n} >= {
        "template", "wiki_link", "html_tag", "html_entity", "page_marker", "gutenberg_italic", "editorial_bracket",
        "wiki_emphasis",
    }
    assert json.dumps(counts)  # plain ints, for the benchmark report


def test_an_empty_or_blank_combined_file_is_refused(tmp_path, capsys):
    for text in ("", "\n\n   \n"):
        source = tmp_path / "combined.txt"
        source.write_text(text, encoding="utf-8")
        assert clean.main(["--input", str(source), "--output", str(tmp_path / "cleaned.txt")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "combined.txt: no articles (the file is empty or blank)" in err[0], err
        assert "run the combine stage" in err[0]
        assert not (tmp_path / "cleaned.txt").exists() and not (tmp_path / "cleaned.report.json").exists()
