"""``evaluate --out``: one run per folder, and what a killed run left there removed (nothing else)."""

from __future__ import annotations

import fcntl

from babylm.commands.evaluate import main as evaluate_main
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR


def test_one_evaluate_per_folder_and_a_killed_runs_temporary_files_removed(tmp_path, llama_dir, capsys):
    out = tmp_path / "report"
    out.mkdir()
    left = [out / ".blimp.json.a1b2c3d4.tmp", out / ".notes.txt.a1b2c3d4.tmp"]
    for path in left:
        path.write_text("half")
    argv = ["--model", str(llama_dir), "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--limit", "2", "--device", "cpu",
            "--out", str(out)]
    with open(out / ".evaluate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert evaluate_main(argv) == 2
    assert "another evaluate is writing" in capsys.readouterr().err.strip().splitlines()[-1]
    assert evaluate_main(argv) == 0
    assert not left[0].exists() and left[1].read_text() == "half"  # ours removed, nothing else
    assert (out / "blimp.json").is_file()
