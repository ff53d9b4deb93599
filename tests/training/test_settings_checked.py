"""Numbers checked before use: a training setting that cannot work is one line (exit code 2) before the run starts.

Issue 24 (§3): a setting found wrong only once the run is under way (a traceback from torch's AdamW or numpy's seed,
a NaN learning rate that makes every weight NaN, a milestone that is never reached) is checked up front instead.
"""

from __future__ import annotations

import pytest

from babylm.cli import main
from tests.training.teacher_fixtures import fit_argv, tiny_data  # noqa: F401 (fixture)


@pytest.mark.parametrize("option, value, expected", [
    ("--model.init_args.learning_rate", "-0.001",
     "model.init_args.learning_rate must be a finite number > 0, got -0.001"),
    ("--model.init_args.betas", "[0.9, 1.0]", "model.init_args.betas[1] must be in [0, 1), got 1.0"),
    ("--model.init_args.eps", "0", "model.init_args.eps must be a finite number > 0, got 0.0"),
    ("--model.init_args.min_lr_ratio", "2", "model.init_args.min_lr_ratio must be in [0, 1], got 2.0"),
    ("--word_checkpoints.milestones", "[.inf]", "word_checkpoints.milestones[0] is inf: give a finite number"),
    ("--word_checkpoints.milestones", "[-1]",
     "word_checkpoints.milestones must be positive millions of words, got [-1.0]"),
    ("--word_checkpoints.blimp_limit", "0", "word_checkpoints.blimp_limit must be at least 1 pair per paradigm"),
    ("--data.seed", "-1", "data.seed is -1: a seed must be an integer from 0 to 4294967295"),
])
def test_a_setting_that_cannot_train_is_one_line_before_anything_is_written(tiny_data, tmp_path, capsys, option, value,
                                                                           expected):
    assert main(fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "1", option, value, logger="none")) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("babylm fit")]
    assert len(lines) == 1 and expected in lines[0], lines  # (a traceback would have left main() with no exit code)
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "export").exists()


def test_optimizer_settings_are_checked_when_the_module_is_built():
    """Outside the CLI (whose parser already refuses a NaN float), the module refuses them itself."""
    from babylm.models.build import ModelConfig
    from babylm.training.causal_lm import CausalLM, TrainingConfigError

    tiny = ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    for bad, expected in ((dict(learning_rate=float("nan")), "learning_rate must be a finite number > 0, got nan"),
                          (dict(weight_decay=float("inf")), "weight_decay must be a finite number ≥ 0, got inf"),
                          (dict(warmup_steps=-1), "warmup_steps must be ≥ 0")):
        with pytest.raises(TrainingConfigError, match=expected):
            CausalLM(config=tiny, vocab_size=50, **bad)


def test_a_mask_rate_of_zero_is_refused_as_it_leaves_the_masked_windows_nothing_to_learn(tiny_data, tmp_path, capsys):
    """A newcomer's trial: mask rates 0 trained with half of every step empty and logged ``train/mntp`` 0.0."""
    argv = fit_argv(tmp_path, tiny_data, "--trainer.max_steps", "1", "--model.init_args.objective", "hybrid",
                    "--model.init_args.hybrid.masked_share", "0.5", "--model.init_args.hybrid.mask_rate_end", "0",
                    logger="none")
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("babylm fit")]
    assert len(lines) == 1 and "model.init_args.hybrid.mask_rate_end must be in (0, 1], got 0.0" in lines[0], lines
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "export").exists()
