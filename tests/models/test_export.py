"""Export: a trained checkpoint becomes an HF directory that transformers loads with identical logits."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from babylm.commands.export import main as export_main
from babylm.data.tokens.tokenizer import load_tokenizer
from babylm.models.build import ModelConfig, count_parameters
from babylm.models.export import ExportError, export_checkpoint, export_hf, load_checkpoint
from babylm.models.weight_files import stored_parameters
from babylm.training.causal_lm import CausalLM
from tests.training.teacher_fixtures import fit_argv, run_cli, tiny_data  # noqa: F401 (fixture)

TEXT = "The abbey of Bruges was rebuilt in the 14th century."
FILES = {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}
MANIFEST = ".babylm-export.json"


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory) -> Path:
    """A 6-step tiny Llama fit that exports itself at the end (``model.export_dir``)."""
    out = tmp_path_factory.mktemp("export_fit")
    assert run_cli(fit_argv(out, tiny_data, "--trainer.max_steps", "6", logger="none")) == 0
    return out


def hf_logits(directory: Path, text: str) -> tuple[torch.Tensor, list[int]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModelForCausalLM.from_pretrained(str(directory)).eval()
    ids = tokenizer(text, return_tensors="pt")["input_ids"]  # (1, T)
    with torch.no_grad():
        return model(ids).logits, ids[0].tolist()


def test_fit_export_loads_in_transformers_with_the_modules_logits(trained, tiny_data):
    export = trained / "export"
    assert FILES <= {p.name for p in export.iterdir()}
    logits, ids = hf_logits(export, TEXT)
    assert ids == load_tokenizer(tiny_data.tokenizer_path).encode(TEXT).ids  # same ids, <s> first
    assert ids[0] == 1
    module = CausalLM.load_from_checkpoint(trained / "ckpt" / "last.ckpt", map_location="cpu").eval()
    with torch.no_grad():
        expected = module(torch.tensor([ids]))  # (1, T, V)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_export_subcommand_writes_the_same_weights(trained, tmp_path):
    out = tmp_path / "Tiny-Llama"
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(out)]) == 0
    assert FILES <= {p.name for p in out.iterdir()}
    ours, theirs = load_file(out / "model.safetensors"), load_file(trained / "export" / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=0)
    # exporting again replaces a previous export whole, leaving nothing of ours behind
    (out / "model.safetensors").write_bytes(b"stale")
    export_checkpoint(trained / "ckpt" / "last.ckpt", out)
    assert load_file(out / "model.safetensors").keys() == ours.keys()
    assert {p.name for p in out.iterdir()} == FILES | {MANIFEST, "word_ledger.json"}
    ledger = json.loads((out / "word_ledger.json").read_text())  # the checkpoint's ledger, carried on
    assert ledger == load_checkpoint(trained / "ckpt" / "last.ckpt")["word_ledger"] and ledger["own_words"] > 0
    # no staging or old folder left (the export's lock file stays: removing it would race another run's)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".Tiny-Llama.lock"]


def test_stored_parameters_counts_what_the_export_holds_without_loading_it(trained, tmp_path):
    from transformers import AutoModelForCausalLM

    export = trained / "export"
    model = AutoModelForCausalLM.from_pretrained(str(export))
    assert stored_parameters(export) == count_parameters(model)["total"]  # tied weights once, as saved
    (tmp_path / "model.safetensors").write_bytes((export / "model.safetensors").read_bytes()[:100])  # truncated
    with pytest.raises(ExportError, match="not a readable safetensors file"):
        stored_parameters(tmp_path)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_every_exported_file_has_the_usual_permissions(trained, tmp_path):
    """safetensors wrote model.safetensors as 0600 while the other files were 0644 (umask 022)."""
    out = tmp_path / "Tiny-Llama"
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(out)]) == 0
    for folder in (trained / "export", out):  # fit's export, the export command's
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        assert "model.safetensors" in modes and modes == dict.fromkeys(modes, 0o666 & ~current_umask())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~current_umask()


def test_gptj_export_parity(tiny_data, tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(arch="gptj", hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, rotary_dim=4)
    vocab = load_tokenizer(tiny_data.tokenizer_path).get_vocab_size()
    module = CausalLM(config, vocab_size=vocab, tokenizer_path=str(tiny_data.tokenizer_path)).eval()
    export_hf(module.model, tiny_data.tokenizer_path, tmp_path / "gptj")
    logits, ids = hf_logits(tmp_path / "gptj", TEXT)
    with torch.no_grad():
        torch.testing.assert_close(logits, module(torch.tensor([ids])), rtol=1e-5, atol=1e-5)


def test_export_errors_are_one_line(tmp_path, capsys):
    assert export_main(["--ckpt", str(tmp_path / "missing.ckpt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.ckpt: checkpoint not found" in err
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    assert export_main(["--ckpt", str(tmp_path / "other.ckpt"), "--out", str(tmp_path / "o")]) == 2
    assert "not a babylm CausalLM checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_export_refuses_a_tokenizer_of_another_size(trained, tmp_path, capsys):
    from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer

    other = tmp_path / "other.json"
    save_tokenizer(train_tokenizer(texts=["a b c d e f g"] * 20, vocab_size=300, min_frequency=1), other)
    argv = ["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(tmp_path / "o"), "--tokenizer", str(other)]
    assert export_main(argv) == 2
    assert "the model's vocabulary has 400" in capsys.readouterr().err


def test_export_weights_best_exports_the_best_validation_checkpoint(tiny_data, tmp_path, capsys):
    # mode max keeps the *highest* val/loss, an early step, so "best" and "last" are surely different weights
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "6", "--trainer.val_check_interval", "2",
                    "--checkpoint.mode", "max", "--model.init_args.export_weights", "best", logger="none")
    assert run_cli(argv) == 0
    best = [p for p in (tmp_path / "ckpt").glob("best-*.ckpt")]
    assert len(best) == 1 and best[0].name != "best-step=6.ckpt"
    assert export_main(["--ckpt", str(best[0]), "--out", str(tmp_path / "from-best")]) == 0
    exported = load_file(tmp_path / "export" / "model.safetensors")
    expected = load_file(tmp_path / "from-best" / "model.safetensors")
    assert exported.keys() == expected.keys()
    for name in exported:
        torch.testing.assert_close(exported[name], expected[name], rtol=0, atol=0)
    assert f"exported the best checkpoint ({best[0]})" in capsys.readouterr().out


# ----------------------------------------------------------------------- nothing but an export is replaced
def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to show that a refused command touched nothing)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(capsys, prefix: str) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix), lines
    return lines[0]


def test_export_into_the_checkpoint_folder_or_its_parent_is_refused(trained, capsys):
    before = snapshot(trained)
    for out in (trained / "ckpt", trained):  # the issue's `--out checkpoints` deleted checkpoints/ wholesale
        assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(out)]) == 2
        line = one_error_line(capsys, "babylm export: ")
        assert f"--out {out} holds files that babylm export did not write" in line
    assert snapshot(trained) == before


def test_export_to_the_working_directory_or_a_file_is_refused(trained, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", "."]) == 2
    assert "holds files that babylm export did not write (notes.txt)" in one_error_line(capsys, "babylm export: ")
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", "notes.txt"]) == 2
    assert "notes.txt is a file, not a folder" in one_error_line(capsys, "babylm export: ")
    assert [p.name for p in work.iterdir()] == ["notes.txt"] and (work / "notes.txt").read_text() == "mine"


def test_an_export_with_a_file_added_by_hand_is_not_replaced(trained, tmp_path, capsys):
    out = tmp_path / "Tiny-Llama"
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(out)]) == 0
    capsys.readouterr()
    (out / "README.md").write_text("my notes on this model")
    before = snapshot(out)
    assert export_main(["--ckpt", str(trained / "ckpt" / "last.ckpt"), "--out", str(out)]) == 2
    assert "did not write (README.md)" in one_error_line(capsys, "babylm export: ")
    assert snapshot(out) == before


@pytest.mark.parametrize("layout", ["equal", "contains"])
def test_fit_refuses_an_export_dir_holding_the_checkpoints_at_start_up(tiny_data, tmp_path, capsys, layout):
    ckpt_dir = tmp_path / "export" if layout == "equal" else tmp_path / "export" / "run"
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "2", "--checkpoint.dirpath", str(ckpt_dir),
                    logger="none")
    assert run_cli(argv) == 2
    line = one_error_line(capsys, "babylm fit: error: ")
    relation = "is" if layout == "equal" else "contains"
    assert f"model.init_args.export_dir {tmp_path / 'export'} {relation} checkpoint.dirpath {ckpt_dir}" in line
    assert not (tmp_path / "export").exists()  # refused before anything was written


def test_fit_refuses_an_export_dir_holding_other_files_before_training(tiny_data, tmp_path, capsys):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "data.txt").write_text("not an export")
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "2", logger="none")
    assert run_cli(argv) == 2
    assert "model.init_args.export_dir" in one_error_line(capsys, "babylm fit: error: ")
    assert not (tmp_path / "ckpt").exists()  # no training happened
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["data.txt"]


def test_word_milestone_export_never_replaces_a_foreign_folder(tiny_data, tmp_path, capsys):
    foreign = tmp_path / "ckpt" / "chck_0.004M"
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("mine")
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "6", "--word_checkpoints.milestones", "[0.001, 0.004]",
                    logger="none")
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert f"word_checkpoints.export_hf folder {foreign} holds files that babylm export did not write (keep.txt)" in err
    assert "Traceback" not in err
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    assert not list((tmp_path / "ckpt").glob("*.ckpt"))  # refused at start-up, before any training
