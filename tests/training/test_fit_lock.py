"""One writer per folder: a ``fit`` holds a lock beside each folder it writes, and a second run is refused in one line.

Issue 24: two ``fit`` runs into one ``checkpoint.dirpath`` at once both finished with exit code 0, overwriting each
other's milestone checkpoints and ``chck_*`` exports and leaving ``last.ckpt`` + ``last-v1.ckpt``. The other run is
stood in for by this test holding the lock with ``fcntl`` (as ``prepare``'s, ``encode``'s and ``scrape``'s tests do):
the lock is the OS's, whichever process holds it.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from babylm.cli import main
from tests.training.teacher_fixtures import fit_argv, tiny_data  # noqa: F401 (fixture)

QUIET = ("--trainer.max_steps", "1", "--word_checkpoints.milestones", "[]")


def hold(lock: Path):
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a")  # noqa: SIM115 - held by the test, closed by it
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error:" in line]


@pytest.mark.parametrize("folder, key", [("ckpt", "checkpoint.dirpath"), ("export", "model.init_args.export_dir"),
                                         ("milestones", "word_checkpoints.dirpath")])
def test_a_second_fit_into_a_folder_another_run_writes_is_refused(tiny_data, tmp_path, capsys, folder, key):
    held = hold(tmp_path / f".{folder}.lock")
    try:
        argv = fit_argv(tmp_path, tiny_data, *QUIET, "--word_checkpoints.dirpath", str(tmp_path / "milestones"),
                        logger="none")
        assert main(argv) == 2
    finally:
        held.close()
    (line,) = errors(capsys)
    assert line == f"babylm fit: error: {key} {tmp_path / folder}: another fit or export is writing there"
    # only locks: nothing written
    assert all(p.name.startswith(".") and p.name.endswith(".lock") for p in tmp_path.iterdir())


def test_export_into_a_folder_a_fit_writes_is_refused_and_the_lock_is_released_after_the_run(tiny_data, tmp_path,
                                                                                              capsys):
    argv = fit_argv(tmp_path, tiny_data, *QUIET, logger="none")
    assert main(argv) == 0  # the run took its locks and let them go: a second run may follow it
    assert main(argv[:-len(QUIET)] + ["--trainer.max_steps", "2", "--word_checkpoints.milestones", "[]",
                                       "--ckpt_path", "last"]) == 0
    held = hold(tmp_path / ".export.lock")
    try:
        code = main(["export", "--ckpt", str(tmp_path / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "export")])
    finally:
        held.close()
    assert code == 2
    assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("babylm export")] == [
        f"babylm export: --out {tmp_path / 'export'}: another babylm run is writing this export; wait for it, or "
        "export elsewhere"]
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("last*.ckpt")) == ["last.ckpt"]
