"""Every stage's own entry point keeps the promises ``prepare`` keeps: one writer per folder, nothing of anyone
else's overwritten, nothing a killed run left behind kept.

Issue 24: ``python -m babylm.data.sources.wikitext base.xml --out DIR`` overwrote an ``ABBESS.json`` and an
``ingest_report.json`` it had not written (``prepare`` refuses that tree; the stage command did not), and a
wikitext ingest killed while reading its input left a 50 MB ``.wikitext-ingest-*/pages.sqlite`` that no later
run removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babylm.data.sources import gutenberg, wikitext
from babylm.data.text import clean, combine, convert, split
from babylm.data.tokens import tokenizer
from tests.data.text_fixtures import write_article_json

REPO = Path(__file__).resolve().parents[2]
ABBESS = "'''ABBESS,''' the female superior of a community of nuns, called an abbey or convent."
SLICE = ('Title: Encyclopaedia Britannica, 11th Edition, Volume 1, Slice 1\n\n*** START OF THIS PROJECT GUTENBERG '
         'EBOOK ***\n\nABBESS, the female superior of a community of nuns.\n\nABBEY, a monastery.\n\n'
         '*** END OF THIS PROJECT GUTENBERG EBOOK ***\n')


def pages_file(path: Path, text: str = ABBESS) -> Path:
    path.write_text(json.dumps([{"title": "Page:EB1911 - Volume 01.djvu/42", "text": text}]), encoding="utf-8")
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_an_ingest_never_overwrites_an_article_or_report_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "DIR"
    mine = write_article_json(out, 1, 1, "ABBESS", "my own notes")
    (out / "ingest_report.json").write_text('{"mine": true}', encoding="utf-8")
    assert wikitext.main([str(pages_file(tmp_path / "base.json")), "--out", str(out)]) == 2
    err = one_line(capsys)
    assert "holds ingest_report.json and 1 more, which this ingest did not write" in err
    assert mine.read_text(encoding="utf-8").count("my own notes") == 1
    assert (out / "ingest_report.json").read_text(encoding="utf-8") == '{"mine": true}'
    (tmp_path / "slice.txt").write_text(SLICE, encoding="utf-8")
    assert gutenberg.main([str(tmp_path / "slice.txt"), "--out", str(out)]) == 2
    assert "did not write" in one_line(capsys)
    assert mine.read_text(encoding="utf-8").count("my own notes") == 1


@pytest.mark.parametrize("content", ["x", '{"written_by": "me", "files": []}'])
def test_an_ingest_never_overwrites_a_record_file_it_did_not_write(tmp_path, capsys, content):
    """A file named like the ingest's record, but not one (a newcomer's ``x``), is refused, not rewritten."""
    out = tmp_path / "DIR"
    out.mkdir()
    (out / ".babylm-ingest.json").write_text(content, encoding="utf-8")
    (tmp_path / "slice.txt").write_text(SLICE, encoding="utf-8")
    assert gutenberg.main([str(tmp_path / "slice.txt"), "--out", str(out)]) == 2
    assert "holds .babylm-ingest.json, which is not this ingest's record" in one_line(capsys)
    assert (out / ".babylm-ingest.json").read_text(encoding="utf-8") == content
    assert not list(out.glob("volume_*"))


def test_an_ingest_rewrites_its_own_tree_and_the_two_ingests_may_share_one(tmp_path, capsys):
    out = tmp_path / "DIR"
    assert wikitext.main([str(pages_file(tmp_path / "a.json")), "--out", str(out)]) == 0
    assert wikitext.main([str(pages_file(tmp_path / "a.json", ABBESS + " More.")), "--out", str(out)]) == 0
    (tmp_path / "slice.txt").write_text(SLICE.replace("ABBESS,", "ABBOT,"), encoding="utf-8")
    assert gutenberg.main([str(tmp_path / "slice.txt"), "--out", str(out)]) == 0
    articles = {p.relative_to(out).as_posix() for p in out.glob("volume_*/part_*/*.json")}
    record = json.loads((out / ".babylm-ingest.json").read_text(encoding="utf-8"))
    assert articles | {"ingest_report.json"} <= set(record["files"])
    assert "More." in (out / "volume_01" / "part_01" / "ABBESS.json").read_text(encoding="utf-8")


def test_an_ingest_and_a_scrape_do_not_share_a_tree(tmp_path, capsys):
    out = tmp_path / "scraped"
    out.mkdir()
    (out / "discovery.json").write_text("{}", encoding="utf-8")
    assert wikitext.main([str(pages_file(tmp_path / "a.json")), "--out", str(out)]) == 2
    assert "a scrape's discovery.json" in one_line(capsys)


def test_one_writer_at_a_time_per_article_tree(tmp_path, capsys):
    out = tmp_path / "DIR"
    out.mkdir()
    with open(out / ".articles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert wikitext.main([str(pages_file(tmp_path / "a.json")), "--out", str(out)]) == 2
    assert "another scrape or ingest is writing" in one_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == [".articles.lock"]


def test_a_killed_wikitext_ingest_leaves_nothing_the_next_run_keeps(tmp_path):
    """SIGKILL while the input streams into the page store; the next run removes the store (50 MB each, before)."""
    big = tmp_path / "big.json"
    pages = [{"title": f"Page:EB1911 - Volume 01.djvu/{n}", "text": f"'''HEAD{n}''' " + "word " * 200}
             for n in range(1, 9000)]
    big.write_text(json.dumps(pages), encoding="utf-8")
    out = tmp_path / "data" / "britannica_data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "babylm.data.sources.wikitext", str(big), "--out", str(out)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if list(tmp_path.rglob("pages.sqlite")):
            break
        time.sleep(0.01)
    assert process.poll() is None, "the ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert list(tmp_path.rglob("pages.sqlite"))  # the store a killed run leaves
    assert wikitext.main([str(pages_file(tmp_path / "small.json")), "--out", str(out)]) == 0
    assert list(tmp_path.rglob("pages.sqlite")) == []
    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".wikitext-ingest")] == []


# ------------------------------------------------------------------------------------------ text stages
@pytest.fixture
def stage_inputs(tmp_path):
    """A text tree, a combined file and a cleaned file, each as the stage before would write it."""
    write_article_json(tmp_path / "raw", 1, 1, "Abbey", "An abbey is a monastery.\n\nIt has monks.")
    write_article_json(tmp_path / "raw", 1, 1, "Abbot", "An abbot is its head.")
    assert convert.main(["--input", str(tmp_path / "raw"), "--output", str(tmp_path / "txt")]) == 0
    (tmp_path / "combined.txt").write_text("An abbey is a monastery.\n\nAn abbot is its head.\n\n", encoding="utf-8")
    (tmp_path / "cleaned.txt").write_text("<s>\nAn abbey is a monastery.\n</s>\n\n<s>\nAn abbot is its head.\n</s>\n\n",
                                          encoding="utf-8")
    return tmp_path


STAGES = {  # name → (main, argv(tmp, out folder), the files it writes into the out folder, its lock)
    "combine": (combine.main, lambda t, o: ["--input", str(t / "txt"), "--output", str(o / "combined.txt")],
                ["combined.txt"], ".combine.lock"),
    "clean": (clean.main, lambda t, o: ["--input", str(t / "combined.txt"), "--output", str(o / "cleaned.txt")],
              ["cleaned.txt", "cleaned.report.json"], ".clean.lock"),
    "split": (split.main, lambda t, o: ["--input", str(t / "cleaned.txt"), "--output-dir", str(o), "--val-fraction",
                                        "0.5"], ["train.txt", "val.txt", "split_report.json"], ".split.lock"),
    "tokenizer": (tokenizer.main, lambda t, o: ["--train", str(t / "cleaned.txt"), "--val", "", "--out",
                                                 str(o / "tok.json"), "--hf-dir", "", "--vocab-size", "300"],
                  ["tok.json"], ".tok.json.lock"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_never_overwrites_a_file_it_did_not_write(stage_inputs, stage, capsys):
    main, argv, names, _ = STAGES[stage]
    out = stage_inputs / "out"
    out.mkdir()
    (out / names[0]).write_text("mine\n", encoding="utf-8")
    assert main(argv(stage_inputs, out)) == 2
    assert names[0] in capsys.readouterr().err.strip().splitlines()[-1]
    assert (out / names[0]).read_text(encoding="utf-8") == "mine\n"
    (out / names[0]).unlink()
    assert main(argv(stage_inputs, out)) == 0  # its own output: written, then rewritten
    assert main(argv(stage_inputs, out)) == 0


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_run_alone_takes_its_lock_and_removes_what_a_killed_run_left(stage_inputs, stage, capsys):
    main, argv, names, lock = STAGES[stage]
    out = stage_inputs / "out"
    out.mkdir()
    left = [out / f".{names[0]}.a1b2c3d4.tmp", out / ".someone-else.a1b2c3d4.tmp"]
    for path in left:
        path.write_text("half")
    with open(out / lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert main(argv(stage_inputs, out)) == 2
    assert "another" in capsys.readouterr().err.strip().splitlines()[-1]
    assert main(argv(stage_inputs, out)) == 0
    assert not left[0].exists() and left[1].read_text() == "half"  # ours removed, nothing else


def test_convert_run_alone_takes_its_lock_and_removes_what_a_killed_run_left(stage_inputs, capsys):
    txt = stage_inputs / "txt"
    left = txt / "volume_01" / "part_01" / ".Abbey.txt.a1b2c3d4.tmp"
    left.write_text("half")
    argv = ["--input", str(stage_inputs / "raw"), "--output", str(txt), "--force"]
    with open(txt / ".convert.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert convert.main(argv) == 2
    assert "another convert is writing" in one_line(capsys)
    assert convert.main(argv) == 0 and not left.exists()
