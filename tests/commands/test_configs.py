"""Every shipped YAML in configs/ parses with the training CLI; the reference teachers have the stated sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from babylm.cli import main
from babylm.commands.fit import BASE_CONFIG, build_parser
from babylm.models.build import ModelConfig, build_model, count_parameters

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
VARIANTS = sorted(p for p in CONFIGS.rglob("*.yaml") if p != BASE_CONFIG and p.parent.name != "recipes")  # training
# configs; configs/recipes/ holds the recipe's presets (tests/commands/test_recipe_plan.py)


@pytest.fixture(scope="module")
def parser():
    return build_parser()


def parse(parser, *args: str):
    return parser.parse_args(list(args))


def values(cfg) -> dict:
    """The settings of a parsed config, without the record of which files were read."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "__path__"}
        return [strip(v) for v in node] if isinstance(node, list) else node

    tree = strip(cfg.as_dict())
    tree.pop("config", None)
    return tree


def test_configs_are_shipped():
    names = {str(p.relative_to(CONFIGS)) for p in VARIANTS}
    assert {"teacher_llama_360m.yaml", "teacher_gptj_705m.yaml", "tiny/teacher_llama.yaml",
            "tiny/teacher_gptj.yaml"} <= names
    assert BASE_CONFIG == CONFIGS / "base.yaml" and BASE_CONFIG.is_file()


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_variant_parses_alone_and_composed_with_base(parser, path):
    alone = parse(parser, "-c", str(path))
    composed = parse(parser, "-c", str(BASE_CONFIG), "-c", str(path))
    assert values(alone) == values(composed)  # base.yaml is the default config, so naming it changes nothing
    assert alone.model is not None and alone.checkpoint.dirpath != "checkpoints/run"  # each run has its own directory
    config = alone.model.init_args.config
    ModelConfig(**vars(config)).validate()
    assert config.max_position_embeddings == alone.data.seq_len  # linked, typed once


def test_base_parses_with_a_model_given(parser):
    cfg = parse(parser, "-c", str(BASE_CONFIG), "--model", "babylm.training.causal_lm.CausalLM")
    assert cfg.trainer.logger.class_path.endswith("WandbLogger")
    assert cfg.trainer.gradient_clip_val == 1.0 and cfg.checkpoint.save_last is True


@pytest.mark.parametrize(
    "name, arch, total, lr",
    [("teacher_llama_360m.yaml", "llama", 359_973_888, 3e-4), ("teacher_gptj_705m.yaml", "gptj", 728_906_368, 2.5e-4)],
)
def test_reference_teachers(parser, name, arch, total, lr):
    cfg = parse(parser, "-c", str(CONFIGS / name))
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.data.batch_size == 128 and cfg.data.seq_len == 128
    init = cfg.model.init_args
    assert init.learning_rate == lr and init.warmup_steps == 300 and init.config.arch == arch
    with torch.device("meta"):  # sizes only: no memory, no time
        model = build_model(ModelConfig(**vars(init.config)), vocab_size=16_000)
    assert count_parameters(model)["total"] == total


def test_print_config_is_complete_commented_and_reusable(tmp_path, capsys):
    tiny = CONFIGS / "tiny" / "teacher_llama.yaml"
    assert main(["fit", "-c", str(tiny), "--print_config"]) == 0
    printed = capsys.readouterr().out
    assert "# Peak learning rate of AdamW" in printed  # the model's documented arguments are comments
    assert "# Width of the residual stream" in printed  # so are the ModelConfig fields
    assert "# Effective (global) batch" in printed
    tree = yaml.safe_load(printed)
    assert {"trainer", "model", "data", "checkpoint", "word_checkpoints"} <= set(tree)
    assert tree["model"]["init_args"]["config"]["hidden_size"] == 64
    saved = tmp_path / "start.yaml"
    saved.write_text(printed)
    parser = build_parser()
    # a complete, equivalent config
    assert values(parse(parser, "-c", str(saved))) == values(parse(parser, "-c", str(tiny)))


def test_print_config_without_a_model_shows_the_causal_lm(capsys):
    assert main(["fit", "--print_config"]) == 0
    tree = yaml.safe_load(capsys.readouterr().out)
    assert tree["model"]["class_path"] == "babylm.training.causal_lm.CausalLM"
    assert "learning_rate" in tree["model"]["init_args"]


def test_the_reference_student_distils_from_a_teacher_cache_and_the_tiny_one_online(parser):
    from babylm.data.tokens.teacher_cache import bytes_per_token

    reference = parse(parser, "-c", str(CONFIGS / "distill.yaml")).model.init_args
    assert vars(reference.cache) == {"dir": "data/teacher_cache", "method": "sample", "k": 12, "seed": 1234}
    assert bytes_per_token("sample", 12) == 40  # as the config's comment says
    # quick start, tests
    assert parse(parser, "-c", str(CONFIGS / "tiny" / "distill.yaml")).model.init_args.cache is None


def test_the_reference_recipe_fits_the_strict_small_word_budget(parser):
    """Teachers and student together train on at most 10 passes of the corpus: BabyLM's cap (docs/budget.md)."""
    recipe = ["teacher_llama_360m.yaml", "teacher_gptj_705m.yaml", "distill.yaml"]
    configs = {name: parse(parser, "-c", str(CONFIGS / name)) for name in recipe}
    passes = {name: cfg.trainer.max_epochs for name, cfg in configs.items()}
    assert all(isinstance(p, int) and p > 0 for p in passes.values()) and sum(passes.values()) <= 10, passes
    assert all(cfg.trainer.max_steps in (None, -1) for cfg in configs.values())  # epochs alone end each run
    assert {cfg.budget.track for cfg in configs.values()} == {"strict-small"}
    assert {cfg.budget.cap for cfg in configs.values()} == {"track"}
    assert configs["distill.yaml"].model.init_args.teachers == ["checkpoints/Llama-360M", "checkpoints/GPTJ-705M"]
