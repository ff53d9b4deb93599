"""CausalLM: a tiny teacher trained through the real CLI learns, logs, schedules and checkpoints as documented."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from babylm.models.build import ModelConfig, build_model
from babylm.models.tracks import (
    DEFAULT_MILESTONES_MILLIONS,
    STRICT_MILESTONES_MILLIONS,
    crossed_milestones,
    milestone_label,
    revision_name,
)
from babylm.training.callbacks import WordMilestoneCheckpoint
from babylm.training.causal_lm import CausalLM, adamw, warmup_cosine, weight_decay_groups
from tests.training.teacher_fixtures import fit_argv, run_cli, tiny_data  # noqa: F401 (fixture)

STEPS, BATCH, SEQ, WARMUP, LR = 40, 8, 128, 5, 2e-3


@pytest.fixture(scope="module")
def tiny_run(tiny_data, tmp_path_factory) -> Path:
    """One 40-step fit of configs/tiny/teacher_llama.yaml (CSV logs, export, word milestones)."""
    out = tmp_path_factory.mktemp("tiny_fit")
    assert run_cli(fit_argv(out, tiny_data, "--word_checkpoints.milestones", "[0.001, 0.004, 1000]")) == 0
    return out


def metrics(run: Path) -> list[dict[str, str]]:
    (path,) = run.glob("runs/**/metrics.csv")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def column(rows: list[dict[str, str]], name: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[name])) for r in rows if r.get(name)]


def test_training_loss_goes_down(tiny_run):
    rows = metrics(tiny_run)
    train = column(rows, "train/loss")
    val = column(rows, "val/loss")
    assert len(val) == 2  # val_check_interval 20 batches over 40 steps
    first, last = train[0][1], train[-1][1]
    assert first > math.log(400) - 1.0  # starts near uniform over the ~400-token vocabulary
    assert last < first - 1.5, f"train loss {first:.2f} → {last:.2f}"
    assert val[-1][1] < val[0][1] < first
    ppl = column(rows, "val/ppl")
    assert ppl[-1][1] == pytest.approx(math.exp(val[-1][1]), rel=1e-4)


def test_dashboards_gradient_norm_resolved_config_and_loss_curve(tiny_run):
    import yaml

    norms = column(metrics(tiny_run), "train/grad_norm")
    assert len(norms) >= STEPS // 5 and all(math.isfinite(v) and v > 0 for _, v in norms)
    (hparams,) = tiny_run.glob("runs/**/hparams.yaml")
    # FullLoader: Lightning writes the model's betas as !!python/tuple (a plain tuple, no code)
    config = yaml.load(hparams.read_text(), Loader=yaml.FullLoader)["run_config"]  # the whole run, not only the model
    assert config["seed_everything"] == 1234 and config["trainer"]["precision"] == "32-true"
    assert config["trainer"]["max_steps"] == STEPS and config["data"]["seq_len"] == SEQ
    assert config["word_checkpoints"]["milestones"] == [0.001, 0.004, 1000.0]
    png = tiny_run / "ckpt" / "loss_curve.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    state = torch.load(tiny_run / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)["callbacks"]["LossCurve"]
    assert len(state["val"]) == 2 and len(state["train"]) == STEPS // 5  # every log_every_n_steps (5) step
    assert state["train"][-1][0] == STEPS * BATCH * SEQ  # x = tokens seen


def test_logged_learning_rate_follows_warmup_then_cosine(tiny_run):
    logged = dict(column(metrics(tiny_run), "train/lr"))
    assert logged, "train/lr was not logged"
    for step, lr in logged.items():
        # the CSV "step" is the optimizer steps done before the logged batch, i.e. the schedule index it used
        assert lr == pytest.approx(LR * warmup_cosine(step, WARMUP, STEPS, 0.0), rel=1e-5, abs=1e-9)


def test_throughput_and_tokens_seen_are_logged(tiny_run):
    rows = metrics(tiny_run)
    tokens = column(rows, "train/tokens_seen")
    step, seen = tokens[-1]
    assert seen == (step + 1) * BATCH * SEQ  # counted after the batch of that row
    assert all(rate > 0 for _, rate in column(rows, "train/tokens_per_s"))
    words = column(rows, "train/words_seen")
    assert 0 < words[-1][1] < tokens[-1][1]


def test_checkpoints_config_and_word_milestones(tiny_run):
    ckpt = tiny_run / "ckpt"
    assert (ckpt / "last.ckpt").is_file() and list(ckpt.glob("best-step=*.ckpt"))
    assert "CausalLM" in (ckpt / "config.yaml").read_text()  # the resolved config sits beside the checkpoints
    (hparams,) = tiny_run.glob("runs/**/hparams.yaml")
    weights = torch.load(ckpt / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    total = sum(v.numel() for v in weights.values())  # untied: no tensor is stored twice
    assert f"parameters/total: {total}" in hparams.read_text()  # parameter counts go to the experiment logger
    # 1,000 and 4,000 words are passed within 40 steps; 1,000M words are not
    assert sorted(p.name for p in ckpt.glob("words-*.ckpt")) == ["words-0.001M.ckpt", "words-0.004M.ckpt"]
    state = torch.load(ckpt / "words-0.004M.ckpt", map_location="cpu", weights_only=True)
    assert state["tokens_seen"] == state["global_step"] * BATCH * SEQ  # saved right after an optimizer step
    assert state["global_step"] < STEPS
    assert state["callbacks"]["WordMilestoneCheckpoint"]["saved"] == [0.001, 0.004]


def test_word_milestones_are_exported_as_babylm_revisions_with_a_blimp_curve(tiny_run):
    from safetensors.torch import load_file

    from babylm.models.export import load_checkpoint, model_from_checkpoint

    ckpt = tiny_run / "ckpt"
    assert sorted(p.name for p in ckpt.glob("chck_*")) == ["chck_0.001M", "chck_0.004M"]  # the Hub branch names
    exported = load_file(ckpt / "chck_0.004M" / "model.safetensors")
    model = model_from_checkpoint(load_checkpoint(ckpt / "words-0.004M.ckpt"))
    for name, value in model.state_dict().items():
        torch.testing.assert_close(exported[name], value, rtol=0, atol=0)  # the milestone's own weights
    # BLiMP (the bundled sample) scored at each milestone: logged, kept in the checkpoint, drawn
    logged = [(int(r["step"]), float(r["blimp/accuracy"]), float(r["blimp/words_seen"]))
              for r in metrics(tiny_run) if r.get("blimp/accuracy")]
    curve = json.loads((ckpt / "blimp_curve.json").read_text())["milestones"]
    assert [e["milestone_millions"] for e in curve] == [0.001, 0.004] and len(logged) == 2
    assert [e["accuracy"] for e in curve] == [a for _, a, _ in logged] and all(0 <= a <= 1 for _, a, _ in logged)
    assert all(e["pairs"] == 144 for e in curve) and logged[0][2] >= 1000
    assert (ckpt / "blimp_vs_words.png").read_bytes().startswith(b"\x89PNG")
    state = torch.load(ckpt / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["callbacks"]["WordMilestoneCheckpoint"]["blimp_curve"] == curve  # a resumed run keeps the curve


def test_evaluate_on_the_run_folder_draws_the_same_curve_from_the_exports(tiny_run, tmp_path, capsys):
    from babylm.commands.evaluate import main as evaluate_main

    ckpt = tiny_run / "ckpt"
    assert evaluate_main(["--model", str(ckpt), "--blimp-dir", str(SAMPLE_BLIMP_DIR), "--out", str(tmp_path)]) == 0
    assert "chck_0.001M" in capsys.readouterr().out
    redrawn = json.loads((tmp_path / "blimp_curve.json").read_text())["milestones"]
    during = json.loads((ckpt / "blimp_curve.json").read_text())["milestones"]
    assert [e["revision"] for e in redrawn] == ["chck_0.001M", "chck_0.004M"]
    for mine, theirs in zip(redrawn, during):  # same scoring; at most a float-rounding tie may flip (1 of 144 pairs)
        assert mine["accuracy"] == pytest.approx(theirs["accuracy"], abs=1.5 / 144)
    assert (tmp_path / "blimp_vs_words.png").is_file()
    assert evaluate_main(["--model", str(ckpt), "--tasks", "perplexity", "--out", str(tmp_path / "p")]) == 2
    assert "only --tasks blimp applies" in capsys.readouterr().err


def test_checkpoint_loads_with_weights_only_and_keeps_plain_hparams(tiny_run):
    state = torch.load(tiny_run / "ckpt" / "last.ckpt", map_location="cpu", weights_only=True)
    hp = state["hyper_parameters"]
    # max_position_embeddings is linked from data.seq_len
    assert hp["config"]["arch"] == "llama" and hp["config"]["max_position_embeddings"] == SEQ
    assert hp["vocab_size"] == 400 and hp["tokenizer_path"].endswith("tokenizer-clean.json")
    assert state["global_step"] == STEPS and state["tokens_seen"] == STEPS * BATCH * SEQ


def test_default_word_milestones():
    assert DEFAULT_MILESTONES_MILLIONS == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    assert crossed_milestones([1, 2, 10], 0.5, 2.0) == [1, 2]
    assert crossed_milestones([1, 2, 10], 2.0, 9.9) == []
    assert milestone_label(10) == "10M" and milestone_label(0.5) == "0.5M"
    assert revision_name(10) == "chck_10M" and revision_name(0.002) == "chck_0.002M"


def test_the_strict_track_adds_the_100m_to_1000m_ladder():
    assert STRICT_MILESTONES_MILLIONS[-10:] == (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
    assert WordMilestoneCheckpoint(track="strict").milestones_millions == [float(m) for m in STRICT_MILESTONES_MILLIONS]
    assert WordMilestoneCheckpoint().milestones_millions == [float(m) for m in DEFAULT_MILESTONES_MILLIONS]
    # the names the official pipeline's eval_zero_shot_fast_all_revisions.sh loops over
    names = [revision_name(m) for m in STRICT_MILESTONES_MILLIONS]
    assert (names[:10] == [f"chck_{i}M" for i in range(1, 11)]
            and names[10:19] == [f"chck_{i}M" for i in range(20, 101, 10)])
    assert names[19:] == [f"chck_{i}M" for i in range(200, 1001, 100)]


def test_warmup_cosine_by_hand():
    assert warmup_cosine(0, 4, 10, 0.0) == pytest.approx(0.25)
    assert warmup_cosine(3, 4, 10, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(4, 4, 10, 0.0) == pytest.approx(1.0)  # cosine starts at the peak
    assert warmup_cosine(7, 4, 10, 0.0) == pytest.approx(0.5)  # half-way through the decay
    assert warmup_cosine(10, 4, 10, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(50, 4, 10, 0.1) == pytest.approx(0.1)  # stays at the floor past the end


@pytest.mark.parametrize("tied", [False, True])
def test_weight_decay_groups_exempt_biases_norms_and_embeddings(tied):
    model = build_model(ModelConfig(arch="gpt2", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                    tie_word_embeddings=tied), vocab_size=50)
    decay, exempt = weight_decay_groups(model, 0.1, ["bias", "norm", "embedding"])
    names: dict[int, set[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), set()).add(name)  # a tied weight has two names
    exempt_names = set().union(*(names[id(p)] for p in exempt["params"]))
    decay_names = set().union(*(names[id(p)] for p in decay["params"]))
    assert decay["weight_decay"] == 0.1 and exempt["weight_decay"] == 0.0
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
            "transformer.ln_f.bias"} <= exempt_names
    assert all(n.endswith("bias") or "ln_" in n or n.startswith("transformer.w") or n == "lm_head.weight"
               for n in exempt_names)
    assert "transformer.h.0.mlp.c_fc.weight" in decay_names
    assert ("lm_head.weight" in decay_names) is not tied  # an untied output projection is decayed
    unique = {id(p) for p in model.parameters()}
    assert len(decay["params"]) + len(exempt["params"]) == len(unique)  # every parameter exactly once


def test_no_weight_decay_is_configurable():
    model = build_model(ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), 50)
    (only,) = weight_decay_groups(model, 0.1, [])
    assert len(only["params"]) == len(list(model.parameters()))
    decay, exempt = weight_decay_groups(model, 0.1, ["norm"])
    assert all(p.dim() == 1 for p in exempt["params"])  # RMSNorm weights only
    assert any(p.dim() == 2 and p.shape[0] == 50 for p in decay["params"])  # embeddings decayed now


def test_optimizer_covers_only_the_wrapped_model():
    module = CausalLM(ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32),
                      vocab_size=50, schedule_steps=10, warmup_steps=2)
    module.extra = torch.nn.Linear(3, 3)  # e.g. something a subclass holds that is not the trained model
    optimizer = module.configure_optimizers()["optimizer"]
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in module.model.parameters()}
    assert module.hparams.config == {**module.hparams.config, "arch": "llama"}  # plain dict, not a dataclass


def test_fused_adamw_takes_the_steps_of_plain_adamw():
    """Our optimizer (fused on CPU) and torch's for-loop AdamW give the same weights after a few steps."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), 50)
    twin = build_model(ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), 50)
    twin.load_state_dict(model.state_dict())
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    hyper = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    ours = adamw(weight_decay_groups(model, 0.1, ["bias", "norm"]), **hyper)
    plain = torch.optim.AdamW(weight_decay_groups(twin, 0.1, ["bias", "norm"]), foreach=False, fused=False, **hyper)
    assert ours.defaults["fused"] is True  # a CPU has fused AdamW kernels in torch 2.13
    for step in range(3):
        for net in (model, twin):
            for index, param in enumerate(net.parameters()):
                param.grad = torch.randn(param.shape, generator=torch.Generator().manual_seed(100 * step + index))
        ours.step()
        plain.step()
    for (name, mine), theirs in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6, msg=name)
    moved = [not torch.allclose(p, start[n]) for n, p in model.named_parameters()]
    assert all(moved)  # every parameter took real steps (weight decay and updates), not a no-op that agrees


@pytest.mark.parametrize(("precision", "fused"), [("32-true", True), ("bf16-mixed", None)])
def test_adamw_is_fused_unless_lightning_clips_under_mixed_precision(precision, fused, tmp_path):
    """Lightning refuses gradient clipping with a fused optimizer under ``*-mixed``: there we keep torch's default."""
    import lightning as L
    from torch.utils.data import DataLoader

    module = CausalLM(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), vocab_size=50,
                      schedule_steps=2, warmup_steps=0)
    windows = [{"input_ids": torch.randint(0, 50, (12,))} for _ in range(4)]
    trainer = L.Trainer(accelerator="cpu", precision=precision, max_steps=2, gradient_clip_val=1.0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, limit_val_batches=0)
    trainer.fit(module, DataLoader(windows, batch_size=2))
    assert trainer.global_step == 2
    assert trainer.optimizers[0].defaults["fused"] is fused


def test_validation_loss_is_a_mean_over_windows_not_batches(tmp_path):
    import lightning as L
    from torch.utils.data import DataLoader

    from babylm.models.losses import causal_lm_loss

    torch.manual_seed(0)
    module = CausalLM(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), vocab_size=50)
    windows = [{"input_ids": torch.randint(0, 50, (12,))} for _ in range(5)]  # batches of 2, 2 and 1
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path)
    logged = trainer.validate(module, DataLoader(windows, batch_size=2), verbose=False)[0]

    with torch.no_grad():
        per_window = [causal_lm_loss(module(w["input_ids"][None]), w["input_ids"][None]) for w in windows]
    expected = torch.stack(per_window).mean().item()
    assert logged["val/loss"] == pytest.approx(expected, rel=1e-5)
    assert logged["val/ppl"] == pytest.approx(math.exp(expected), rel=1e-5)


def test_a_masked_window_without_a_chosen_token_adds_nothing_to_the_hybrid_loss(tiny_data):  # noqa: F811
    """A newcomer's trial: at a very low rate a masked window may have no chosen token; it used to count as an
    MNTP loss of 0 in the mean (``train/mntp`` swung 7.6 → 1.9). Now it is left out: the loss is the causal part's."""
    from babylm.data.tokens.datamodule import TokenizedDataModule

    torch.manual_seed(0)
    module = CausalLM(config=ModelConfig(arch="llama", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32),
                      vocab_size=400, objective="hybrid",
                      hybrid={"masked_share": 0.5, "mask_rate_start": 1e-4, "mask_rate_end": 1e-4})
    data = TokenizedDataModule(tokenizer_path=str(tiny_data.tokenizer_path), tokenized_dir=str(tiny_data.tokenized_dir),
                               seq_len=16, batch_size=4, num_workers=0)
    module.hybrid.bind(data, total_steps=10)
    batch = {"input_ids": torch.randint(4, 400, (4, 16)), "position": torch.arange(4)}  # slots 0, 1 masked

    parts = module.hybrid.loss(module, batch)

    causal = module.causal_loss({"input_ids": batch["input_ids"][2:]}, "train")
    assert parts["windows/mntp"] == 0 and parts["windows/ce"] == 2 and parts["windows/mask_rate"] == 2
    assert parts["loss"].item() == pytest.approx(2 * causal["loss"].item() / 4, rel=1e-5)
