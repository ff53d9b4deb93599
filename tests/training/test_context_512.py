"""The context length is one key, ``data.seq_len``: teachers and student at 512 tokens, end to end, at tiny size.

BabyLM's pipeline fine-tunes with ``--sequence_length 512``; a 128-position model cannot take that (GPT-J, GPT-2:
``IndexError`` at position 128; LLaMA: rotary positions it never trained, silently). Here the tiny teachers and the tiny
student are trained with ``--data.seq_len 512`` through the real CLI; their exports declare 512 positions, ``generate``
and ``evaluate`` run past position 128, and a student asking for more positions than its teachers have is refused at
start-up in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.distill_fixtures import write_encoded_splits, write_tokenizer

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.max_steps", "2",
         "--trainer.val_check_interval", "2", "--word_checkpoints.milestones", "[]"]

pytestmark = pytest.mark.slow


def fit(workspace: Path, config: str, *args: str) -> int:
    from babylm.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workspace)
        return main(["fit", "-c", str(REPO / "configs" / config), *QUIET, *args])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Tiny teachers (LLaMA, GPT-J) and student, all trained with --data.seq_len 512."""
    root = tmp_path_factory.mktemp("context512")
    write_encoded_splits(root / "data", write_tokenizer(root / "checkpoints"))
    for config in ("tiny/teacher_llama.yaml", "tiny/teacher_gptj.yaml", "tiny/distill.yaml"):
        assert fit(root, config, "--data.seq_len", "512") == 0, config
    return root


def test_every_export_declares_512_positions(workspace):
    for name, key in (("Tiny-Llama", "max_position_embeddings"), ("Tiny-GPTJ", "n_positions"),
                      ("Tiny-Baby-Llama", "max_position_embeddings")):
        folder = workspace / "checkpoints" / name
        assert json.loads((folder / "config.json").read_text())[key] == 512, name
        assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 512


def test_generate_and_evaluate_run_past_position_128(workspace, capsys):
    from babylm.commands.evaluate import main as evaluate_main
    from babylm.evaluation.generate import SamplingSettings, generate_token_ids
    from babylm.models.export import load_exported

    prompt = " ".join(["The abbey was founded near the sea in the 12th century."] * 15)  # ~200 tokens
    for name in ("Tiny-GPTJ", "Tiny-Baby-Llama"):
        model, tokenizer = load_exported(workspace / "checkpoints" / name)
        [ids] = generate_token_ids(model, tokenizer, [prompt], SamplingSettings(max_new_tokens=20, seed=0))
        assert 150 < len(ids) <= 512
    student = workspace / "checkpoints" / "Tiny-Baby-Llama"
    assert evaluate_main(["--model", str(student), "--tasks", "perplexity", "--seq-len", "512", "--val-file",
                          str(workspace / "data" / "corpus_split" / "val.txt"), "--out", str(workspace / "eval")]) == 0
    assert json.loads((workspace / "eval" / "perplexity.json").read_text())["seq_len"] == 512


def test_a_student_longer_than_its_teachers_is_refused_at_start_up(workspace, capsys):
    assert fit(workspace, "tiny/distill.yaml", "--data.seq_len", "1024", "--checkpoint.dirpath", "checkpoints/long",
               "--model.init_args.export_dir", "checkpoints/Long") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert err == ["babylm fit: error: teacher checkpoints/Tiny-Llama has 512 positions but data.seq_len is 1024: it "
                   "cannot score 1024-token windows; train the teachers with --data.seq_len 1024 too, or lower "
                   "data.seq_len"]
    assert not (workspace / "checkpoints" / "long").exists()
