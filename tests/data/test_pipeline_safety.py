"""``prepare`` under concurrency, kills and damaged state: one run at a time, no orphans, nothing foreign lost."""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from babylm.data import pipeline

REPO = Path(__file__).resolve().parents[2]
PAGE_TEXT = "'''ABBEY,''' a building for monks and nuns, the home of a religious community under an abbot.\n"


def pages_file(tmp_path: Path, text: str = PAGE_TEXT) -> Path:
    path = tmp_path / "pages.json"
    path.write_text(json.dumps([{"title": "Page:EB1911 - Volume 01.djvu/43", "text": text}]), encoding="utf-8")
    return path


def ingest(tmp_path: Path, data: Path) -> int:
    return pipeline.main(["--source", "wikitext", "--wikitext-pages", str(pages_file(tmp_path)),
                          "--data-dir", str(data), "--val-fraction", "0.5"])


def test_a_second_prepare_on_the_same_folder_is_refused_in_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    with open(data / ".prepare.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert pipeline.main(["--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err == f"prepare: another prepare is running in {data}; wait for it or use another --data-dir\n"
    assert sorted(p.name for p in data.iterdir()) == [".prepare.lock"]


def test_temporary_files_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    data = tmp_path / "data"
    ours = [data / ".combined_encyclopedia.txt.a1b2c3d4.tmp", data / "corpus_split" / ".train.txt.zz_9y8x7.tmp",
            data / ".pipeline" / ".clean.json.abcdefgh.tmp",
            data / "britannica_txt" / "volume_01" / "part_01" / ".ABBEY.txt.q1w2e3r4.tmp",
            data / "britannica_data" / "volume_01" / "part_01" / ".ABBEY.json.12345678.tmp"]
    foreign = [data / ".notes.txt.a1b2c3d4.tmp", data / "corpus_split" / "keep.tmp", data / "corpus_split" / ".x.tmp"]
    for path in ours + foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (data / ".pipeline" / "source.json").write_text('{"source": "wikitext"}')
    assert ingest(tmp_path, data) == 0
    assert [p for p in ours if p.exists()] == []
    assert all(p.read_text() == "x" for p in foreign)


def test_sigkilled_prepare_runs_leave_no_temporary_file_behind(tmp_path):
    data = tmp_path / "data"
    command = [sys.executable, "-m", "babylm", "prepare", "--data-dir", str(data), "--force"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    rng = random.Random(7)
    kills = 0
    for _ in range(8):  # a forced run takes about half a second: the kills land in every stage
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.15, 0.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 4
    final = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert [p for p in data.rglob("*") if p.name.endswith(".tmp")] == []
    assert (data / "corpus_split" / "train.txt").stat().st_size > 0


def test_damaged_stamps_rerun_their_stage_and_a_damaged_source_record_is_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    assert ingest(tmp_path, data) == 0
    (data / ".pipeline" / "clean.json").write_text("[" * 100_000)
    (data / ".pipeline" / "split.json").write_text("[1, 2]")
    capsys.readouterr()
    assert ingest(tmp_path, data) == 0
    out = capsys.readouterr().out
    assert "prepare: clean: 1 articles" in out and "prepare: split: train" in out
    for text in ("[" * 100_000, "[]", '{"source": 3}', '{"source": "elsewhere"}'):
        (data / ".pipeline" / "source.json").write_text(text)
        assert ingest(tmp_path, data) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "source.json is damaged" in err


def test_an_ingest_never_replaces_a_folder_holding_files_it_did_not_write(tmp_path, capsys):
    data = tmp_path / "data"
    notes = data / "britannica_data" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("mine")
    (data / ".pipeline").mkdir()
    (data / ".pipeline" / "source.json").write_text('{"source": "wikitext"}')
    assert ingest(tmp_path, data) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt, which no ingest wrote" in err
    assert notes.read_text() == "mine"


def test_articles_prepare_did_not_put_there_are_never_replaced(tmp_path, capsys):
    data = tmp_path / "data"
    scraped = data / "britannica_data" / "volume_01" / "part_01" / "Abacus.json"
    scraped.parent.mkdir(parents=True)
    scraped.write_text('{"content": "a scrape of hours"}')
    assert ingest(tmp_path, data) == 2
    assert "prepare did not put there" in capsys.readouterr().err
    assert scraped.read_text() == '{"content": "a scrape of hours"}'


def test_an_ingest_killed_midway_is_undone_at_the_next_start(tmp_path, capsys):
    data = tmp_path / "data"
    assert ingest(tmp_path, data) == 0
    raw = data / "britannica_data"
    raw.rename(data / ".britannica_data.previous")  # as a kill in the middle of the re-ingest leaves it
    (raw / "volume_01" / "part_01").mkdir(parents=True)
    (raw / "volume_01" / "part_01" / "HALF.json").write_text("{")
    capsys.readouterr()
    assert ingest(tmp_path, data) == 0
    assert "restored" in capsys.readouterr().out
    assert sorted(p.name for p in raw.rglob("volume_*/part_*/*.json")) == ["ABBEY.json"]
    assert not (data / ".britannica_data.previous").exists()


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "data"
    path.write_text("x")
    assert pipeline.main(["--data-dir", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and path.read_text() == "x"
