"""``--ckpt_path`` with another model's (or another tokenizer's) checkpoint is refused; the same model's resumes with
the command line honoured. Exports carry the tokenizer's fingerprint and are refused with another tokenizer.

Lightning ≥ 2.3 merged a ``--ckpt_path`` checkpoint's hyper-parameters over the config: a LLaMA config given a
GPT-J checkpoint trained GPT-J and exported it into the checkpoint's own ``export_dir``, ignoring the command line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from babylm.cli import main
from babylm.data.tokens.tokenizer import tokenizer_fingerprint
from babylm.models.build import ModelConfig, model_differences
from tests.training.teacher_fixtures import TINY_GPTJ, fit_argv, tiny_data  # noqa: F401 (fixture)

QUIET = ("--trainer.max_steps", "2", "--trainer.val_check_interval", "1", "--word_checkpoints.milestones", "[]")


@pytest.fixture(scope="module")
def gptj_run(tiny_data, tmp_path_factory) -> Path:
    """A finished 2-step tiny GPT-J run: ``ckpt/last.ckpt`` and its export in ``export/``."""
    root = tmp_path_factory.mktemp("gptj_run")
    assert main(fit_argv(root, tiny_data, *QUIET, config=TINY_GPTJ, logger="none")) == 0
    assert (root / "ckpt" / "last.ckpt").is_file() and (root / "export" / "model.safetensors").is_file()
    return root


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error:" in line]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test"])
def test_checkpoint_of_another_model_is_refused(tiny_data, gptj_run, tmp_path, capsys, subcommand):
    before = snapshot(gptj_run)
    ckpt = gptj_run / "ckpt" / "last.ckpt"
    argv = fit_argv(tmp_path / "llama", tiny_data, *QUIET, "--ckpt_path", str(ckpt), logger="csv")  # LLaMA config
    argv[0] = subcommand
    assert main(argv) == 2
    (line,) = error_lines(capsys)
    assert line.startswith(f"babylm {subcommand}: error: --ckpt_path {ckpt} holds another model"), line
    assert "arch gptj ≠ llama" in line and "intermediate_size 256 ≠ 128" in line
    assert not (tmp_path / "llama").exists()  # no checkpoint, export, log or config written
    assert snapshot(gptj_run) == before  # the GPT-J run and its export untouched


def test_last_checkpoint_of_another_model_is_refused(tiny_data, gptj_run, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    shutil.copytree(gptj_run / "ckpt", folder)
    argv = fit_argv(tmp_path, tiny_data, *QUIET, "--ckpt_path", "last", logger="none")  # LLaMA config, same dirpath
    assert main(argv) == 2
    (line,) = error_lines(capsys)
    assert f"--ckpt_path {folder / 'last.ckpt'} holds another model" in line and "arch gptj ≠ llama" in line
    assert not (tmp_path / "export").exists()


def test_resuming_the_same_model_keeps_command_line_overrides(tiny_data, gptj_run, tmp_path):
    ckpt = gptj_run / "ckpt" / "last.ckpt"
    before = snapshot(gptj_run / "export")
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "3", "--word_checkpoints.milestones", "[]",
                    "--model.init_args.learning_rate", "0.01", "--ckpt_path", str(ckpt), config=TINY_GPTJ,
                    logger="none")
    assert main(argv) == 0
    assert (tmp_path / "export" / "model.safetensors").is_file()  # the export_dir given on the command line
    saved = (tmp_path / "ckpt" / "config.yaml").read_text()
    assert f"export_dir: {tmp_path / 'export'}" in saved and "learning_rate: 0.01" in saved
    assert snapshot(gptj_run / "export") == before  # the checkpoint's own export_dir untouched


def test_model_differences_names_fields_that_change_the_weights():
    saved = {"config": {**ModelConfig(arch="gptj", rotary_dim=8).__dict__}, "vocab_size": 400,
             "_class_path": "babylm.training.causal_lm.CausalLM"}
    assert model_differences(saved, ModelConfig(arch="gptj", rotary_dim=8, dropout=0.3), 400,
                             "babylm.training.causal_lm.CausalLM") == []  # dropout: training only
    assert model_differences(saved, ModelConfig(arch="llama"), 16_000,
                             "babylm.training.distill.DistillationStudent") == [
        "model.class_path babylm.training.causal_lm.CausalLM ≠ babylm.training.distill.DistillationStudent",
        "arch gptj ≠ llama", "rotary_dim 8 ≠ None", "vocab_size 400 ≠ 16000"]
    assert model_differences({"hyper": 1}, ModelConfig()) == ["config (none saved)"]


def test_module_refuses_a_checkpoint_of_another_model_when_loaded_directly():
    """The same check in ``CausalLM.on_load_checkpoint``: ``Trainer.fit(model, ckpt_path=…)`` outside the CLI."""
    from babylm.training.causal_lm import CausalLM, TrainingConfigError

    tiny = dict(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    module = CausalLM(config=ModelConfig(arch="llama", **tiny), vocab_size=50)
    gptj = {"config": ModelConfig(arch="gptj", **tiny).__dict__, "vocab_size": 50}
    with pytest.raises(TrainingConfigError, match="another model than this one \\(arch gptj ≠ llama; checkpoint"):
        module.on_load_checkpoint({"hyper_parameters": gptj})
    module.on_load_checkpoint({"hyper_parameters": {"config": module.model_config.__dict__, "vocab_size": 50},
                               "tokens_seen": 7})
    assert module.tokens_seen == 7


# ------------------------------------------------------------------------- the tokenizer a model was trained with
@pytest.fixture(scope="module")
def other_tokenizer(tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """A tokenizer of the run's size (400) trained on other text (each article's words reversed), and the tiny
    corpus encoded with it: (tokenizer JSON, tokenized root). Its ids mean other words."""
    import random

    from babylm.data.tokens.encode import encode_splits
    from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer
    from tests.training.teacher_fixtures import article

    root = tmp_path_factory.mktemp("other_tokenizer")
    rng = random.Random(99)
    tokenizer = train_tokenizer(texts=[" ".join(reversed(article(rng).split())) for _ in range(260)], vocab_size=400,
                                min_frequency=2)
    path = root / "tokenizer-other.json"
    save_tokenizer(tokenizer, path, root / "hf")
    encode_splits(path, tiny_data.root / "corpus_split", root / "tokenized", log=lambda line: None)
    assert (tokenizer.get_vocab_size() == 400
            and tokenizer_fingerprint(path) != tokenizer_fingerprint(tiny_data.tokenizer_path))
    return path, root / "tokenized"


def test_checkpoints_and_exports_record_the_tokenizer_they_were_trained_with(tiny_data, gptj_run):
    import json

    import torch

    fingerprint = tokenizer_fingerprint(tiny_data.tokenizer_path)
    checkpoint = torch.load(gptj_run / "ckpt" / "last.ckpt", weights_only=True, mmap=True)
    assert checkpoint["tokenizer"] == {"path": str(tiny_data.tokenizer_path), "fingerprint": fingerprint}
    manifest = json.loads((gptj_run / "export" / ".babylm-export.json").read_text())
    assert manifest["tokenizer_fingerprint"] == fingerprint and set(manifest["sha256"]) == set(manifest["files"])


@pytest.mark.parametrize("subcommand, ckpt", [("fit", "file"), ("fit", "last"), ("validate", "file"), ("test", "file")])
def test_a_checkpoint_of_another_tokenizer_of_the_same_size_is_refused(tiny_data, gptj_run, other_tokenizer, tmp_path,
                                                                       capsys, subcommand, ckpt):
    """Issue 24: resuming (or scoring) with another tokenizer of the same size was silent."""
    other, tokenized = other_tokenizer
    if ckpt == "last":
        shutil.copytree(gptj_run / "ckpt", tmp_path / "ckpt")
    path = gptj_run / "ckpt" / "last.ckpt" if ckpt == "file" else tmp_path / "ckpt" / "last.ckpt"
    argv = fit_argv(tmp_path, tiny_data, *QUIET, "--ckpt_path", str(path) if ckpt == "file" else "last",
                    "--data.tokenizer_path", str(other), "--data.tokenized_dir", str(tokenized), config=TINY_GPTJ,
                    logger="none")
    argv[0] = subcommand
    assert main(argv) == 2
    (line,) = error_lines(capsys)
    assert line == (f"babylm {subcommand}: error: --ckpt_path {path} was trained with tokenizer "
                    f"{tokenizer_fingerprint(tiny_data.tokenizer_path)}, but data.tokenizer_path {other} is tokenizer "
                    f"{tokenizer_fingerprint(other)}; resume with the tokenizer it was trained with (and the data "
                    "encoded with it), or start a new run")
    assert not (tmp_path / "export").exists() and not (tmp_path / "runs").exists()


def test_exporting_with_another_tokenizer_of_the_same_size_is_refused(tiny_data, gptj_run, other_tokenizer, tmp_path,
                                                                      capsys):
    """Issue 24: the export paired weights trained on tokenizer 1 with tokenizer 2."""
    other, _ = other_tokenizer
    ckpt = gptj_run / "ckpt" / "last.ckpt"
    assert main(["export", "--ckpt", str(ckpt), "--out", str(tmp_path / "out"), "--tokenizer", str(other)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"checkpoint {ckpt} was trained with tokenizer {tokenizer_fingerprint(tiny_data.tokenizer_path)}, but " \
           f"{other} is tokenizer {tokenizer_fingerprint(other)}" in line
    assert not (tmp_path / "out").exists()


def test_an_export_whose_tokenizer_was_swapped_is_refused_by_every_loader(tiny_data, gptj_run, other_tokenizer,
                                                                          tmp_path):
    from babylm.models.export import ExportError, load_exported
    from babylm.training.teachers import TeacherError, check_same_tokenizer

    other, _ = other_tokenizer
    swapped = Path(shutil.copytree(gptj_run / "export", tmp_path / "swapped"))
    shutil.copyfile(other.parent / "hf" / "tokenizer.json", swapped / "tokenizer.json")
    with pytest.raises(ExportError, match=rf"is tokenizer {tokenizer_fingerprint(other)}, but the weights beside it "
                                          rf"were trained with tokenizer "
                                          rf"{tokenizer_fingerprint(tiny_data.tokenizer_path)}"):
        load_exported(swapped)  # evaluate, generate
    with pytest.raises(TeacherError, match="it was replaced after the export: re-export the teacher"):
        check_same_tokenizer(swapped, other)  # a teacher for a student of the other tokenizer


def test_milestone_and_final_exports_check_the_tokenizer_the_run_started_with(tiny_data, other_tokenizer, tmp_path):
    """The run's exports compare the tokenizer file at export time with the one training read (it may be retrained
    meanwhile); a module loading a checkpoint of another tokenizer refuses it (Trainer API, outside the CLI)."""
    from babylm.models.export import ExportError, export_hf
    from babylm.training.causal_lm import CausalLM
    from babylm.training.checks import RunConfigError

    other, _ = other_tokenizer
    module = CausalLM(config=ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32),
                      vocab_size=400, tokenizer_path=str(other))
    with pytest.raises(ExportError, match="this run's model was trained with tokenizer 0123456789abcdef"):
        export_hf(module.model, other, tmp_path / "chck_1M", "x", expected_fingerprint="0123456789abcdef",
                  trained_by="this run's model")
    assert not (tmp_path / "chck_1M").exists()
    with pytest.raises(RunConfigError, match=rf"^the checkpoint was trained with tokenizer "
                                              rf"{tokenizer_fingerprint(tiny_data.tokenizer_path)}, "
                                              rf"but model\.init_args"):
        module.on_load_checkpoint({"tokenizer": {"fingerprint": tokenizer_fingerprint(tiny_data.tokenizer_path)}})
