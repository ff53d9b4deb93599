"""The README's quick start, run as a user runs it: every stage for real, on the bundled sample, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babylm.commands.quickstart import ARTIFACTS
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR as SAMPLE_BLIMP

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quickstart_runs_end_to_end_offline(tmp_path):
    workdir = tmp_path / "qs"
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("WANDB_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "babylm", "quickstart", "--workdir", str(workdir), "--steps", "12",
         "--blimp-dir", str(SAMPLE_BLIMP)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    for _, relative in ARTIFACTS:  # every artifact it announces exists, and is announced with its path
        assert (workdir / relative).exists(), relative
        assert str(workdir / relative) in done.stdout
    assert "(missing!)" not in done.stdout

    report = json.loads((workdir / "runs/eval/blimp.json").read_text())
    n_pairs = sum(1 for f in SAMPLE_BLIMP.glob("*.jsonl") for line in f.read_text().splitlines() if line.strip())
    assert report["overall"]["pairs"] == min(n_pairs, 100 * len(list(SAMPLE_BLIMP.glob("*.jsonl"))))
    assert 0.0 <= report["overall"]["accuracy"] <= 1.0
    assert (workdir / "runs/eval/blimp_phenomena.png").stat().st_size > 0

    student = workdir / "checkpoints/Tiny-Baby-Llama"
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (student / name).is_file(), name
    generated = done.stdout.split("=== generate", 1)[1].split("=== done", 1)[0]
    assert "The river" in generated and "<s>" not in generated and "</s>" not in generated


def test_workdir_that_is_not_the_quickstarts_is_refused_and_untouched(tmp_path, capsys):
    from babylm.commands.quickstart import main

    (tmp_path / "notes.txt").write_text("mine")
    for argv in (["--workdir", str(tmp_path)], ["--workdir", str(tmp_path), "--fresh"],
                 ["--workdir", str(tmp_path / "notes.txt"), "--fresh"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("quickstart: error: --workdir "), err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_fresh_deletes_only_what_the_quickstart_created(tmp_path):
    from babylm.commands.quickstart import claim_workdir, record_created

    workdir = tmp_path / "qs"
    claim_workdir(workdir, fresh=False)
    (workdir / "data").mkdir()
    (workdir / "data" / "corpus.txt").write_text("made by a stage")
    record_created(workdir, before=set())
    (workdir / "mine.txt").write_text("added by hand")  # not created by a stage: never deleted
    claim_workdir(workdir, fresh=True)
    assert sorted(p.name for p in workdir.iterdir()) == [".babylm-quickstart.json", "mine.txt"]


def test_fresh_keeps_a_file_added_inside_a_folder_the_quickstart_created(tmp_path):
    """`echo mine > runs/quickstart/checkpoints/my_notes.txt; quickstart --fresh` deleted my_notes.txt: the
    manifest recorded whole folders (checkpoints/), so --fresh removed everything in them."""
    from babylm.commands.quickstart import claim_workdir, record_created, snapshot

    workdir = tmp_path / "qs"
    claim_workdir(workdir, fresh=False)
    before = snapshot(workdir)
    (workdir / "checkpoints" / "tiny_teacher_llama").mkdir(parents=True)  # what a stage creates
    (workdir / "checkpoints" / "tiny_teacher_llama" / "last.ckpt").write_bytes(b"ckpt")
    (workdir / "checkpoints" / "tokenizer-clean.json").write_text("{}")
    record_created(workdir, before)
    (workdir / "checkpoints" / "my_notes.txt").write_text("mine\n")  # added by hand
    notice = claim_workdir(workdir, fresh=True)
    assert (workdir / "checkpoints" / "my_notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["my_notes.txt"]  # the rest is gone
    assert notice == (f"quickstart: --fresh deleted the 2 files it had created in {workdir} and kept 1 it did not "
                      "create (with their folders): checkpoints/my_notes.txt")
    (workdir / "checkpoints" / "my_notes.txt").unlink()  # once the user's file is gone, the folder can go too
    assert claim_workdir(workdir, fresh=True) is None and sorted(p.name for p in workdir.iterdir()) == [".babylm-quickstart.json"]


def test_fresh_after_an_old_manifest_of_whole_folders_deletes_nothing_inside_them(tmp_path):
    """A format-1 manifest named top-level folders only: which files in them were the quick start's is unknown."""
    from babylm.commands.quickstart import claim_workdir

    workdir = tmp_path / "qs"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "checkpoints" / "my_notes.txt").write_text("mine\n")
    (workdir / "combined.txt").write_text("made by a stage\n")
    (workdir / ".babylm-quickstart.json").write_text(json.dumps({"format": 1, "files": ["checkpoints", "combined.txt", "../x"]}))
    notice = claim_workdir(workdir, fresh=True)
    assert (workdir / "checkpoints" / "my_notes.txt").is_file() and not (workdir / "combined.txt").exists()
    assert notice.endswith("kept 1 it did not create (with their folders): checkpoints/my_notes.txt")
