"""Part ``throughput`` of the GPU suite: training speed at the reference shapes, side by side in one process.

Run through ``python benchmarks/gpu_suite.py --parts throughput`` (``--dry-run`` for tiny shapes on a CPU).
Rows, in this order (each skipped with a reason when the suite's deadline is too near): both teachers, the
student alone (eager, then ``torch.compile``), online distillation from both teachers, the teacher-cache build
(teacher forwards/s), distillation from that cache, and the HF-Trainer baseline (``benchmarks/hf_baseline.py``)
for the Llama teacher and for online distillation, at our best micro-batch. Every Lightning row first tries a
few micro-batch sizes for ``search_seconds`` each (the effective batch stays the recipe's), then times the best
for ``seconds`` after ``warmup_steps`` untimed steps (:func:`harness.lightning_timed_clock`).

Data: the real tokenized EB1911 windows (the 10M-word corpus; the cache rows use the small slice, since a cache
covers every train window). Teachers have random weights, saved in bf16 with the tokenizer and loaded from disk
like real ones: speed does not depend on the weights.

MFU = tokens/s × model FLOPs per token / peak (790 TFLOP/s on the H200). Model FLOPs per token of training =
``6 × (parameters − input embedding) + 12 × layers × hidden × seq_len`` (``bench_train.flops_per_token``: the
6N of Kaplan et al. 2020, §2.1, with the output projection counted as the matmul it is, plus the attention
scores and weighted sum of Chowdhery et al. 2022, PaLM, appendix B, over the whole window); a forward pass alone
is a third of that. Distillation counts the student's training plus each teacher's forward; the cache rows
count what they run (teachers' forwards to build, the student's training to use).
"""

from __future__ import annotations

import functools
import gc
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import flops_per_token  # noqa: E402  (benchmarks/)
from bench_vs_hf_trainer import _run_hf_trainer, model_config, random_windows, read_config  # noqa: E402
from gpu_setup import Setup  # noqa: E402
from harness import lightning_timed_clock  # noqa: E402

BIG_STEPS = 10**7  # max_steps of a timed fit: the clock stops it


def data_module(setup: Setup, root: Path, batch: int, micro: int, eval_samples: int = 1):
    """The real DataModule over ``root`` (windows of the config's 128 tokens), loading in the main process."""
    from babylm.data.tokens.datamodule import TokenizedDataModule

    return TokenizedDataModule(tokenizer_path=str(setup.tokenizer), tokenized_dir=str(root), seq_len=128,
                               batch_size=batch, micro_batch_size=micro, eval_samples=eval_samples, num_workers=0)


def train_flops(model, config, seq_len: int = 128) -> float:
    """Training FLOPs per token of an HF model built from ``config`` (see the module docstring)."""
    return flops_per_token(model, config.num_layers, config.hidden_size, seq_len)


def free_memory() -> None:
    """Collect garbage (old Trainers hold optimizer states in cycles) and return cached CUDA blocks."""
    import torch

    if torch.cuda.is_available():  # (a CPU run frees on its own; a collection there costs seconds)
        gc.collect()
        torch.cuda.empty_cache()


def fit_timed(setup: Setup, module, data, seconds: float, warmup: int, trainer_settings: Optional[dict] = None) -> dict:
    """Train ``module`` on ``data`` for ``warmup`` steps, then time ``seconds`` of steps; returns the measurements."""
    import lightning as L
    import torch

    clock = lightning_timed_clock(warmup, seconds)
    settings = dict(accelerator="gpu" if setup.device == "cuda" else "cpu", devices=1, precision=setup.precision,
                    max_steps=BIG_STEPS, gradient_clip_val=1.0, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[clock],
                    default_root_dir=str(setup.scratch / "runs"), **(trainer_settings or {}))
    free_memory()
    if setup.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = L.Trainer(**settings)
    trainer.fit(module, data)
    tokens = clock.steps * data.batch_size * data.seq_len
    result = {"micro": data.micro_batch_size, "accumulation": data.batch_size // data.micro_batch_size,
              "batch": data.batch_size, "steps": clock.steps, "seconds": clock.seconds,
              "seconds_per_step": clock.seconds / max(1, clock.steps), "tokens_per_s": tokens / clock.seconds,
              "warmup_seconds": clock.warmup_seconds,
              "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if setup.device == "cuda" else None}
    module.zero_grad(set_to_none=True)
    del trainer
    free_memory()
    return result


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a CUDA out-of-memory error (a micro-batch candidate too large)."""
    return "out of memory" in str(error).lower()


def search_and_measure(setup: Setup, module, make_data: Callable[[int], object], candidates: list[int],
                       flops: float) -> dict:
    """Try each micro-batch for ``search_seconds``, then time the fastest for ``seconds``; returns the row."""
    search: dict[str, Optional[float]] = {}
    for micro in candidates:
        try:
            search[str(micro)] = fit_timed(setup, module, make_data(micro), setup.search_seconds, 2)["tokens_per_s"]
        except RuntimeError as error:  # torch.OutOfMemoryError is a RuntimeError
            if not out_of_memory(error):
                raise
            search[str(micro)] = None
            free_memory()
    fitting = {int(m): speed for m, speed in search.items() if speed}
    if not fitting:
        raise RuntimeError(f"no micro-batch size fits in memory (tried {candidates})")
    best = max(fitting, key=fitting.get)
    row = fit_timed(setup, module, make_data(best), setup.seconds, setup.warmup_steps)
    return {**row, "search_tokens_per_s": search, **mfu(setup, row["tokens_per_s"], flops)}


def mfu(setup: Setup, tokens_per_s: float, flops: float) -> dict:
    """``{"flops_per_token", "mfu"}`` against the setup's peak (bf16 dense)."""
    return {"flops_per_token": flops, "mfu": tokens_per_s * flops / (setup.peak_tflops * 1e12)}


@functools.lru_cache(maxsize=None)
def role(path: str):
    """``(parsed config, ModelConfig, effective batch, configured micro-batch)`` of a training YAML (read once)."""
    cfg = read_config(path)
    return cfg, model_config(cfg), int(cfg.data.batch_size), cfg.data.micro_batch_size


def on_device(setup: Setup):
    """A context that creates tensors on the setup's device (models are built where they train)."""
    import torch

    return torch.device(setup.device)


def save_random_teachers(setup: Setup, vocab: int) -> tuple[list[str], float]:
    """Random teachers of the setup's configs, saved (bf16 on a GPU) with the tokenizer; returns (dirs, forward FLOPs
    per token of all of them)."""
    import torch

    from babylm.data.tokens.tokenizer import load_tokenizer, to_hf_tokenizer
    from babylm.models.build import build_model

    dirs, forward = [], 0.0
    for index, path in enumerate(setup.teachers):
        config = role(path)[1]
        with on_device(setup):
            model = build_model(config, vocab)
        forward += train_flops(model, config) / 3
        if setup.precision.startswith("bf16"):
            model = model.to(torch.bfloat16)  # half the bytes to write and read; cast again when placed
        directory = setup.scratch / f"teacher{index}"
        model.save_pretrained(directory)
        to_hf_tokenizer(load_tokenizer(setup.tokenizer)).save_pretrained(str(directory))
        dirs.append(str(directory))
        del model
        free_memory()
    return dirs, forward


def run_throughput(setup: Setup, report: Callable[[str, dict], None]) -> dict:
    """Measure every row (see the module docstring); ``report(name, row)`` after each; returns ``{"rows", "skipped",
    "failed_rows"}`` (a row that raised is recorded with its error, and the others still run).

    Rows run in order of what the recipe arithmetic needs; one whose estimated time is no longer left before
    ``setup.deadline`` is skipped with the reason (the compile and HF rows come last: they are comparisons).
    """
    from babylm.training.causal_lm import CausalLM
    from babylm.training.distill import DistillationStudent
    from babylm.training.teacher_cache import TeacherCacheConfig

    rows: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    vocab = data_module(setup, setup.corpus, 1, 1).vocab_size
    common = dict(vocab_size=vocab, tokenizer_path=str(setup.tokenizer), warmup_steps=1, schedule_steps=10**6)
    scale = 0.0 if setup.dry_run else 1.0
    row_need = scale * (setup.search_candidates * (setup.search_seconds + 3) + setup.seconds + 10)

    def measure(name: str, need: float, make: Callable[[], dict]) -> None:
        if setup.remaining() < need:
            skipped[name] = f"skipped: {setup.remaining():.0f} s left before the suite's deadline, ~{need:.0f} s needed"
            return
        try:
            rows[name] = make()
        except Exception as error:  # one row's failure (a compile error, memory) must not lose the other rows
            failed[name] = f"{type(error).__name__}: {str(error)[:300]}"
            traceback.print_exc()
        else:
            report(name, rows[name])
        free_memory()

    def lightning_row(path: str, build: Callable[[], object], corpus: Path, flops: Callable[[object], float]) -> dict:
        _, _, batch, micro = role(path)
        with on_device(setup):
            module = build()
        row = search_and_measure(setup, module, lambda m: data_module(setup, corpus, batch, m),
                                 setup.micro_candidates(batch, micro), flops(module))
        return {"config": path, "params": module.parameter_counts["total"], **row}

    for path in setup.teachers:
        config = role(path)[1]
        measure(f"teacher {Path(path).stem}", row_need, lambda: lightning_row(
            path, lambda: CausalLM(config=config, **common), setup.corpus, lambda m: train_flops(m.model, config)))
    cfg, student_config, batch, _ = role(setup.student)
    init = cfg.model.init_args
    student_flops = train_flops(build_on(setup, student_config, vocab), student_config)
    measure("student alone", row_need, lambda: lightning_row(
        setup.student, lambda: CausalLM(config=student_config, **common), setup.corpus, lambda m: student_flops))
    teachers, teacher_forward = save_random_teachers(setup, vocab)
    distill = dict(teachers=teachers, alpha=init.alpha, temperature=init.temperature, reduction=init.reduction,
                   config=student_config, **common)
    measure("distillation online (2 teachers)", row_need + 10 * scale, lambda: lightning_row(
        setup.student, lambda: DistillationStudent(**distill), setup.corpus, lambda m: student_flops + teacher_forward))
    settings = dict(vars(init.cache)) if init.cache else {}  # the tiny config distils online: the defaults
    cache = TeacherCacheConfig(**{**settings, "dir": str(setup.scratch / "cache")})
    windows = data_module(setup, setup.small_corpus, batch, batch).train_window_layout()["windows"]
    if setup.max_cache_windows is not None and windows > setup.max_cache_windows:
        skipped["teacher-cache build"] = f"skipped: {windows:,} train windows to cache, over this run's limit of " \
                                         f"{setup.max_cache_windows} (a dry run over the prepared data)"
    else:
        measure("teacher-cache build", 20 * scale,
                lambda: cache_build(setup, teachers, init, cache, batch, teacher_forward))
    if "teacher-cache build" in rows:
        measure("distillation from the cache", row_need + 10 * scale, lambda: {"cache": vars(cache), **lightning_row(
            setup.student, lambda: DistillationStudent(**distill, cache=cache), setup.small_corpus,
            lambda m: student_flops)})
    micro = rows.get("student alone", {}).get("micro", batch)
    measure("student alone + torch.compile", scale * (setup.seconds + 90), lambda: compiled_row(
        setup, CausalLM, dict(config=student_config, compile_backend=setup.compile_backend, **common), batch, micro,
        student_flops))
    first = Path(setup.teachers[0]).stem
    for name, path, teacher_dirs, ours in (
            (f"hf-trainer teacher {first}", setup.teachers[0], [], f"teacher {first}"),
            ("hf-trainer distillation online", setup.student, teachers, "distillation online (2 teachers)")):
        if ours in rows:
            measure(name, scale * (1.5 * setup.seconds + 20),
                    lambda: hf_row(setup, path, teacher_dirs, rows[ours], vocab))
    return {"rows": rows, "skipped": skipped, "failed_rows": failed}


def build_on(setup: Setup, config, vocab: int):
    """A model of ``config`` built on the setup's device (for counting its FLOPs)."""
    from babylm.models.build import build_model

    with on_device(setup):
        return build_model(config, vocab)


def compiled_row(setup: Setup, module_class, settings: dict, batch: int, micro: int, flops: float) -> dict:
    """The student with ``torch.compile`` (``setup.compile_backend``) at the eager row's best micro-batch."""
    with on_device(setup):
        module = module_class(**settings)
    data = data_module(setup, setup.corpus, batch, micro)
    row = fit_timed(setup, module, data, setup.seconds, setup.warmup_steps + 2)
    return {"backend": str(setup.compile_backend), **row, **mfu(setup, row["tokens_per_s"], flops)}


def cache_build(setup: Setup, teachers: list[str], init, cache, batch: int, teacher_forward: float) -> dict:
    """Build the teacher cache over the small corpus's train windows; rate from the first written batch to the last."""
    import torch

    from babylm.training.teacher_cache import build_teacher_cache

    data = data_module(setup, setup.small_corpus, batch, batch)
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()
    build_teacher_cache(data, teachers, init.temperature, init.reduction, cache, device=setup.device,
                        dtype=torch.bfloat16 if setup.precision.startswith("bf16") else torch.float32,
                        batch_size=setup.cache_batch, progress=False,
                        on_batch=lambda windows: marks.append((time.perf_counter(), windows)))
    total = time.perf_counter() - started
    (t0, w0), (t1, w1) = marks[0], marks[-1]
    windows_per_s = (w1 - w0) / (t1 - t0) if t1 > t0 else w1 / total  # one batch only: the whole build's rate
    tokens_per_s = windows_per_s * data.seq_len
    return {"windows": w1, "batch_windows": setup.cache_batch, "seconds_total": total,
            "windows_per_s": windows_per_s, "teacher_tokens_per_s": tokens_per_s,
            "method": cache.method, "k": cache.k, **mfu(setup, tokens_per_s, teacher_forward)}


def hf_row(setup: Setup, path: str, teachers: list[str], ours: dict, vocab: int) -> dict:
    """The HF-Trainer baseline on the same shapes and micro-batch as our row, for about ``seconds``."""
    import torch

    cfg, _, batch, _ = role(path)
    micro = int(ours["micro"])
    steps = max(2, round(setup.seconds / ours["seconds_per_step"]))
    warmup = setup.warmup_steps
    free_memory()
    if setup.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = _run_hf_trainer(cfg, teachers, random_windows((warmup + steps) * batch, 128, vocab), batch, micro,
                              warmup + steps, warmup, steps, setup.precision, setup.device, vocab,
                              str(setup.scratch / "hf"))
    peak = torch.cuda.max_memory_allocated() / 2**30 if setup.device == "cuda" else None
    free_memory()
    tokens_per_s = steps * batch * 128 / seconds
    return {"config": path, "micro": micro, "batch": batch, "steps": steps, "seconds": seconds,
            "seconds_per_step": seconds / steps, "tokens_per_s": tokens_per_s, "peak_memory_gib": peak,
            "ours_over_hf": ours["tokens_per_s"] / tokens_per_s,
            **mfu(setup, tokens_per_s, ours["flops_per_token"])}
