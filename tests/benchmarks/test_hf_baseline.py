"""The HF-Trainer baseline of ``benchmarks/`` trains the same recipe as ours, at any gradient accumulation.

Both sides take their first optimizer step on the same windows from the same initial weights: ours
(:class:`CausalLM` / :class:`DistillationStudent` under a Lightning ``Trainer``, through the benchmark's
``fit_babylm``) and theirs (``transformers.Trainer`` / the reference ``DistillationTrainer``, through
``fit_hf_trainer``). The accumulated gradients just before that step must agree, and so must the loss the
baseline reports. Clipping is off here, as it would hide a gradient scaled by the accumulation steps.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch

from babylm.models.build import ModelConfig, build_model
from babylm.training.causal_lm import CausalLM
from babylm.training.distill import DistillationStudent

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_vs_hf_trainer import fit_babylm, fit_hf_trainer, random_windows  # noqa: E402  (benchmarks/)

VOCAB, SEQ, BATCH = 96, 16, 6
STUDENT = ModelConfig(arch="llama", hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                      max_position_embeddings=SEQ)
TEACHERS = [ModelConfig(arch="llama", hidden_size=48, num_layers=1, num_heads=2, intermediate_size=96,
                        max_position_embeddings=SEQ),
            ModelConfig(arch="gptj", hidden_size=48, num_layers=1, num_heads=2, intermediate_size=96, rotary_dim=8,
                        max_position_embeddings=SEQ)]


@pytest.fixture(scope="module")
def teachers(tmp_path_factory) -> list[str]:
    """Two random tiny teachers (LLaMA, GPT-J) saved as HF directories."""
    root = tmp_path_factory.mktemp("teachers")
    torch.manual_seed(1)
    dirs = []
    for index, config in enumerate(TEACHERS):
        build_model(config, VOCAB).save_pretrained(root / f"teacher{index}")
        dirs.append(str(root / f"teacher{index}"))
    return dirs


def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def first_step(role: str, accumulation: int, teachers: list[str], scratch: Path):
    """Both sides' gradients at their first optimizer step, the baseline's reported loss and ours on the same
    windows."""
    import lightning as L
    from transformers import TrainerCallback

    dataset = random_windows(BATCH, SEQ, VOCAB)  # exactly one step's windows: both sides see all of them
    settings = dict(micro=BATCH // accumulation, accumulation=accumulation, steps=1, learning_rate=1e-3, warmup=0,
                    weight_decay=0.1, precision="32-true", device="cpu")
    torch.manual_seed(0)
    common = dict(config=STUDENT, vocab_size=VOCAB, learning_rate=1e-3, warmup_steps=0, schedule_steps=1)
    if role == "distill":
        ours = DistillationStudent(teachers=teachers, alpha=0.5, temperature=2.0, reduction="legacy_batch_sum",
                                   **common)
        extra = dict(alpha=0.5, temperature=2.0)
    else:
        ours, extra = CausalLM(**common), {}
    theirs = copy.deepcopy(ours.model)  # the same initial weights
    with torch.no_grad():  # our objective over the whole step's windows, before any update
        expected_loss = ours.compute_loss({"input_ids": torch.stack([w["input_ids"] for w in dataset])},
                                          "train")["loss"]

    captured = {}

    class OursBeforeStep(L.Callback):
        def on_before_optimizer_step(self, trainer, module, optimizer):  # after accumulation, before clipping
            captured.setdefault("ours", gradients(module.model))

    class TheirsBeforeStep(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            captured.setdefault("theirs", gradients(model))

    fit_babylm(ours, dataset, scratch=str(scratch / "ours"), callbacks=[OursBeforeStep()], gradient_clip_val=None,
               **settings)
    _, output = fit_hf_trainer(theirs, dataset, teachers if role == "distill" else [], scratch=str(scratch / "theirs"),
                               callbacks=[TheirsBeforeStep()], max_grad_norm=0.0, **extra, **settings)
    return captured["ours"], captured["theirs"], float(expected_loss), output.training_loss


@pytest.mark.parametrize("accumulation", [1, 2])
@pytest.mark.parametrize("role", ["teacher", "distill"])
def test_the_baseline_takes_the_same_first_step_as_ours(role, accumulation, teachers, tmp_path):
    ours, theirs, our_loss, their_loss = first_step(role, accumulation, teachers, tmp_path)

    assert ours.keys() == theirs.keys() and len(ours) > 0
    for name, gradient in ours.items():
        torch.testing.assert_close(theirs[name], gradient, rtol=1e-4, atol=1e-7, msg=name)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in theirs.values()]))
    assert norm > 1e-3  # a real gradient, not two zeros that agree
    assert their_loss == pytest.approx(our_loss, rel=1e-5)  # the reported train_loss is the step's mean loss
