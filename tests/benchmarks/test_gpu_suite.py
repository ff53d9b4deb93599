"""The GPU suite (``benchmarks/gpu_suite.py``) cannot rot: its dry run walks every part on the CPU, and what a lent
session must type (the device calls) fits the device tool's limits and the 15-minute budget.

The dry run is the suite itself at tiny shapes (``gpu_setup.dry_run_setup``); the preparation's offline pieces
(slices, copies, sizes, wheel names) run on tiny folders; the wheel download needs PyPI and is not run here.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_prepare  # noqa: E402  (benchmarks/)
import gpu_suite  # noqa: E402
from gpu_report import markdown, recipe_time  # noqa: E402


@pytest.mark.slow
def test_the_dry_run_runs_every_part_and_writes_the_summary(tmp_path, capsys):
    assert gpu_suite.main(["--dry-run", "--parts", "all", "--out", str(tmp_path)]) == 0

    suite = json.loads((tmp_path / "suite.json").read_text())
    assert {name: part["status"] for name, part in suite["parts"].items()} == {p: "ok" for p in gpu_suite.PARTS}
    parts = suite["parts"]
    assert parts["tests"]["skipped"] >= 10 and parts["tests"]["failed"] == 0  # every GPU test found, skipped on a CPU
    rows = parts["throughput"]["rows"]
    assert set(rows) == {"teacher teacher_llama", "teacher teacher_gptj", "student alone",
                         "student alone + torch.compile", "distillation online (2 teachers)", "teacher-cache build",
                         "distillation from the cache", "hf-trainer teacher teacher_llama",
                         "hf-trainer distillation online"}
    assert all(row.get("tokens_per_s", row.get("teacher_tokens_per_s", 0)) > 0 and row["mfu"] > 0
               for row in rows.values())
    assert all(len(rows[name]["search_tokens_per_s"]) == 2 for name in ("student alone", "distillation from the cache"))
    assert parts["blimp"]["best_pairs_per_s"] > 0 and parts["blimp"]["gpu_vs_cpu"]["max_abs_logprob_difference"] == 0
    curves = parts["realrun"]["curves"]
    assert curves["steps"] >= 2 and curves["agree"]  # the dry run trains fp32 twice: the same curve
    assert all(value > 0 for value in parts["recipe"]["totals_minutes"].values())
    assert parts["train10m"]["words_seen"] > 0 and 0 <= parts["train10m"]["blimp"]["accuracy"] <= 1
    summary = (tmp_path / "summary.md").read_text()
    assert all(f"### {part} (" in summary for part in gpu_suite.PARTS)
    assert (tmp_path / "realrun.png").stat().st_size > 0 and (tmp_path / "pytest.txt").is_file()
    assert len(list(tmp_path.iterdir())) <= 8  # the device tool returns at most 8 files from $OUT


@pytest.mark.slow
def test_a_row_that_fails_is_recorded_and_the_other_rows_still_run(tmp_path):
    import torch
    from gpu_setup import dry_run_setup
    from gpu_throughput import run_throughput

    setup = dry_run_setup(tmp_path, compile_backend="no_such_backend")  # torch.compile refuses it
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the dry run does: tiny shapes
    try:
        result = run_throughput(setup, report=lambda name, row: None)
    finally:
        torch.set_num_threads(threads)

    assert list(result["failed_rows"]) == ["student alone + torch.compile"]
    assert "no_such_backend" in result["failed_rows"]["student alone + torch.compile"]
    assert {"hf-trainer distillation online", "distillation from the cache"} <= set(result["rows"])  # before and after


def test_the_device_calls_fit_the_tool_and_the_15_minute_budget(capsys):
    assert gpu_suite.main(["--print-device-call"]) == 0
    calls = json.loads(capsys.readouterr().out)

    assert calls == gpu_prepare.device_calls()
    machine_start, margin = 120, 30
    assert machine_start + sum(call["timeout_s"] for call in calls) + margin <= 15 * 60
    for call in calls:
        command = call["command"]
        assert len(command) <= 2000 and len(call["carry"]) <= 8 and call["timeout_s"] <= 600
        assert set(call["carry"]) == {".gpu", ".whl"} and "--target /tmp/site .whl/*.whl" in command
        budget = float(re.search(r"--budget (\d+)", command).group(1))
        assert budget + 20 <= call["timeout_s"]  # the suite stops itself before the tool kills it
        parts = re.search(r"--parts (\S+)", command).group(1)
        assert gpu_suite.parse_parts(parts)  # names the suite knows
        assert "--out $OUT" in command and "tee $OUT/log.txt" in command
    assert [gpu_suite.parse_parts(re.search(r"--parts (\S+)", c["command"]).group(1)) for c in calls] == [
        list(gpu_suite.PARTS[:5]), ["train10m"]]


def test_help_names_the_device_call_and_prepare():
    text = gpu_suite.build_parser().format_help()
    assert "--print-device-call" in text and "--prepare" in text and "--dry-run" in text


def test_parts_parse_in_suite_order_and_unknown_names_are_refused():
    assert gpu_suite.parse_parts("core") == ["tests", "throughput", "blimp", "realrun", "recipe"]
    assert gpu_suite.parse_parts("train10m, tests") == ["tests", "train10m"]
    assert gpu_suite.parse_parts("all") == list(gpu_suite.PARTS)
    with pytest.raises(Exception, match="unknown part 'speed'"):
        gpu_suite.parse_parts("tests,speed")


def test_the_gpu_tests_are_found_by_their_mark():
    files = gpu_suite.gpu_test_files()
    assert {"tests/training/test_gpu_steps.py", "tests/evaluation/test_blimp_gpu.py", "tests/training/test_distill.py",
            "tests/training/test_training_runs.py"} <= set(files)
    assert "tests/benchmarks/test_gpu_suite.py" not in files


def test_recipe_time_is_epochs_times_tokens_over_the_measured_rates():
    rows = {"teacher a": {"tokens_per_s": 100_000.0}, "teacher b": {"tokens_per_s": 50_000.0},
            "teacher-cache build": {"windows_per_s": 100.0}, "distillation from the cache": {"tokens_per_s": 400_000.0},
            "distillation online (2 teachers)": {"tokens_per_s": 80_000.0},
            "student alone": {"tokens_per_s": 480_000.0}}
    result = recipe_time(rows, train_tokens=12_800_000, epochs={"teachers": [4, 4], "student": 6})

    stages = result["stages_minutes"]
    assert stages["teacher a"] == pytest.approx(4 * 128 / 60)  # 4 × 12.8M / 100k s
    assert stages["teacher b"] == pytest.approx(4 * 256 / 60)
    assert stages["teacher-cache build"] == pytest.approx(100_000 / 100 / 60)  # 12.8M / 128 windows at 100/s
    assert stages["student from the cache"] == pytest.approx(6 * 32 / 60)
    total = result["totals_minutes"]["teachers + cache build + cached student"]
    assert total == pytest.approx((512 + 1024 + 1000 + 192) / 60)
    assert result["meets_goal"]["teachers + cache build + cached student"] is False  # 45 min > 15
    assert result["totals_minutes"]["teachers + online student"] == pytest.approx((512 + 1024 + 960) / 60)


def test_recipe_time_leaves_out_what_was_not_measured():
    result = recipe_time({"teacher a": {"tokens_per_s": 1e6}}, 1_000_000, {"teachers": [4, 4], "student": 6})
    assert result["totals_minutes"] == {"teachers + cache build + cached student": None,
                                        "teachers + online student": None}
    assert "teacher-cache build" in result["missing"] and not any(result["meets_goal"].values())
    assert "—" in markdown({"parts": {"recipe": {"status": "ok", "seconds": 0, **result}}})


def test_flops_per_token_counts_the_output_projection_and_the_attention_scores():
    from bench_train import flops_per_token

    from babylm.models.build import ModelConfig, build_model

    sizes = dict(arch="llama", hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                 max_position_embeddings=16)
    for tied in (False, True):
        model = build_model(ModelConfig(**sizes, tie_word_embeddings=tied), 100)
        total = sum(p.numel() for p in model.parameters())  # tied weights once
        dense = total - 100 * 32 + (100 * 32 if tied else 0)  # input embedding out; the output matmul in
        assert flops_per_token(model, 2, 32, 128) == 6 * dense + 12 * 2 * 32 * 128


def test_the_timed_clock_stops_training_after_its_seconds():
    import lightning as L
    import torch
    from harness import lightning_timed_clock

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, index):
            return self.layer(batch).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def fit(seconds: float, max_steps: int):
        clock = lightning_timed_clock(2, seconds)
        trainer = L.Trainer(accelerator="cpu", max_steps=max_steps, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, callbacks=[clock])
        trainer.fit(Tiny(), torch.utils.data.DataLoader(torch.randn(64, 4), batch_size=2))
        return clock, trainer.global_step

    clock, steps = fit(0.0, 1000)  # stops at the first step after the warm-up
    assert (clock.steps, steps) == (1, 3) and clock.seconds >= 0 and clock.warmup_seconds >= 0
    clock, steps = fit(1e9, 6)  # max_steps ends it first: timed up to the end
    assert (clock.steps, steps) == (4, 6)
    with pytest.raises(ValueError, match="warmup_steps"):
        lightning_timed_clock(0, 1.0)


def test_the_device_wheels_cover_what_the_package_needs_beyond_the_device_image():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["dev"].splitlines()
    names = {gpu_prepare.normalise(re.split(r"[\[<>=!~ ]", line.strip())[0]) for line in lines
             if line.strip() and not line.strip().startswith("#")}
    covered = {gpu_prepare.normalise(n) for n in (*gpu_prepare.DEVICE_IMAGE, *gpu_prepare.DEVICE_WHEELS,
                                                  *gpu_prepare.NOT_CARRIED)}
    assert names - covered == set()  # a new dependency: decide whether the device has it, or carry its wheel


def test_wheels_of_another_version_are_named_and_the_download_targets_the_device(tmp_path):
    (tmp_path / "jsonargparse-4.1.0-py3-none-any.whl").write_bytes(b"")
    (tmp_path / "typeshed_client-2.15.0-py3-none-any.whl").write_bytes(b"")
    versions = {"jsonargparse": "4.53.0", "typeshed-client": "2.15.0"}
    assert [p.name for p in gpu_prepare.stale_wheels(tmp_path, versions)] == ["jsonargparse-4.1.0-py3-none-any.whl"]

    argv = gpu_prepare.pip_download_command(tmp_path, versions)
    assert argv[1:4] == ["-m", "pip", "download"] and "--no-deps" in argv and "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.12" and "manylinux2014_x86_64" in argv
    assert argv[-2:] == ["jsonargparse==4.53.0", "typeshed-client==2.15.0"]


def test_slices_the_ingest_cannot_cut_are_left_out(shared_data, tmp_path):
    odd = tmp_path / "99999-eb1911-v4-odd.txt"
    odd.write_bytes(b"The Project Gutenberg EBook of the Encyclopaedia Britannica, Volume 4\r\n\r\n"
                    b"No headwords here.\r\n")
    real = shared_data / "eb1911" / "gutenberg" / "19699-8.txt"

    usable, left_out = gpu_prepare.usable_slices([real, odd])

    assert usable == [real] and left_out == [odd.name]


def test_fill_carried_copies_the_products_once_and_refuses_a_foreign_folder(tmp_path):
    work, blimp, data = tmp_path / "work", tmp_path / "blimp", tmp_path / "data"
    (work).mkdir()
    (work / "tokenizer-clean.json").write_text("{}")
    for name, tokens in (("eb1911-10m", 256), ("eb1911-19699", 128)):
        encoding = work / name / "tokenized" / "abc123"
        encoding.mkdir(parents=True)
        splits = {split: {"bin": f"{split}.bin", "tokens": tokens, "words": tokens // 2} for split in ("train", "val")}
        (encoding / "meta.json").write_text(json.dumps({"splits": splits}))
        for split in splits:
            (encoding / f"{split}.bin").write_bytes(b"\0" * 2 * tokens)
    blimp.mkdir()
    (blimp / "anaphor_number_agreement.jsonl").write_text("{}\n")

    stats = gpu_prepare.fill_carried(data, work, blimp)
    (data / "manifest.json").write_text("{}")
    copied = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file()}
    gpu_prepare.fill_carried(data, work, blimp)

    assert stats["corpora"]["eb1911-10m"]["train"] == {"tokens": 256, "words": 128} and stats["blimp_paradigms"] == 1
    assert "tokenized/eb1911-19699/abc123/val.bin" in copied and "blimp-dev/anaphor_number_agreement.jsonl" in copied
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file()} == before  # nothing copied twice
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(gpu_prepare.PrepareError, match="did not write"):
        gpu_prepare.fill_carried(foreign, work, blimp)


def test_what_travels_counts_tracked_untracked_and_carried_files_not_ignored_ones(tmp_path):
    def run(*argv):
        subprocess.run(["git", *argv], cwd=tmp_path, check=True, capture_output=True)

    run("init", "-q")
    (tmp_path / ".gitignore").write_text("/ignored/\n/carried/\n")
    (tmp_path / "tracked.txt").write_bytes(b"a" * 1000)
    run("add", "tracked.txt", ".gitignore")
    (tmp_path / "untracked.txt").write_bytes(b"b" * 2000)
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "big.bin").write_bytes(b"c" * 50_000)
    (tmp_path / "carried" / "sub").mkdir(parents=True)
    (tmp_path / "carried" / "sub" / "tokens.bin").write_bytes(b"d" * 4000)

    size = gpu_prepare.travelling_mib(tmp_path, ["carried"])

    assert size * 2**20 == 1000 + 2000 + 4000 + len("/ignored/\n/carried/\n")


def test_the_carried_and_work_folders_are_ignored_by_git():
    probes = [".gpu/manifest.json", ".whl/x.whl", "data-gpu-suite/eb1911-10m/x", "runs/gpu_suite/suite.json"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *probes], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.split() == probes
