"""Whole training runs through the real CLI: resume continuity, 2-process DDP on CPU, bf16-mixed on CPU.

The reference is one uninterrupted 6-step run (effective batch 8 = 4 micro-batches of 2) of the shipped tiny
*hybrid* config (configs/tiny/hybrid_llama.yaml: 4 of the 8 windows of each step masked, 4 causal — so the causal
path runs in every step too). Stopping it after 3 steps and resuming with ``--ckpt_path last`` must land on the same
state, and so must a 2-process DDP run (gloo) with the same effective batch (2 micro-batches of 2 per rank): the
same windows masked the same way, whatever the devices, and after a resume. The logged-loss tests cover plain
causal runs and the hybrid mix under gradient accumulation.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.teacher_fixtures import REPO_ROOT, TINY_GPTJ, fit_argv, run_cli

STEPS = 6
TINY_HYBRID = REPO_ROOT / "configs" / "tiny" / "hybrid_llama.yaml"
COMMON = ["--data.micro_batch_size", "2", "--model.init_args.schedule_steps", str(STEPS),
          "--model.init_args.warmup_steps", "2", "--trainer.val_check_interval", "12",
          "--word_checkpoints.milestones", "[]"]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_training_state(a: dict, b: dict, atol: float) -> None:
    assert a["global_step"] == b["global_step"] == STEPS
    assert a["tokens_seen"] == b["tokens_seen"] == STEPS * 8 * 128
    data_a = a["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    data_b = b["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert data_a["windows_consumed"] == data_b["windows_consumed"] == STEPS * 8  # same data position
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == STEPS
    assert a["lr_schedulers"][0]["_last_lr"] == pytest.approx(b["lr_schedulers"][0]["_last_lr"])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, value in a["state_dict"].items():
        torch.testing.assert_close(value, b["state_dict"][name], rtol=0, atol=atol, msg=name)


@pytest.fixture(scope="module")
def straight_dir(tiny_data, tmp_path_factory) -> Path:
    """The uninterrupted 6-step reference run; returns its output directory."""
    out = tmp_path_factory.mktemp("straight")
    assert run_cli(fit_argv(out, tiny_data, *COMMON, "--trainer.max_steps", str(STEPS), logger="none",
                            config=TINY_HYBRID)) == 0
    return out


@pytest.fixture(scope="module")
def straight(straight_dir) -> dict:
    """The last checkpoint of the reference run."""
    return load(straight_dir / "ckpt" / "last.ckpt")


def test_validate_and_test_score_a_checkpoint(straight_dir, tiny_data, tmp_path):
    for command, metric in (("validate", "val/loss"), ("test", "test/loss")):
        argv = fit_argv(tmp_path, tiny_data, "--ckpt_path", str(straight_dir / "ckpt" / "last.ckpt"),
                        config=TINY_HYBRID)
        assert run_cli([command, *argv[1:]]) == 0
        (path,) = tmp_path.glob("runs/**/metrics.csv")
        with open(path, newline="") as handle:
            values = [float(r[metric]) for r in csv.DictReader(handle) if r.get(metric)]
        assert len(values) == 1 and math.isfinite(values[0]) and values[0] < math.log(400)  # a trained model
        path.unlink()


def test_resume_from_last_continues_at_the_same_step_lr_and_data_position(straight, tiny_data, tmp_path):
    argv = fit_argv(tmp_path, tiny_data, *COMMON, "--checkpoint.every_n_train_steps", "3", logger="none",
                    config=TINY_HYBRID)
    assert run_cli(argv + ["--trainer.max_steps", "3"]) == 0
    half = load(tmp_path / "ckpt" / "last.ckpt")
    assert half["global_step"] == 3 and half["tokens_seen"] == 3 * 8 * 128
    assert run_cli(argv + ["--trainer.max_steps", str(STEPS), "--ckpt_path", "last"]) == 0
    assert_same_training_state(load(tmp_path / "ckpt" / "last.ckpt"), straight, atol=1e-6)


def test_ddp_two_cpu_processes_keep_the_effective_batch(straight, tiny_data, tmp_path):
    argv = fit_argv(tmp_path, tiny_data, *COMMON, "--trainer.max_steps", str(STEPS), "--trainer.strategy", "ddp",
                    "--trainer.devices", "2", "--trainer.accelerator", "cpu", logger="none", config=TINY_HYBRID)
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "babylm", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = load(tmp_path / "ckpt" / "last.ckpt")
    # 2 ranks × 2 micro-batches of 2 windows = the same 8 windows per optimizer step as 1 device × 4 × 2; the
    # hybrid mix: rank 0 trains windows 0–1 masked and 4–5 causal, rank 1 windows 2–3 and 6–7 — same masks, same sums
    assert ddp["hyper_parameters"]["objective"] == "hybrid"
    assert_same_training_state(ddp, straight, atol=1e-5)


def test_bf16_mixed_on_cpu_trains_the_tiny_gptj(tiny_data, tmp_path):
    argv = fit_argv(tmp_path, tiny_data, "--trainer.precision", "bf16-mixed", "--trainer.max_steps", "2",
                    "--trainer.val_check_interval", "2", "--word_checkpoints.milestones", "[]", config=TINY_GPTJ)
    assert run_cli(argv) == 0
    (path,) = tmp_path.glob("runs/**/metrics.csv")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    val = [float(r["val/loss"]) for r in rows if r.get("val/loss")]
    assert val and all(math.isfinite(v) for v in val)
    state = load(tmp_path / "ckpt" / "last.ckpt")
    assert state["hyper_parameters"]["config"]["arch"] == "gptj"
    # master weights
    assert all(v.dtype == torch.float32 for v in state["state_dict"].values() if v.is_floating_point())
    assert (tmp_path / "export" / "model.safetensors").is_file()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_mixed_on_gpu_trains_and_exports(tiny_data, tmp_path):
    argv = fit_argv(tmp_path, tiny_data, "--trainer.accelerator", "gpu", "--trainer.devices", "1",
                    "--trainer.precision", "bf16-mixed", "--trainer.max_steps", "4",
                    "--trainer.val_check_interval", "4",
                    "--word_checkpoints.milestones", "[]")
    assert run_cli(argv) == 0
    state = load(tmp_path / "ckpt" / "last.ckpt")
    assert state["global_step"] == 4
    assert (tmp_path / "export" / "model.safetensors").is_file()


def logged_train_metrics(tmp_path: Path, tiny_data, micro_batch: int) -> dict[str, float]:
    """Step 0's logged train metrics of a tiny LLaMA run with effective batch 12 and the given micro-batch."""
    argv = fit_argv(tmp_path, tiny_data, "--data.batch_size", "12", "--data.micro_batch_size", str(micro_batch),
                    "--trainer.max_steps", "1", "--trainer.log_every_n_steps", "1",
                    "--trainer.val_check_interval", "12", "--trainer.limit_val_batches", "0",
                    "--word_checkpoints.milestones", "[]", "--seed_everything", "3")
    assert run_cli(argv) == 0
    (path,) = tmp_path.glob("runs/**/metrics.csv")
    with open(path, newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r.get("train/loss")]
    return {name: float(row[name]) for name in ("train/loss", "train/ppl")}


def test_logged_train_loss_is_the_optimizer_steps_mean_whatever_the_accumulation(tiny_data, tmp_path):
    """Issue 10: micro-batch 4 logged 7.6246 at step 0 and micro-batch 12 7.6170 (one micro-batch's loss)."""
    accumulated = logged_train_metrics(tmp_path / "micro4", tiny_data, 4)  # 3 micro-batches per step
    whole = logged_train_metrics(tmp_path / "micro12", tiny_data, 12)  # the same 12 windows at once

    assert accumulated["train/loss"] == pytest.approx(whole["train/loss"], rel=1e-5)
    assert accumulated["train/ppl"] == pytest.approx(whole["train/ppl"], rel=1e-5)
    assert accumulated["train/ppl"] == pytest.approx(math.exp(accumulated["train/loss"]), rel=1e-5)


def test_the_hybrid_run_exports_a_causal_lm_with_mask_and_refuses_a_causal_resume(straight_dir, tiny_data, tmp_path,
                                                                                   capsys):
    config = json.loads((straight_dir / "export" / "config.json").read_text())
    tokenizer = json.loads((straight_dir / "export" / "tokenizer_config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["vocab_size"] == config["mask_token_id"] + 1
    assert tokenizer["mask_token"] == "<mask>"
    # a hybrid checkpoint has a <mask> row a causal run would not build: refused in one line, before training
    argv = fit_argv(tmp_path, tiny_data, "--ckpt_path", str(straight_dir / "ckpt" / "last.ckpt"))
    capsys.readouterr()
    assert run_cli(argv) == 2
    assert "objective hybrid ≠ causal" in capsys.readouterr().err


def logged_hybrid_metrics(tmp_path: Path, tiny_data, micro_batch: int) -> dict[str, float]:
    """Step 0's logged train metrics of a tiny hybrid run with effective batch 12 (6 masked windows) and the given
    micro-batch."""
    argv = fit_argv(tmp_path, tiny_data, "--data.batch_size", "12", "--data.micro_batch_size", str(micro_batch),
                    "--trainer.max_steps", "1", "--trainer.log_every_n_steps", "1",
                    "--trainer.val_check_interval", "12", "--trainer.limit_val_batches", "0",
                    "--word_checkpoints.milestones", "[]", "--seed_everything", "3", config=TINY_HYBRID)
    assert run_cli(argv) == 0
    (path,) = tmp_path.glob("runs/**/metrics.csv")
    with open(path, newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r.get("train/loss")]
    return {name: float(row[name]) for name in ("train/loss", "train/mntp", "train/ce", "train/ppl", "train/mask_rate")}


def test_the_hybrid_mix_is_the_same_whatever_the_accumulation(tiny_data, tmp_path):
    """Micro-batches of 4: windows 0–3 masked, 4–5 masked + 6–7 causal (a mixed micro-batch), 8–11 causal."""
    accumulated = logged_hybrid_metrics(tmp_path / "micro4", tiny_data, 4)
    whole = logged_hybrid_metrics(tmp_path / "micro12", tiny_data, 12)
    assert accumulated == pytest.approx(whole, rel=1e-5)
    assert accumulated["train/loss"] == pytest.approx((accumulated["train/mntp"] + accumulated["train/ce"]) / 2,
                                                      rel=1e-5)
    assert 0.25 < accumulated["train/mask_rate"] <= 0.31  # the schedule starts at 30% (rounding: ± one token)
