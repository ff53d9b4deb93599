"""Parts ``blimp``, ``realrun`` and ``train10m`` of the GPU suite: real training on real EB1911 text, and BLiMP.

Run through ``python benchmarks/gpu_suite.py --parts blimp,realrun`` (or ``--parts train10m``); ``--dry-run``
for tiny shapes on a CPU.

* ``blimp`` — BLiMP pairs/s of the student architecture (Baby-Llama-58M, random weights: speed does not depend
  on them) in fp32 through :func:`babylm.evaluation.blimp.evaluate_blimp` (``bench_blimp.time_scoring``) at a few
  batch sizes, and the same pairs' scores on the GPU against the CPU (largest difference of a summed log-prob).
* ``realrun`` — the student architecture as a plain causal LM on the real Gutenberg EB1911 slice #19699
  (``.gpu/tokenized/eb1911-19699``), effective batch 32 in one micro-batch, for ``realrun_seconds`` in bf16-mixed
  and then the same steps from the same initial weights and data order in fp32 (capped in time): the two loss
  curves side by side (``realrun.png``) and their differences, and both models' validation loss in fp32.
* ``train10m`` — the student alone on the 10M-word EB1911 corpus for ``train_seconds`` (the schedule sized from
  a short probe of the step time), then its validation loss and BLiMP on every pair of ``.gpu/blimp-dev``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_blimp import time_scoring  # noqa: E402  (benchmarks/)
from gpu_setup import Setup  # noqa: E402
from gpu_throughput import data_module, fit_timed, free_memory, mfu, on_device, role, train_flops  # noqa: E402
from harness import lightning_timed_clock  # noqa: E402

AGREE_NATS = 0.05  # loss curves "agree" when their smoothed difference stays under this (nats per token)


def run_blimp(setup: Setup, report: Callable[[str, dict], None]) -> dict:
    """BLiMP pairs/s of the student architecture at ``setup.blimp_batches``, and GPU-vs-CPU score agreement."""
    import torch

    from babylm.data.tokens.tokenizer import load_hf_tokenizer
    from babylm.evaluation.blimp import load_blimp_dir, score_paradigm
    from babylm.models.build import build_model

    tokenizer = load_hf_tokenizer(setup.tokenizer)
    config = role(setup.student)[1]
    torch.manual_seed(0)
    with on_device(setup):
        model = build_model(config, len(tokenizer)).eval()
    names = sorted(p.stem for p in setup.blimp_dir.glob("*.jsonl"))[:4]
    paradigms = load_blimp_dir(setup.blimp_dir, paradigms=names, limit=setup.blimp_pairs)
    pairs = sum(len(p.pairs) for p in paradigms)
    speeds = {}
    for batch in setup.blimp_batches:
        seconds = time_scoring(model, tokenizer, paradigms, batch, repeats=2)
        speeds[str(batch)] = {"seconds": seconds, "pairs_per_s": pairs / seconds}
        report(f"blimp batch {batch}", speeds[str(batch)])
    first = dataclasses.replace(paradigms[0], pairs=paradigms[0].pairs[:200])  # the CPU scores 400 sentences in seconds
    here = score_paradigm(model, tokenizer, first, batch_size=max(setup.blimp_batches))
    on_cpu = score_paradigm(model.float().cpu(), tokenizer, first, batch_size=64)
    gaps = [abs(a - b) for a, b in zip(here.good_logprobs + here.bad_logprobs,
                                       on_cpu.good_logprobs + on_cpu.bad_logprobs)]
    agreement = {"paradigm": first.uid, "pairs": here.pairs,
                 "max_abs_logprob_difference": max(gaps), "same_correct": here.correct == on_cpu.correct,
                 "correct_here": here.correct, "correct_cpu": on_cpu.correct}
    del model
    free_memory()
    return {"model": setup.student, "paradigms": names, "pairs": pairs, "precision": "fp32", "speed": speeds,
            "best_pairs_per_s": max(s["pairs_per_s"] for s in speeds.values()), "gpu_vs_cpu": agreement}


class LossCurve:
    """A Lightning callback that keeps every optimizer step's training loss (no synchronisation until read)."""

    def __init__(self):
        import lightning as L

        curve = self

        class _Callback(L.Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                curve.values.append(outputs["loss"].detach())

        self.values: list = []
        self.callback = _Callback()

    def losses(self) -> list[float]:
        """The losses as floats (one per micro-batch: one per optimizer step without accumulation)."""
        import torch

        return torch.stack(self.values).float().cpu().tolist() if self.values else []


def student_module(setup: Setup, vocab: int, steps: int, seed: int = 0):
    """A fresh student-architecture :class:`CausalLM` with the student config's optimizer, scheduled over ``steps``."""
    import lightning as L

    from babylm.training.causal_lm import CausalLM

    cfg, config, _, _ = role(setup.student)
    init = cfg.model.init_args
    L.seed_everything(seed, verbose=False)
    with on_device(setup):
        return CausalLM(config=config, vocab_size=vocab, tokenizer_path=str(setup.tokenizer),
                        learning_rate=init.learning_rate, weight_decay=init.weight_decay, betas=tuple(init.betas),
                        no_weight_decay=list(init.no_weight_decay),
                        warmup_steps=min(init.warmup_steps, max(1, steps // 10)),
                        schedule_steps=steps)


def probe_steps(setup: Setup, data, vocab: int, seconds: float) -> int:
    """How many optimizer steps fit in ``seconds`` (a short timed fit of a throw-away student on ``data``)."""
    probe = fit_timed(setup, student_module(setup, vocab, 10**6), data, min(3.0, seconds), setup.warmup_steps)
    return max(setup.warmup_steps + 2, int(seconds / probe["seconds_per_step"]))


def train(setup: Setup, module, data, steps: int, precision: str, cap_seconds: float) -> dict:
    """Train ``module`` for ``steps`` steps (or until ``cap_seconds`` of timed steps); returns losses and timings."""
    import lightning as L

    curve, clock = LossCurve(), lightning_timed_clock(1, cap_seconds)
    trainer = L.Trainer(accelerator="gpu" if setup.device == "cuda" else "cpu", devices=1, precision=precision,
                        max_steps=steps, gradient_clip_val=1.0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[clock, curve.callback], default_root_dir=str(setup.scratch / "runs"))
    started = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - started
    return {"precision": precision, "steps": trainer.global_step, "wall_seconds": wall,
            "tokens_per_s": clock.steps * data.batch_size * data.seq_len / clock.seconds, "losses": curve.losses()}


def validation_loss(setup: Setup, module, data) -> float:
    """Mean validation loss of ``module`` on ``data``'s validation windows, computed in fp32."""
    import lightning as L

    trainer = L.Trainer(accelerator="gpu" if setup.device == "cuda" else "cpu", devices=1, precision="32-true",
                        logger=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=str(setup.scratch / "runs"))
    return float(trainer.validate(module, data, verbose=False)[0]["val/loss"])


def moving_average(values: list[float], width: int) -> list[float]:
    """Trailing means over ``width`` values (the first ``width - 1`` average what there is so far)."""
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value - (values[index - width] if index >= width else 0.0)
        out.append(total / min(index + 1, width))
    return out


def compare_curves(a: list[float], b: list[float]) -> dict:
    """How far two loss curves lie apart over their common steps: raw and smoothed (width = steps / 20)."""
    steps = min(len(a), len(b))
    a, b = a[:steps], b[:steps]
    width = max(1, steps // 20)
    smooth_a, smooth_b = moving_average(a, width), moving_average(b, width)
    gaps = [abs(x - y) for x, y in zip(smooth_a, smooth_b)]
    return {"steps": steps, "smoothing": width,
            "mean_abs_difference": statistics.fmean(abs(x - y) for x, y in zip(a, b)),
            "max_abs_difference_smoothed": max(gaps), "final_smoothed": [smooth_a[-1], smooth_b[-1]],
            "final_relative_difference": abs(smooth_a[-1] - smooth_b[-1]) / abs(smooth_b[-1]),
            "agree": max(gaps) < AGREE_NATS, "agree_threshold_nats": AGREE_NATS}


def run_realrun(setup: Setup, report: Callable[[str, dict], None]) -> dict:
    """bf16-mixed then fp32 on the real Gutenberg slice, same steps, init and data order; the curves compared."""
    cfg, _, batch, _ = role(setup.student)
    data = data_module(setup, setup.small_corpus, batch, batch, eval_samples=setup.eval_samples)
    steps = probe_steps(setup, data, data.vocab_size, setup.realrun_seconds)
    runs = {}
    plan = (("bf16-mixed", setup.precision, 3), ("32-true", "32-true", 4))  # the dry run: fp32 twice
    for key, precision, cap in plan:
        cap = setup.realrun_seconds * cap if setup.dry_run else max(1.0, min(setup.realrun_seconds * cap,
                                                                             setup.remaining() - 20))
        module = student_module(setup, data.vocab_size, steps)
        runs[key] = train(setup, module, data, steps, precision, cap)
        runs[key]["val_loss_fp32"] = validation_loss(setup, module, data)
        report(f"realrun {precision}", {k: v for k, v in runs[key].items() if k != "losses"})
        del module
        free_memory()
    bf16, fp32 = runs["bf16-mixed"], runs["32-true"]
    result = {"corpus": str(setup.small_corpus.name), "batch": batch, "planned_steps": steps, "runs": runs,
              "curves": compare_curves(bf16["losses"], fp32["losses"]),
              "val_loss_difference": bf16["val_loss_fp32"] - fp32["val_loss_fp32"],
              "fp32_over_bf16_time_per_step": bf16["tokens_per_s"] / fp32["tokens_per_s"]}
    if setup.out is not None:
        result["figure"] = plot_curves(bf16["losses"], fp32["losses"], setup.out / "realrun.png")
    return result


def plot_curves(bf16: list[float], fp32: list[float], path: Path) -> str:
    """Write both training-loss curves and their smoothed difference to ``path`` (PNG); returns its name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = min(len(bf16), len(fp32))
    width = max(1, steps // 20)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(moving_average(bf16, width), label="bf16-mixed")
    top.plot(moving_average(fp32, width), label="fp32", linestyle="--")
    top.set_ylabel(f"train loss (mean of {width} steps)")
    top.legend()
    gap = [x - y for x, y in zip(moving_average(bf16[:steps], width), moving_average(fp32[:steps], width))]
    bottom.plot(gap)
    bottom.axhline(0.0, color="grey", linewidth=0.5)
    bottom.set_ylabel("bf16 − fp32 (nats)")
    bottom.set_xlabel("optimizer step")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name


def run_train10m(setup: Setup, report: Callable[[str, dict], None]) -> dict:
    """The student alone on the 10M-word corpus for ``train_seconds``; then val loss and BLiMP on every pair."""
    from babylm.data.tokens.tokenizer import load_hf_tokenizer
    from babylm.evaluation.blimp import aggregate, evaluate_blimp, load_blimp_dir

    cfg, config, batch, _ = role(setup.student)
    data = data_module(setup, setup.corpus, batch, batch, eval_samples=setup.eval_samples)
    steps = probe_steps(setup, data, data.vocab_size, setup.train_seconds)
    module = student_module(setup, data.vocab_size, steps)
    run = train(setup, module, data, steps, setup.precision, setup.train_seconds * 1.2)
    losses = run.pop("losses")
    words = module.tokens_seen * data.words_per_token
    result = {"corpus": str(setup.corpus.name), "batch": batch, "planned_steps": steps, **run,
              "tokens_seen": module.tokens_seen, "words_seen": words,
              "epochs": module.tokens_seen / (data.meta["splits"]["train"]["tokens"]),
              "final_train_loss": statistics.fmean(losses[-max(1, len(losses) // 20):]) if losses else math.nan,
              **mfu(setup, run["tokens_per_s"], train_flops(module.model, config))}
    report("train10m training", result)
    result["val_loss"] = validation_loss(setup, module, data)
    model = module.model.float().eval()
    started = time.perf_counter()
    paradigms = load_blimp_dir(setup.blimp_dir, limit=setup.blimp_pairs)  # on the GPU: every pair (1,000 a paradigm)
    scores = aggregate(evaluate_blimp(model, load_hf_tokenizer(setup.tokenizer), paradigms,
                                      batch_size=max(setup.blimp_batches)))
    result["blimp"] = {**scores["overall"], "seconds": time.perf_counter() - started,
                       "paradigms_accuracy": {k: v["accuracy"] for k, v in scores["paradigms"].items()}}
    return result
