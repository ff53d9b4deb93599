"""Loading an exported folder: every damaged or inconsistent file is one line naming it, in every command.

A truncated ``model.safetensors`` once gave a 28-line ``SafetensorError`` traceback in ``evaluate`` and
``generate``; a tokenizer larger than the model's vocabulary gave ``IndexError`` in ``evaluate`` and silent
text in ``generate``; a missing tensor was silently initialised at random by transformers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from babylm.commands.evaluate import main as evaluate_main
from babylm.data.tokens.tokenizer import save_hf_tokenizer, to_hf_tokenizer
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from babylm.evaluation.generate import main as generate_main
from babylm.models.export import ExportError, load_exported, load_hf_model
from tests.evaluation.tiny_models import save_tiny_model, train_tiny_tokenizer


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory) -> Path:
    """A tiny LLaMA export (600-token tokenizer and vocabulary)."""
    directory = tmp_path_factory.mktemp("good") / "model"
    save_tiny_model(directory, "llama", train_tiny_tokenizer())
    return directory


@pytest.fixture(scope="module")
def big_tokenizer():
    """A tokenizer of ~750 tokens, more than the tiny model's 600 rows of embedding."""
    return to_hf_tokenizer(train_tiny_tokenizer(vocab_size=800))


def truncate(d: Path) -> None:
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


def rewrite_weights(change):
    def edit(d: Path) -> None:
        weights = load_file(d / "model.safetensors")
        change(weights)
        save_file(weights, d / "model.safetensors", metadata={"format": "pt"})
    return edit


def edit_config(change):
    def edit(d: Path) -> None:
        config = json.loads((d / "config.json").read_text())
        change(config)
        (d / "config.json").write_text(json.dumps(config))
    return edit


MLP = "model.layers.0.mlp.down_proj.weight"
DAMAGES = {  # name → (damage, what the one line says)
    "truncated weights": (truncate, "model.safetensors: not a readable safetensors file"),
    "header only": (lambda d: (d / "model.safetensors").write_bytes(b"\x08\x00"),
                    "model.safetensors: not a readable safetensors file"),
    "missing tensor": (rewrite_weights(lambda w: w.pop(MLP)), f"do not match config.json ({MLP} is missing)"),
    "wrong shape": (rewrite_weights(lambda w: w.update({MLP: torch.zeros(3, 3)})),
                    f"{MLP} has shape [3, 3] but config.json asks [32, 64]"),
    "bad tokenizer.json": (lambda d: (d / "tokenizer.json").write_text("{bad"),
                           "tokenizer.json: not a valid tokenizer file"),
    "config not JSON": (lambda d: (d / "config.json").write_text("{bad"), "config.json: not valid JSON"),
    "config without model_type": (edit_config(lambda c: c.pop("model_type")), "config.json: no 'model_type'"),
    "config without vocab_size": (edit_config(lambda c: c.pop("vocab_size")), "config.json: no 'vocab_size'"),
    "config of other widths": (edit_config(lambda c: c.update(hidden_size=64)), "do not match config.json"),
}


def damaged(good_dir: Path, tmp_path: Path, damage) -> Path:
    directory = tmp_path / "damaged"
    shutil.copytree(good_dir, directory)
    damage(directory)
    return directory


@pytest.mark.parametrize("case", DAMAGES)
def test_a_damaged_folder_is_one_exporterror_naming_the_file(good_dir, tmp_path, case):
    damage, fragment = DAMAGES[case]
    directory = damaged(good_dir, tmp_path, damage)
    for load in (load_exported, lambda d: load_hf_model(d, what="teacher")):
        with pytest.raises(ExportError) as raised:
            load(directory)
        message = str(raised.value)
        assert "\n" not in message and fragment in message and "re-export" in message, message


def one_line(capsys, prefix: str) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(prefix), lines
    assert not any("Traceback" in line or "LOAD REPORT" in line for line in lines), lines
    return lines[-1]


@pytest.mark.parametrize("command", ["evaluate", "generate"])
def test_truncated_weights_are_one_line_in_evaluate_and_generate(good_dir, tmp_path, capsys, command):
    directory = damaged(good_dir, tmp_path, truncate)
    if command == "evaluate":
        code = evaluate_main(["--model", str(directory), "--blimp-dir", str(SAMPLE_BLIMP_DIR),
                              "--out", str(tmp_path / "out")])
    else:
        code = generate_main(["--model", str(directory), "--prompt", "hi", "--device", "cpu"])
    assert code == 2
    line = one_line(capsys, f"babylm {command}: error: ")
    assert f"{directory / 'model.safetensors'}: not a readable safetensors file" in line and "copy it again" in line
    assert not (tmp_path / "out" / "blimp.json").exists()


@pytest.mark.parametrize("argv", [
    ["evaluate", "--blimp-dir", str(SAMPLE_BLIMP_DIR)],
    ["evaluate", "--tasks", "perplexity", "--val-file", "VAL"],
    ["generate", "--prompt", "hi", "--device", "cpu"],
], ids=["blimp", "perplexity", "generate"])
def test_a_tokenizer_larger_than_the_vocabulary_is_refused_on_loading(good_dir, big_tokenizer, tmp_path, capsys, argv):
    directory = tmp_path / "mismatched"
    shutil.copytree(good_dir, directory)
    save_hf_tokenizer(big_tokenizer, directory)  # ~750 tokens beside a 600-row embedding
    (tmp_path / "val.txt").write_text("The abbey of Bruges was rebuilt.\n" * 20, encoding="utf-8")
    command, *rest = [str(tmp_path / "val.txt") if a == "VAL" else a for a in argv]
    run = evaluate_main if command == "evaluate" else generate_main
    extra = ["--out", str(tmp_path / "out")] if command == "evaluate" else []
    assert run(["--model", str(directory), *rest, *extra]) == 2
    line = one_line(capsys, f"babylm {command}: error: ")
    assert len(big_tokenizer) > 600
    assert f"tokenizer.json: the tokenizer has {len(big_tokenizer)} tokens but config.json's vocab_size is 600" in line
    assert "the tokenizer the model was trained with" in line
    assert capsys.readouterr().out == ""  # generate printed no text


def test_hub_repo_refuses_a_truncated_export(good_dir, tmp_path):
    """An export of ours (its manifest written as ``export`` writes it) truncated afterwards; a folder without the
    manifest is not published at all (``hub-repo`` publishes only what an export wrote)."""
    from babylm.commands.hub_repo import HubError, model_files
    from babylm.core.outputs import write_manifest
    from babylm.data.tokens.tokenizer import tokenizer_fingerprint
    from babylm.models.export_manifest import manifest_extras

    ours = Path(shutil.copytree(good_dir, tmp_path / "ours"))
    write_manifest(ours, "export", sorted(p.name for p in ours.iterdir()),
                   manifest_extras(ours, tokenizer_fingerprint(ours / "tokenizer.json")))
    directory = damaged(ours, tmp_path, truncate)
    with pytest.raises(HubError, match="model.safetensors: not a readable safetensors file"):
        model_files(directory)
    assert ([p.name for p, _ in model_files(ours)]
            == sorted(p.name for p in ours.iterdir() if not p.name.startswith(".")))
    with pytest.raises(HubError, match="no .babylm-export.json with its files' sha256"):
        model_files(good_dir)


def test_a_damaged_teacher_folder_is_one_teachererror(good_dir, big_tokenizer, tmp_path):
    from babylm.training.teachers import TeacherError, load_teacher

    with pytest.raises(TeacherError, match="teacher: .*model.safetensors: not a readable safetensors file"):
        load_teacher(damaged(good_dir, tmp_path, truncate), vocab_size=600)
    oversized = tmp_path / "oversized"
    shutil.copytree(good_dir, oversized)
    save_hf_tokenizer(big_tokenizer, oversized)
    with pytest.raises(TeacherError,
                       match="tokenizer.json: the tokenizer has .* tokens but config.json's vocab_size is 600"):
        load_teacher(oversized, vocab_size=600)
