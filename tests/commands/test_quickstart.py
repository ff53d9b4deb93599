"""The quick start: the recipe's ``tiny`` preset in ``runs/quickstart``, and its workdir — whose it is, what ``--fresh``
deletes (:mod:`babylm.commands.workdir`). ``tests/commands/test_recipe.py`` runs the tiny recipe end to end."""

from __future__ import annotations

import json
from functools import partial

from babylm.commands import workdir as workdirs
from babylm.commands.quickstart import build_parser, main

COMMAND = "quickstart"
claim_workdir = partial(workdirs.claim_workdir, command=COMMAND)
record_created = partial(workdirs.record_created, command=COMMAND)
snapshot = partial(workdirs.snapshot, command=COMMAND)


def test_it_takes_the_recipes_options_and_refuses_a_bad_blimp_dir_before_claiming_the_workdir(tmp_path, capsys):
    text = build_parser().format_help()
    assert all(option in text for option in ("--workdir", "--seed", "--control", "--fresh", "--steps", "--vocab-size"))
    assert main(["--workdir", str(tmp_path / "qs"), "--blimp-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f"babylm quickstart: error: --blimp-dir {tmp_path} is not a folder of "
                                               "BLiMP .jsonl files")
    assert not (tmp_path / "qs").exists()


def test_workdir_that_is_not_the_quickstarts_is_refused_and_untouched(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    for argv in (["--workdir", str(tmp_path)], ["--workdir", str(tmp_path), "--fresh"],
                 ["--workdir", str(tmp_path / "notes.txt"), "--fresh"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("babylm quickstart: error: --workdir "), err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_fresh_deletes_only_what_the_quickstart_created(tmp_path):
    workdir = tmp_path / "qs"
    claim_workdir(workdir, False)
    (workdir / "data").mkdir()
    (workdir / "data" / "corpus.txt").write_text("made by a stage")
    record_created(workdir, before=set())
    (workdir / "mine.txt").write_text("added by hand")  # not created by a stage: never deleted
    claim_workdir(workdir, True)
    assert sorted(p.name for p in workdir.iterdir()) == [".babylm-quickstart.json", "mine.txt"]


def test_fresh_keeps_a_file_added_inside_a_folder_the_quickstart_created(tmp_path):
    """`echo mine > runs/quickstart/checkpoints/my_notes.txt; quickstart --fresh` deleted my_notes.txt: the
    manifest recorded whole folders (checkpoints/), so --fresh removed everything in them."""
    workdir = tmp_path / "qs"
    claim_workdir(workdir, False)
    before = snapshot(workdir)
    (workdir / "checkpoints" / "tiny_teacher_llama").mkdir(parents=True)  # what a stage creates
    (workdir / "checkpoints" / "tiny_teacher_llama" / "last.ckpt").write_bytes(b"ckpt")
    (workdir / "checkpoints" / "tokenizer-clean.json").write_text("{}")
    record_created(workdir, before)
    (workdir / "checkpoints" / "my_notes.txt").write_text("mine\n")  # added by hand
    notice = claim_workdir(workdir, True)
    assert (workdir / "checkpoints" / "my_notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["my_notes.txt"]  # the rest is gone
    assert notice == (f"quickstart: --fresh deleted the 2 files it had created in {workdir} and kept 1 it did not "
                      "create (with their folders): checkpoints/my_notes.txt")
    (workdir / "checkpoints" / "my_notes.txt").unlink()  # once the user's file is gone, the folder can go too
    assert claim_workdir(workdir, True) is None
    assert sorted(p.name for p in workdir.iterdir()) == [".babylm-quickstart.json"]


def test_fresh_after_an_old_manifest_of_whole_folders_deletes_nothing_inside_them(tmp_path):
    """A format-1 manifest named top-level folders only: which files in them were the quick start's is unknown."""
    workdir = tmp_path / "qs"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "checkpoints" / "my_notes.txt").write_text("mine\n")
    (workdir / "combined.txt").write_text("made by a stage\n")
    old = {"format": 1, "files": ["checkpoints", "combined.txt", "../x"]}
    (workdir / ".babylm-quickstart.json").write_text(json.dumps(old))
    notice = claim_workdir(workdir, True)
    assert (workdir / "checkpoints" / "my_notes.txt").is_file() and not (workdir / "combined.txt").exists()
    assert notice.endswith("kept 1 it did not create (with their folders): checkpoints/my_notes.txt")
