"""The scraper's state files are not trusted: an edited or damaged one is refused in one line, never obeyed."""

from __future__ import annotations

import json

import pytest

from babylm.data.wikisource.sample.wiki import PREFIX


def edit_catalogue(out, change) -> None:
    path = out / "discovery.json"
    catalogue = json.loads(path.read_text(encoding="utf-8"))
    change(catalogue)
    path.write_text(json.dumps(catalogue), encoding="utf-8")


def abacus(catalogue) -> dict:
    return next(a for a in catalogue["articles"] if a["title"] == PREFIX + "Abacus")


@pytest.mark.parametrize("path", [
    "../../../../tmp/x.json", "/tmp/x.json", "volume_01/part_01/../../../x.json", "volume_01/part_01/.x.json",
    "volume_02/part_01/Abacus.json", "volume_01/part_01/sub/Abacus.json", "volume_01/part_01/Abacus.txt", "",
])
def test_an_article_path_outside_the_layout_is_refused(path, wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server()
    out = tmp_path / "out"
    assert run_scrape(server, out, "--limit", "1") == 0
    (out / "volume_01/part_01/Abacus.json").unlink()
    edit_catalogue(out, lambda c: abacus(c).update(path=path))
    assert run_scrape(server, out, "--limit", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "discovery.json is not a usable discovery file" in err and "--rediscover" in err
    if path.endswith(".json"):
        assert not (out / path).exists()  # nothing written where the edited path points
    assert run_scrape(server, out, "--limit", "1", "--rediscover") == 0
    assert (out / "volume_01/part_01/Abacus.json").is_file()


@pytest.mark.parametrize("change", [
    lambda c: abacus(c).update(volume="1"),
    lambda c: abacus(c).update(extra=1),
    lambda c: c.update(articles={"a": 1}),
    lambda c: c.update(skipped=[1]),
    lambda c: c.update(complete="yes"),
    lambda c: c["articles"].append(dict(abacus(c), title="Other")),  # two articles, one file
])
def test_wrong_typed_catalogue_fields_are_refused(change, wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server()
    assert run_scrape(server, tmp_path, "--limit", "1") == 0
    edit_catalogue(tmp_path, change)
    assert run_scrape(server, tmp_path, "--limit", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a usable discovery file" in err


@pytest.mark.parametrize("text", [
    "[]", "[" * 100_000, '{"failed_titles": []}', '{"failed_titles": {"A": {"tries": "5"}}}',
    '{"failed_titles": {"A": 3}}', '{"skipped_titles": {"A": 1}}', "\xff\xfe",
])
def test_a_damaged_progress_file_gives_the_one_line_delete_message(text, wiki_server, run_scrape, tmp_path, capsys):
    server = wiki_server()
    (tmp_path / "progress.json").write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    assert run_scrape(server, tmp_path, "--limit", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "progress.json" in err and "delete it to start the counts afresh" in err
    (tmp_path / "progress.json").unlink()
    assert run_scrape(server, tmp_path, "--limit", "1") == 0


@pytest.mark.parametrize("text", ["[" * 100_000, "\ufeff{", "null"])
def test_a_nested_or_garbled_catalogue_is_refused_in_one_line(text, wiki_server, run_scrape, tmp_path, capsys):
    (tmp_path / "discovery.json").write_text(text, encoding="utf-8")
    assert run_scrape(wiki_server(), tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a usable discovery file" in err
