"""benchmarks/bench_hybrid.py cannot rot: its dry run checks every command with the real parsers, and one tiny run
built from its own argument lists is read back by its own reader."""

from __future__ import annotations

import json
import math
import sys

import pytest

from babylm.commands.evaluate import main as evaluate_main
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from tests.training.teacher_fixtures import REPO_ROOT, run_cli, tiny_data  # noqa: F401 (fixture)

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_hybrid  # noqa: E402  (benchmarks/)

TINY_LLAMA = REPO_ROOT / "configs" / "tiny" / "teacher_llama.yaml"


def test_the_dry_run_checks_every_command(tmp_path, capsys):
    argv = ["--config", str(TINY_LLAMA), "--mixes", "0.5", "--seeds", "1", "--steps", "3",
            "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--work", str(tmp_path), "--dry-run"]
    assert bench_hybrid.main(argv) == 0
    out = capsys.readouterr().out
    assert "7 commands checked" in out  # causal: fit, validate, evaluate; hybrid: fit, validate, 2 evaluates
    assert out.count("--backend mntp") == 1 and out.count("--model.init_args.objective causal") == 2
    assert out.count("--model.init_args.hybrid.masked_share 0.5") == 2 and out.count("--seed_everything 1") == 4
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written
    with pytest.raises(SystemExit, match=r"masked_share 0.9375 × data.batch_size 8"):  # the tiny batch is 8
        bench_hybrid.main([*argv[:2], "--mixes", "0.9375", "--seeds", "2", "--dry-run"])


def test_one_tiny_run_is_read_back(tiny_data, tmp_path):  # noqa: F811 (fixture)
    data = [f"data.tokenizer_path={tiny_data.tokenizer_path}", f"data.tokenized_dir={tiny_data.tokenized_dir}",
            "trainer.enable_model_summary=false", "trainer.log_every_n_steps=1"]
    fit = bench_hybrid.fit_args([TINY_LLAMA], tmp_path, "hybrid-0.5-seed1", 1, 0.5, bench_hybrid.CLOCK_WARMUP + 2,
                                data, clock=True)
    assert run_cli(["fit", *fit]) == 0
    assert run_cli(["validate", *bench_hybrid.validate_args(fit, tmp_path, "hybrid-0.5-seed1")]) == 0
    for backend in ("causal", "mntp"):
        args = bench_hybrid.evaluate_args(tmp_path, "hybrid-0.5-seed1", backend, SAMPLE_BLIMP_DIR, 1, "wrong")
        assert evaluate_main([*args, "--device", "cpu"]) == 0
    row = bench_hybrid.read_run(tmp_path, "hybrid-0.5-seed1", hybrid=True)
    assert math.isfinite(row["val_loss"]) and row["tokens_per_s"] > 0 and row["words_seen"] > 0
    assert row["cpu_s_per_step"] > 0  # the median of the 2 steps after the warm-up
    speed = bench_hybrid.read_run(tmp_path, "hybrid-0.5-seed1", hybrid=True, speed_only=True)
    assert speed["val_loss"] is None and speed["cpu_s_per_step"] == row["cpu_s_per_step"]
    assert 0 <= row["blimp_causal"] <= 1 and 0 <= row["blimp_mntp"] <= 1
    lines = bench_hybrid.summary({"hybrid-0.5": [row, {**row, "val_loss": row["val_loss"] + 0.2}]})
    assert lines[-1].startswith("| hybrid-0.5 | 2 | ") and " ± 0.1414 |" in lines[-1]  # sd of two values 0.2 apart


def test_a_tagged_hybrid_variant_alone_and_the_report_of_two_works(tmp_path, capsys):
    argv = ["--config", str(REPO_ROOT / "configs" / "tiny" / "distill.yaml"), "--mixes", "0.5", "--seeds", "1",
            "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--work", str(tmp_path), "--no-causal", "--tag", "distill",
            "--hybrid-override", "model.init_args.masked_windows=distill", "--dry-run"]
    assert bench_hybrid.main(argv) == 0
    out = capsys.readouterr().out
    assert "4 commands checked" in out and "--model.init_args.objective causal" not in out
    assert "/exports/hybrid-0.5-distill-seed1 " in out and out.count("--model.init_args.masked_windows distill") == 2
    with pytest.raises(SystemExit, match="distil"):  # a misspelt value is caught by the real parser
        bench_hybrid.main([*argv[:-2], "model.init_args.masked_windows=distil", "--dry-run"])
    # an option the config's model has not: the one line that says so, not the parser's whole report
    with pytest.raises(SystemExit, match=r"^bench_hybrid: a `babylm fit` of the plan would fail: Option "
                                         r"'masked_windows' is not accepted$"):
        bench_hybrid.main(["--config", str(TINY_LLAMA), *argv[2:]])
    with pytest.raises(SystemExit, match="--blimp-dir .*nope not found"):  # checked by the dry run too
        bench_hybrid.main([*argv, "--blimp-dir", str(tmp_path / "nope")])
    capsys.readouterr()

    row = {"seed": 1, "val_loss": 4.0, "blimp_causal": 0.5, "blimp_mntp": 0.6, "tokens_per_s": 100.0}
    for seed, work in ((1, tmp_path / "s1"), (2, tmp_path / "s2")):
        work.mkdir()
        runs = {"causal": [{**row, "seed": seed, "blimp_mntp": None, "val_loss": 4.0 + seed / 10}]}
        (work / "results.json").write_text(json.dumps({"runs": runs}))
    assert bench_hybrid.main(["--report", str(tmp_path / "s1"), str(tmp_path / "s2")]) == 0
    assert "| causal | 2 | 4.1500 ± 0.0707 | 50.00 ± 0.00 | — | 100 ± 0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"no results.json there \(its run has not finished\)"):
        bench_hybrid.main(["--report", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"no results.json there \(no such folder\)"):
        bench_hybrid.main(["--report", str(tmp_path / "typo")])
