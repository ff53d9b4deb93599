"""``--ckpt_path`` with another model's checkpoint is refused; the same model's resumes with the command line honoured.

Lightning ≥ 2.3 merged a ``--ckpt_path`` checkpoint's hyper-parameters over the config: a LLaMA config given a
GPT-J checkpoint trained GPT-J and exported it into the checkpoint's own ``export_dir``, ignoring the command line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from babylm.cli import main
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
                    "--model.init_args.learning_rate", "0.01", "--ckpt_path", str(ckpt), config=TINY_GPTJ, logger="none")
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
    assert model_differences(saved, ModelConfig(arch="llama"), 16_000, "babylm.training.distill.DistillationStudent") == [
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
