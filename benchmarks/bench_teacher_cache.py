"""Benchmark: a distillation step fed from the teacher cache against the online step, the student alone and HF.

Run: ``python benchmarks/bench_teacher_cache.py --config reference`` (the issue's shapes: Baby-Llama-58M from
Llama-360M + GPT-J-705M, micro-batch 4 × 128, fp32 on a CPU) or ``--config tiny``; ``--help`` for the options.

Everything runs in one process, side by side, in interleaved rounds (each round trains every variant a few
optimizer steps, so a machine whose speed drifts affects all alike; ratios are taken round by round):

* ``online`` — :class:`~babylm.training.distill.DistillationStudent` running both teachers every step;
* ``cached sample-K`` / ``cached topk-K`` — the same student fed from a teacher cache built first with
  :func:`~babylm.training.teacher_cache.build_teacher_cache` (the build is timed too: seconds per window);
* ``cached sample-K + compile`` (``--compile``) — the same with ``compile_backend: inductor``;
* ``student alone`` — :class:`~babylm.training.causal_lm.CausalLM` on CE only;
* ``hf-trainer`` — the reference work's ``DistillationTrainer`` (``benchmarks/hf_baseline.py``, online).

Sizes and hyper-parameters come from the shipped YAML (``configs/distill.yaml`` and its teachers, or the
tiny ones). The data are a synthetic corpus (random words) through the real tokenizer (16,000 tokens) and
encode stages, ``--windows`` train windows of 128 tokens; teachers have random weights and are loaded from
disk like real ones (speed does not depend on the weights). Every variant uses a real Lightning ``Trainer``
and the real DataModule. Prints the machine line, a table of seconds per optimizer step with ratios, the
cache build rate and bytes per token, and the whole recipe (cache build + 6 epochs) against online
distillation and the HF-Trainer baseline, extrapolated by arithmetic from the measured per-window costs to
the reference run (``--recipe-tokens``, default 16M tokens ≈ 10M words). Writes only into a temporary folder.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import lightning_step_clock, machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
CONFIGS = {
    "tiny": {"distill": "configs/tiny/distill.yaml",
             "teachers": ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"]},
    "reference": {"distill": "configs/distill.yaml",
                  "teachers": ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"]},
}


def synthetic_workspace(root: Path, windows: int, vocab: int, seq_len: int = 128) -> tuple[Path, Path]:
    """Random-word corpus → 16k BPE → encoded splits in ``root``; returns (tokenizer JSON, tokenized root)."""
    from babylm.data.tokens.encode import encode_splits
    from babylm.data.tokens.tokenizer import save_tokenizer, train_tokenizer

    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    lexicon = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(4 * vocab)]
    # ≈ 2.2 tokens per random word with this tokenizer: about ``windows`` windows of train text
    lines = [" ".join(rng.choice(lexicon) for _ in range(40)) for _ in range(windows * seq_len // 88 + 2)]
    split = root / "corpus_split"
    split.mkdir(parents=True)
    (split / "train.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    (split / "val.txt").write_text("\n\n".join(lines[:20]) + "\n", encoding="utf-8")
    (root / "lexicon.txt").write_text(" ".join(lexicon) + "\n", encoding="utf-8")  # enough merges for the vocabulary
    tokenizer = root / "tokenizer-clean.json"
    save_tokenizer(train_tokenizer([root / "lexicon.txt"], vocab_size=vocab, min_frequency=1), tokenizer,
                   root / "tokenizer")
    encode_splits(tokenizer, split, root / "tokenized", log=lambda line: None)
    return tokenizer, root / "tokenized"


def ratios(seconds: dict[str, list[float]], a: str, b: str) -> str:
    """``median [min–max]`` of the round-by-round ratios ``seconds[a] / seconds[b]`` (paired: same round)."""
    paired = [x / y for x, y in zip(seconds[a], seconds[b])]
    return f"{statistics.median(paired):.2f} [{min(paired):.2f}–{max(paired):.2f}]"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="tiny", help="sizes (default: %(default)s)")
    parser.add_argument("--micro-batch", type=int, default=None, help="windows per step (default: reference 4, tiny 8)")
    parser.add_argument("--windows", type=int, default=None,
                        help="train windows cached (default: reference 32, tiny 512)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per variant and round (default: reference 2, tiny 10)")
    parser.add_argument("--forms", nargs="+", default=["sample-12", "topk-32"],
                        help="cached forms (default: %(default)s)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the first cached form with compile_backend inductor")
    parser.add_argument("--no-hf", action="store_true", help="skip the HF-Trainer baseline")
    parser.add_argument("--precision", default=None,
                        help="Lightning precision (default: 32-true on CPU, bf16-mixed on GPU)")
    parser.add_argument("--recipe", action="store_true",
                        help="time whole recipes instead of steps: online 6 epochs, cache build + 6 cached epochs, "
                             "HF Trainer 6 epochs, student alone 6 epochs (over --windows; tiny config advised)")
    parser.add_argument("--recipe-tokens", type=float, default=16e6,
                        help="train tokens of the reference run (default: 16M)")
    args = parser.parse_args(argv)

    os.environ.setdefault("WANDB_MODE", "offline")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no per-fit banners between the rows
    import lightning as L
    import torch
    from bench_vs_hf_trainer import _run_hf_trainer, model_config, random_windows, read_config

    from babylm.data.tokens.datamodule import TokenizedDataModule
    from babylm.data.tokens.teacher_cache import bytes_per_token
    from babylm.data.tokens.tokenizer import load_tokenizer, to_hf_tokenizer
    from babylm.models.build import build_model
    from babylm.training.causal_lm import CausalLM
    from babylm.training.distill import DistillationStudent
    from babylm.training.teacher_cache import TeacherCacheConfig, build_teacher_cache

    reference = args.config == "reference"
    micro = args.micro_batch or (4 if reference else 8)
    windows = args.windows or (32 if reference else 512)
    steps, warmup = args.steps or (2 if reference else 10), 1
    cuda = torch.cuda.is_available()
    precision = args.precision or ("bf16-mixed" if cuda else "32-true")
    cfg = read_config(CONFIGS[args.config]["distill"])
    init, vocab, seq_len = cfg.model.init_args, 16_000, 128
    print(machine_line(extra=f"{torch.get_num_threads()} torch threads"))
    scratch = tempfile.TemporaryDirectory()
    root = Path(scratch.name)
    tokenizer, tokenized = synthetic_workspace(root / "data", windows, vocab)
    teachers = []
    for index, path in enumerate(CONFIGS[args.config]["teachers"]):
        model = build_model(model_config(read_config(path)), vocab)
        model.save_pretrained(root / f"teacher{index}")
        to_hf_tokenizer(load_tokenizer(tokenizer)).save_pretrained(str(root / f"teacher{index}"))
        teachers.append(str(root / f"teacher{index}"))
        del model

    def data() -> TokenizedDataModule:
        return TokenizedDataModule(tokenizer_path=str(tokenizer), tokenized_dir=str(tokenized), seq_len=seq_len,
                                   batch_size=micro, micro_batch_size=micro, num_workers=0, eval_samples=1)

    train_windows = data().train_window_layout()["windows"]
    if args.recipe:
        whole_recipe(args, cfg, teachers, data, root, micro, precision, vocab, seq_len, train_windows)
        scratch.cleanup()
        return 0
    print(f"config {args.config}: micro-batch {micro} × {seq_len} tokens (one optimizer step, no accumulation), vocab "
          f"{vocab:,}, precision {precision}; {train_windows} train windows cached; {args.rounds} rounds × {steps} "
          f"timed steps after {warmup}")
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float32
    build_seconds = {}
    for form in args.forms:
        method, k = form.rsplit("-", 1)
        config = TeacherCacheConfig(dir=str(root / "cache"), method=method, k=int(k))
        start = time.perf_counter()
        build_teacher_cache(data(), teachers, init.temperature, init.reduction, config, dtype=dtype, batch_size=micro,
                            progress=False)
        build_seconds[form] = (time.perf_counter() - start) / train_windows
        print(f"cache build {form}: {build_seconds[form]:.3f} s/window ({bytes_per_token(method, int(k))} "
              "bytes/token)", flush=True)

    common = dict(config=model_config(cfg), vocab_size=vocab, tokenizer_path=str(tokenizer),
                  learning_rate=init.learning_rate, warmup_steps=1, schedule_steps=10**6)
    distill = dict(teachers=teachers, alpha=init.alpha, temperature=init.temperature, reduction=init.reduction)

    def cache_of(form: str):
        method, k = form.rsplit("-", 1)
        return TeacherCacheConfig(dir=str(root / "cache"), method=method, k=int(k))

    L.seed_everything(0, verbose=False)
    variants = {"online": DistillationStudent(**distill, **common)}
    for form in args.forms:
        variants[f"cached {form}"] = DistillationStudent(**distill, **common, cache=cache_of(form))
    if args.compile:
        variants[f"cached {args.forms[0]} + compile"] = DistillationStudent(**distill, **common,
                                                                            cache=cache_of(args.forms[0]),
                                                                            compile_backend="inductor")
    variants["student alone"] = CausalLM(**common)
    if not args.no_hf:
        variants["hf-trainer (online)"] = None
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, module in variants.items():
            if module is None:
                dataset = random_windows((warmup + steps) * micro, seq_len, vocab)
                total = _run_hf_trainer(cfg, teachers, dataset, micro, micro, warmup + steps, warmup, steps, precision,
                                        "cuda" if cuda else "cpu", vocab, str(root / "hf"))
                seconds[name].append(total / steps)
                gc.collect()  # the HF Trainer holds its teachers in reference cycles: free them before the next variant
                continue
            clock = lightning_step_clock(warmup, warmup + steps)
            trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1, precision=precision,
                                max_steps=warmup + steps, gradient_clip_val=1.0, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, limit_val_batches=0, callbacks=[clock],
                                default_root_dir=str(root / "runs"))
            trainer.fit(module, data())
            seconds[name].append(clock.seconds / steps)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {s[-1]:.3f}" for n, s in seconds.items()), flush=True)

    print("\n| variant | s/step (median of rounds) | × online: median [min–max] of rounds | "
          "× student alone: median [min–max] |")
    print("|---|---:|---:|---:|")
    for name in seconds:
        print(f"| {name} | {statistics.median(seconds[name]):.3f} | {ratios(seconds, name, 'online')} | "
              f"{ratios(seconds, name, 'student alone')} |")
    for form in args.forms:
        print(f"cached {form}: online step ÷ cached step {ratios(seconds, 'online', f'cached {form}')}; cached step ÷ "
              f"student-alone step {ratios(seconds, f'cached {form}', 'student alone')}")

    # the whole recipe: build once + 6 epochs, per window of 128 tokens; extrapolated by arithmetic
    epochs, per_window = 6, {name: statistics.median(s) / micro for name, s in seconds.items()}
    print(f"\nwhole recipe = cache build + {epochs} epochs, from the measured per-window costs (s/window):")
    scales = [("this run", train_windows),
              (f"{args.recipe_tokens / 1e6:g}M tokens", int(args.recipe_tokens // seq_len))]
    print("| recipe | " + " | ".join(f"{label} ({count:,} windows)" for label, count in scales) + " |")
    print("|---|" + "---:|" * len(scales))

    def line(label: str, cost: float) -> None:
        print(f"| {label} | " + " | ".join(f"{cost * count / 3600:,.2f} h" for _, count in scales) + " |")

    line("online distillation (ours)", epochs * per_window["online"])
    if "hf-trainer (online)" in per_window:
        line("HF-Trainer baseline (online)", epochs * per_window["hf-trainer (online)"])
    for form in args.forms:
        line(f"cache build {form} + {epochs} cached epochs",
             build_seconds[form] + epochs * per_window[f"cached {form}"])
    line("student alone (no teachers; lower bound)", epochs * per_window["student alone"])
    scratch.cleanup()
    return 0


def whole_recipe(args, cfg, teachers, data, root: Path, micro: int, precision: str, vocab: int, seq_len: int,
                 train_windows: int, epochs: int = 6) -> None:
    """Time whole recipes over ``train_windows`` windows, in interleaved rounds; print wall seconds and ratios.

    Per round and in this order: ``online`` (:class:`DistillationStudent` running both teachers, ``epochs``
    epochs), ``cache build + cached`` per form (a fresh :func:`build_teacher_cache`, then ``epochs`` epochs
    from it), ``hf-trainer`` (the reference ``DistillationTrainer``, the same steps over random windows) and
    ``student alone``. Each figure is the wall time of the whole call: model and teacher loading included.
    """
    import shutil

    import lightning as L
    import torch
    from bench_vs_hf_trainer import _run_hf_trainer, model_config, random_windows

    from babylm.training.causal_lm import CausalLM
    from babylm.training.distill import DistillationStudent
    from babylm.training.teacher_cache import TeacherCacheConfig, build_teacher_cache

    init, cuda = cfg.model.init_args, torch.cuda.is_available()
    steps = epochs * (train_windows // micro)
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float32
    print(f"whole recipe, config {args.config}: {train_windows} train windows × {epochs} epochs, micro-batch {micro} "
          f"(= {steps} optimizer steps), precision {precision}; {args.rounds} interleaved rounds")
    common = dict(config=model_config(cfg), vocab_size=vocab, tokenizer_path=str(data().tokenizer_path),
                  learning_rate=init.learning_rate, warmup_steps=1, schedule_steps=steps)
    distill = dict(teachers=teachers, alpha=init.alpha, temperature=init.temperature, reduction=init.reduction)

    def fit(module) -> None:
        trainer = L.Trainer(accelerator="gpu" if cuda else "cpu", devices=1, precision=precision, max_epochs=epochs,
                            gradient_clip_val=1.0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, default_root_dir=str(root / "runs"))
        trainer.fit(module, data())
        assert trainer.global_step == steps, (trainer.global_step, steps)

    def online() -> None:
        fit(DistillationStudent(**distill, **common))

    def cached(form: str):
        def run() -> None:
            method, k = form.rsplit("-", 1)
            config = TeacherCacheConfig(dir=str(root / "recipe-cache"), method=method, k=int(k))
            shutil.rmtree(root / "recipe-cache", ignore_errors=True)  # every round builds its cache anew
            build_teacher_cache(data(), teachers, init.temperature, init.reduction, config, dtype=dtype,
                                batch_size=data().batch_size, progress=False)
            fit(DistillationStudent(**distill, **common, cache=config))
        return run

    def hf() -> None:
        _run_hf_trainer(cfg, teachers, random_windows(train_windows, seq_len, vocab), micro, micro, steps, 1, steps - 1,
                        precision, "cuda" if cuda else "cpu", vocab, str(root / "hf"))

    variants = {"online distillation (ours)": online}
    variants.update({f"cache build + cached, {form}": cached(form) for form in args.forms})
    if not args.no_hf:
        variants["HF-Trainer baseline (online)"] = hf
    variants["student alone"] = lambda: fit(CausalLM(**common))
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, run in variants.items():
            L.seed_everything(round_, verbose=False)
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
            gc.collect()
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {s[-1]:.1f} s" for n, s in seconds.items()), flush=True)

    reference_windows = int(args.recipe_tokens // seq_len)
    print(f"\n| whole recipe ({epochs} epochs) | wall s (median of rounds) | × online: median [min–max] | "
          f"× student alone: median [min–max] |")
    print("|---|---:|---:|---:|")
    for name in seconds:
        print(f"| {name} | {statistics.median(seconds[name]):.1f} | "
              f"{ratios(seconds, name, 'online distillation (ours)')} | {ratios(seconds, name, 'student alone')} |")
    print(f"(to scale to the reference run's {reference_windows:,} windows, multiply the step-benchmark per-window "
          f"costs: see --config reference without --recipe)")


if __name__ == "__main__":
    raise SystemExit(main())
