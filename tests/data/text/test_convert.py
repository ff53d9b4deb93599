"""Convert stage: JSON → content-only text, skipping bad files, incremental and mirroring its input."""

from __future__ import annotations

import json
import logging
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babylm.data.text import convert
from babylm.data.text.convert import convert_tree, normalise_content
from tests.data.text_fixtures import write_article_json


def test_content_only_with_normalised_line_ends(tmp_path):
    data, out = tmp_path / "data", tmp_path / "txt"
    write_article_json(data, 4, 5, "BRESCIA", "\r\n\nBRESCIA (anc. Brixia), a city.  \r\n\r\nSecond paragraph.\n\n\n",
                       title="BRESCIA")
    stats = convert_tree(data, out)
    assert (stats.converted, stats.skipped) == (1, 0)
    text = (out / "volume_04" / "part_05" / "BRESCIA.txt").read_text(encoding="utf-8")
    assert text == "BRESCIA (anc. Brixia), a city.\n\nSecond paragraph.\n"


def test_malformed_and_empty_files_are_skipped_with_a_warning_and_counted(tmp_path, caplog):
    data, out = tmp_path / "data", tmp_path / "txt"
    write_article_json(data, 1, 1, "GOOD", "Some text.")
    write_article_json(data, 1, 1, "EMPTY", "   \n ")
    write_article_json(data, 1, 1, "NOT_TEXT", ["a", "list"])
    bad = data / "volume_01" / "part_01"
    (bad / "TRUNCATED.json").write_text('{"content": "cut sh', encoding="utf-8")
    (bad / "ARRAY.json").write_text("[1, 2]", encoding="utf-8")
    (bad / "LATIN1.json").write_bytes('{"content": "caf\xe9"}'.encode("latin-1"))
    (data / "progress.json").write_text("{}", encoding="utf-8")  # the scraper's state file: ignored
    with caplog.at_level(logging.WARNING, logger="babylm.data.text.convert"):
        stats = convert_tree(data, out)
    assert (stats.converted, stats.skipped) == (1, 5)
    assert sorted(p.name for p in out.rglob("*.txt")) == ["GOOD.txt"]
    warned = "\n".join(caplog.messages)
    for name in ("EMPTY", "NOT_TEXT", "TRUNCATED", "ARRAY", "LATIN1"):
        assert f"{name}.json" in warned


def test_incremental_runs_skip_fresh_files_and_remove_stale_ones(tmp_path):
    data, out = tmp_path / "data", tmp_path / "txt"
    first = write_article_json(data, 1, 1, "FIRST", "one")
    second = write_article_json(data, 1, 2, "SECOND", "two")
    assert convert_tree(data, out).converted == 2
    again = convert_tree(data, out)
    assert (again.converted, again.up_to_date) == (0, 2)
    # An edited article is converted again; a deleted one loses its text file; a broken one too.
    write_article_json(data, 1, 1, "FIRST", "one, edited")
    later = first.stat().st_mtime_ns + 10**9
    os.utime(first, ns=(later, later))
    second.unlink()
    stats = convert_tree(data, out)
    assert (stats.converted, stats.up_to_date, stats.removed_stale) == (1, 0, 1)
    assert (out / "volume_01" / "part_01" / "FIRST.txt").read_text(encoding="utf-8") == "one, edited\n"
    first.write_text("{broken", encoding="utf-8")
    os.utime(first, ns=(later + 10**9, later + 10**9))
    stats = convert_tree(data, out)
    assert (stats.skipped, stats.removed_stale) == (1, 1)
    assert not list(out.rglob("*.txt"))
    assert convert_tree(data, out, force=True).skipped == 1


def test_a_text_file_convert_did_not_write_is_never_deleted(tmp_path, capsys):
    """Stale-file removal deleted any volume_*/part_*/*.txt without a JSON, also one added by hand."""
    data, out = tmp_path / "data", tmp_path / "txt"
    write_article_json(data, 1, 1, "FIRST", "one")
    assert convert_tree(data, out).converted == 1
    mine = out / "volume_01" / "part_02" / "MY_NOTES.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine\n", encoding="utf-8")
    write_article_json(data, 1, 1, "SECOND", "two")
    assert convert.main(["--input", str(data), "--output", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"convert: {out} holds volume_01/part_02/MY_NOTES.txt, which convert did not write and no article "
                    "mirrors; it would enter the corpus: move it away, or use another --output")
    assert mine.read_text(encoding="utf-8") == "mine\n" and not (out / "volume_01" / "part_01" / "SECOND.txt").exists()


def test_main_reports_counts_and_a_missing_input_in_one_line(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "txt"
    write_article_json(data, 2, 1, "A", "text")
    assert convert.main(["--input", str(data), "--output", str(out)]) == 0
    assert "1 converted" in capsys.readouterr().out
    assert convert.main(["--input", str(tmp_path / "nowhere"), "--output", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "nowhere" in error


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8")))
def test_any_bytes_as_an_article_file_never_crash_the_stage(tmp_path_factory, raw):
    data = tmp_path_factory.mktemp("data")
    path = data / "volume_01" / "part_01" / "X.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    stats = convert_tree(data, data.parent / (data.name + "_txt"))
    assert stats.converted + stats.skipped == 1


def test_surrogates_and_deep_nesting_are_skipped_and_a_bom_is_accepted(tmp_path, caplog):
    data, out = tmp_path / "data", tmp_path / "txt"
    folder = data / "volume_01" / "part_01"
    folder.mkdir(parents=True)
    (folder / "SURROGATE.json").write_text('{"content": "a \\ud800 b"}', encoding="utf-8")
    (folder / "NESTED.json").write_text("[" * 100_000, encoding="utf-8")
    (folder / "BOM.json").write_bytes(b"\xef\xbb\xbf" + b'{"content": "With a BOM."}')
    write_article_json(data, 1, 1, "GOOD", "Some text.")
    with caplog.at_level(logging.WARNING, logger="babylm.data.text.convert"):
        stats = convert_tree(data, out)
    assert (stats.converted, stats.skipped) == (2, 2)
    assert (out / "volume_01" / "part_01" / "BOM.txt").read_text(encoding="utf-8") == "With a BOM.\n"
    warned = "\n".join(caplog.messages)
    assert "SURROGATE.json: field 'content' holds a lone surrogate U+D800" in warned
    assert "NESTED.json: malformed: not valid JSON (nested too deeply)" in warned


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=10),
       st.sampled_from(["", "\ufeff"]))
def test_any_json_value_as_an_article_file_never_crashes_the_stage(tmp_path_factory, value, bom):
    data = tmp_path_factory.mktemp("data")
    path = data / "volume_01" / "part_01" / "X.json"
    path.parent.mkdir(parents=True)
    path.write_text(bom + json.dumps({"content": value}), encoding="utf-8")
    stats = convert_tree(data, data.parent / (data.name + "_txt"))
    assert stats.converted + stats.skipped == 1


def test_normalise_content_is_idempotent_and_blank_is_empty():
    assert normalise_content(" \n\t\n") == ""
    once = normalise_content("\r\na \r\n\r\nb\r")
    assert once == "a\n\nb\n" and normalise_content(once) == once


def test_an_empty_input_tree_is_refused_and_no_text_is_removed(tmp_path, capsys):
    out = tmp_path / "txt"
    kept = out / "volume_01" / "part_01" / "Abbey.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text("Abbey text.", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    assert convert.main(["--input", str(tmp_path / "empty"), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty: no article JSON files" in err[0] and "run the scrape or an ingest stage" in err[0]
    assert kept.read_text(encoding="utf-8") == "Abbey text."
