"""The tiny distillation recipe through the real CLI: two teachers → student → HF export; DDP on 2 CPU processes.

Every command is ``python -m babylm fit -c configs/tiny/….yaml`` run in a temporary workspace laid out like the
repository (``checkpoints/tokenizer-clean.json``, ``data/tokenized/``), so the configs' relative paths resolve
there and nothing is written to the repository. Single-process runs call the CLI in this process
(:func:`babylm.cli.main`, saving an interpreter start-up each); the DDP run is a subprocess, as a user runs it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.distill_fixtures import write_encoded_splits, write_tokenizer

REPO = Path(__file__).resolve().parents[2]
SEQ_LEN = "32"
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--data.seq_len", SEQ_LEN]

pytestmark = pytest.mark.slow


def babylm_fit_in_process(workspace: Path, config: str, *args: str) -> int:
    """Run ``babylm fit -c configs/<config> …`` in this process with ``workspace`` as working directory; returns the
    exit code."""
    from babylm.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        patch.setenv("WANDB_MODE", "offline")
        return main(["fit", "-c", str(REPO / "configs" / config), *args])


def babylm_fit(workspace: Path, config: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m babylm fit -c configs/<config> …`` as a subprocess in ``workspace``; returns the finished
    process."""
    env = {**os.environ, "WANDB_MODE": "offline", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "babylm", "fit", "-c", str(REPO / "configs" / config), *args]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace with the tiny tokenizer, the encoded tiny corpus and the two tiny teachers trained and exported."""
    root = tmp_path_factory.mktemp("recipe")
    tokenizer = write_tokenizer(root / "checkpoints")  # checkpoints/tokenizer-clean.json (+ tokenizer/)
    write_encoded_splits(root / "data", tokenizer)  # data/tokenized/<fingerprint>/
    for teacher in ("teacher_llama", "teacher_gptj"):
        code = babylm_fit_in_process(root, f"tiny/{teacher}.yaml", *QUIET, "--trainer.max_steps", "6",
                                     "--trainer.val_check_interval", "3")
        assert code == 0, f"tiny {teacher} failed"
    assert (root / "checkpoints" / "Tiny-Llama" / "model.safetensors").is_file()
    assert (root / "checkpoints" / "Tiny-GPTJ" / "model.safetensors").is_file()
    return root


def babylm_in_process(workspace: Path, *argv: str) -> int:
    """Run ``babylm argv…`` in this process with ``workspace`` as working directory; returns the exit code."""
    from babylm.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        patch.setenv("WANDB_MODE", "offline")
        return main(list(argv))


CACHED = ["--model.init_args.cache.method", "sample", "--model.init_args.cache.k", "8"]


@pytest.fixture(scope="module")
def cached_workspace(workspace) -> Path:
    """The workspace with the tiny teachers' cache built (sample, k = 8) by ``python -m babylm cache-teachers``."""
    config = ["-c", str(REPO / "configs" / "tiny" / "distill.yaml"), "--data.seq_len", SEQ_LEN, *CACHED]
    assert babylm_in_process(workspace, "cache-teachers", *config, "--no-progress") == 0
    return workspace


def test_tiny_recipe_distils_a_student_that_transformers_loads(workspace):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from babylm.models.export import load_checkpoint, model_from_checkpoint

    csv_logger = ('{"class_path": "lightning.pytorch.loggers.CSVLogger", '
                  '"init_args": {"save_dir": "runs", "name": "distill"}}')
    code = babylm_fit_in_process(workspace, "tiny/distill.yaml", *QUIET, "--trainer.logger", csv_logger,
                                 "--trainer.max_steps", "6", "--trainer.val_check_interval", "3")

    assert code == 0

    with open(workspace / "runs" / "distill" / "version_0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    train = [r for r in rows if r["train/kl"]]
    assert train and all(float(r["train/kl"]) > 0 and r["train/ce"] and r["train/loss"] for r in train)
    assert any(r["val/loss"] and r["val/ppl"] for r in rows)

    exported = workspace / "checkpoints" / "Tiny-Baby-Llama"
    model = AutoModelForCausalLM.from_pretrained(exported)
    tokenizer = AutoTokenizer.from_pretrained(exported)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.hidden_size == 32
    ids = tokenizer("The abbey was founded near the sea.", return_tensors="pt")["input_ids"]  # (1, T)
    assert ids[0, 0].item() == tokenizer.bos_token_id
    checkpoint = load_checkpoint(workspace / "checkpoints" / "tiny_distill" / "last.ckpt")
    assert all(key.startswith("model.") for key in checkpoint["state_dict"])  # no teacher weights
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, model_from_checkpoint(checkpoint)(ids).logits)

    # the word ledger: the student's export counts its own words and both teachers' (from their word counters)
    runs = {name: load_checkpoint(workspace / "checkpoints" / name / "last.ckpt")
            for name in ("tiny_teacher_llama", "tiny_teacher_gptj", "tiny_distill")}
    words = {name: c["tokens_seen"] * c["word_ledger"]["words_per_token"] for name, c in runs.items()}
    assert words["tiny_distill"] == pytest.approx(
        6 * 8 * int(SEQ_LEN) * runs["tiny_distill"]["word_ledger"]["words_per_token"])
    ledger = json.loads((exported / "word_ledger.json").read_text())
    assert ledger["own_words"] == pytest.approx(words["tiny_distill"])
    assert [t["source"] for t in ledger["teachers"]] == ["ledger", "ledger"]
    assert ledger["total_words"] == pytest.approx(sum(words.values()))
    assert ledger["teacher_forward_words"] == pytest.approx(2 * words["tiny_distill"])  # online: both teachers
    assert ledger["total_words_with_forwards"] == pytest.approx(sum(words.values()) + 2 * words["tiny_distill"])
    assert "word_ledger.json" in json.loads((exported / ".babylm-export.json").read_text())["files"]


def test_an_over_budget_run_is_refused_before_any_step(workspace, capsys):
    code = babylm_fit_in_process(workspace, "tiny/distill.yaml", *QUIET, "--trainer.max_steps", "6",
                                 "--budget.cap", "100", "--checkpoint.dirpath", "checkpoints/over_budget",
                                 "--model.init_args.export_dir", "checkpoints/Over-Budget")
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr
    assert errors[0].startswith("babylm fit: error: word budget exceeded: ") and "> 100 (BabyLM" in errors[0]
    assert "--budget.cap none" in errors[0] and "teachers' training" in errors[0]
    assert (not (workspace / "checkpoints" / "over_budget").exists()
            and not (workspace / "checkpoints" / "Over-Budget").exists())


def test_a_teacher_without_a_ledger_must_be_declared_under_a_budget(workspace, capsys):
    import shutil

    bare = workspace / "checkpoints" / "Bare-Llama"
    shutil.copytree(workspace / "checkpoints" / "Tiny-Llama", bare)
    (bare / "word_ledger.json").unlink()  # as an export made before babylm kept ledgers
    run = [*QUIET, "--trainer.max_steps", "1", "--trainer.val_check_interval", "1",
           "--word_checkpoints.milestones", "[]",
           "--model.init_args.teachers", "[checkpoints/Bare-Llama, checkpoints/Tiny-GPTJ]",
           "--checkpoint.dirpath", "checkpoints/declared", "--model.init_args.export_dir", "checkpoints/Declared"]
    assert babylm_fit_in_process(workspace, "tiny/distill.yaml", *run) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "teacher checkpoints/Bare-Llama has no word ledger" in error and "--model.init_args.teacher_words" in error

    assert babylm_fit_in_process(workspace, "tiny/distill.yaml", *run,
                                 "--model.init_args.teacher_words", "[1234, null]") == 0
    ledger = json.loads((workspace / "checkpoints" / "Declared" / "word_ledger.json").read_text())
    assert ([t["source"] for t in ledger["teachers"]] == ["declared", "ledger"]
            and ledger["teachers"][0]["total_words"] == 1234)


def test_two_process_ddp_on_cpu(workspace):
    done = babylm_fit(
        workspace, "tiny/distill.yaml", *QUIET, "--model.init_args.cache", "null",
        "--trainer.strategy", "ddp", "--trainer.devices", "2", "--data.micro_batch_size", "4",
        "--trainer.max_steps", "4", "--trainer.val_check_interval", "2",
        "--checkpoint.dirpath", "checkpoints/ddp", "--model.init_args.export_dir", "checkpoints/DDP-Student",
    )

    assert "Starting with 2 processes" in done.stdout + done.stderr
    checkpoint = torch.load(workspace / "checkpoints" / "ddp" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 4
    # effective batch 8 = 2 ranks × micro-batch 4, no accumulation: 4 steps × 8 windows × 32 tokens
    assert checkpoint["tokens_seen"] == 4 * 8 * int(SEQ_LEN)
    assert (workspace / "checkpoints" / "DDP-Student" / "model.safetensors").is_file()


def test_missing_teacher_is_a_one_line_error(workspace, capsys):
    code = babylm_fit_in_process(workspace, "tiny/distill.yaml", *QUIET,
                                 "--model.init_args.teachers", "[checkpoints/Tiny-Llama, checkpoints/No-Such-Teacher]")

    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert code == 2, stderr
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert errors[0].startswith("babylm fit: error: teacher checkpoints/No-Such-Teacher") and "export" in errors[0]


def test_cache_teachers_then_fit_from_the_cache_with_the_same_config(cached_workspace, capsys):
    config = ["-c", str(REPO / "configs" / "tiny" / "distill.yaml"), "--data.seq_len", SEQ_LEN, *CACHED]
    (cache,) = (cached_workspace / "data" / "teacher_cache").glob("*/meta.json")

    assert babylm_in_process(cached_workspace, "cache-teachers", *config, "--no-progress") == 0  # up to date
    assert f"{cache.parent.relative_to(cached_workspace)} (sample, k=8: 28 bytes/token" in capsys.readouterr().out
    code = babylm_fit_in_process(cached_workspace, "tiny/distill.yaml", *QUIET, *CACHED, "--trainer.max_steps", "4",
                                 "--trainer.val_check_interval", "2", "--checkpoint.dirpath", "checkpoints/cached",
                                 "--model.init_args.export_dir", "checkpoints/Cached-Student")

    assert code == 0
    assert (cached_workspace / "checkpoints" / "Cached-Student" / "model.safetensors").is_file()
    checkpoint = torch.load(cached_workspace / "checkpoints" / "cached" / "last.ckpt", map_location="cpu",
                            weights_only=True)
    assert checkpoint["global_step"] == 4 and checkpoint["hyper_parameters"]["cache"]["k"] == 8


def test_two_process_ddp_reads_the_cache_on_every_rank(cached_workspace):
    done = babylm_fit(
        cached_workspace, "tiny/distill.yaml", *QUIET, *CACHED,
        "--trainer.strategy", "ddp", "--trainer.devices", "2", "--data.micro_batch_size", "4",
        "--trainer.max_steps", "2", "--trainer.val_check_interval", "2",
        "--checkpoint.dirpath", "checkpoints/ddp_cached", "--model.init_args.export_dir", "checkpoints/DDP-Cached",
    )

    assert "Starting with 2 processes" in done.stdout + done.stderr
    checkpoint = torch.load(cached_workspace / "checkpoints" / "ddp_cached" / "last.ckpt", map_location="cpu",
                            weights_only=True)
    assert checkpoint["global_step"] == 2 and checkpoint["tokens_seen"] == 2 * 8 * int(SEQ_LEN)


def test_fit_without_its_cache_and_cache_teachers_without_one_are_one_line_errors(workspace, capsys):
    code = babylm_fit_in_process(workspace, "tiny/distill.yaml", *QUIET, *CACHED,
                                 "--model.init_args.temperature", "3.0")
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "no teacher cache for this run" in errors[0] and "python -m babylm cache-teachers" in errors[0]

    code = babylm_in_process(workspace, "cache-teachers", "-c", str(REPO / "configs" / "tiny" / "distill.yaml"),
                             "--model.init_args.cache", "null")
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.strip().splitlines() == [
        "babylm cache-teachers: error: model.init_args.cache is null: nothing to build (the config distils online); "
        "set it, e.g. --model.init_args.cache.method sample"]

    assert babylm_in_process(workspace, "cache-teachers", "-c", str(REPO / "configs" / "tiny" / "distill.yaml"),
                             "--model.init_args.nonsense", "1") == 2
    assert "nonsense" in capsys.readouterr().err


def test_cache_teachers_with_top_k_beyond_the_vocabulary_is_one_line_and_writes_nothing(workspace, capsys):
    """Issue 24: a traceback, and a 312 MB partial cache that fit then said to resume (and failed the same way)."""
    config = ["-c", str(REPO / "configs" / "tiny" / "distill.yaml"), "--data.seq_len", SEQ_LEN,
              "--model.init_args.cache.method", "topk", "--model.init_args.cache.k", "5000",
              "--model.init_args.cache.dir", "data/cache_k5000"]
    vocab = json.loads((workspace / "checkpoints" / "Tiny-Llama" / "config.json").read_text())["vocab_size"]
    expected = (f"model.init_args.cache.k is 5000, but top-k keeps k distinct classes of the vocabulary, which has "
                f"{vocab:,} (data.vocab_size); use k ≤ {vocab}")
    assert babylm_in_process(workspace, "cache-teachers", *config, "--no-progress") == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"babylm cache-teachers: error: {expected}"]
    assert babylm_fit_in_process(workspace, "tiny/distill.yaml", *QUIET, *config[2:]) == 2  # fit: the same line
    assert ([line for line in capsys.readouterr().err.splitlines() if "error:" in line]
            == [f"babylm fit: error: {expected}"])
    assert not (workspace / "data" / "cache_k5000").exists()
