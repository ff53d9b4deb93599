"""What the GPU suite (``benchmarks/gpu_suite.py``) runs on: the reference shapes and the prepared data, or tiny ones.

Two ways to build a :class:`Setup`:

* :func:`device_setup` — a lent GPU: the shipped reference configs (``configs/teacher_llama_360m.yaml``,
  ``configs/teacher_gptj_705m.yaml``, ``configs/distill.yaml``), bf16-mixed, and the data that
  ``gpu_suite.py --prepare`` put in the carried folder ``.gpu/`` (tokenizer, the tokenized 10M-word EB1911
  corpus, the tokenized Gutenberg slice #19699, the BLiMP development files);
* :func:`dry_run_setup` — any CPU, in seconds: the tiny configs (``configs/tiny/``), a random-word corpus through
  the real tokenizer and encode stages (``bench_teacher_cache.synthetic_workspace``) in a temporary folder, the
  bundled BLiMP sample, a step or two per measurement, in fp32 (bf16 is emulated, slowly, on most CPUs) and
  without ``torch.compile`` (its first step alone takes longer than the whole dry run; the tests cover it).

Every part reads its sizes from here and nothing else, so the dry run walks the same code as the GPU run.
Importing this module imports neither torch nor Lightning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / ".gpu"  # the carried folder (.gitignore), filled by gpu_suite.py --prepare
WHEELS = REPO / ".whl"  # the carried wheels (.gitignore)
H200_BF16_TFLOPS = 790.0  # dense bf16 8192³ matrix product measured on the lent H200 (.library/device/KINDS.md)
REFERENCE = {"teachers": ["configs/teacher_llama_360m.yaml", "configs/teacher_gptj_705m.yaml"],
             "student": "configs/distill.yaml"}
TINY = {"teachers": ["configs/tiny/teacher_llama.yaml", "configs/tiny/teacher_gptj.yaml"],
        "student": "configs/tiny/distill.yaml"}


class SetupError(ValueError):
    """The prepared data are missing or incomplete (the message says which file and what to run)."""


@dataclass
class Setup:
    """Shapes, data, durations and the deadline of one suite run (all paths absolute)."""

    device: str  # "cuda" or "cpu"
    precision: str  # Lightning precision of the training measurements
    teachers: list[str]  # teacher YAML configs, relative to the repository
    student: str  # student (distillation) YAML config
    tokenizer: Path  # tokenizer-clean.json
    corpus: Path  # tokenized root of the large corpus (throughput rows, train10m)
    small_corpus: Path  # tokenized root of the small corpus (cache build, cached distillation, realrun)
    blimp_dir: Path  # BLiMP .jsonl files
    scratch: Path  # temporary folder (teachers, caches, Lightning scratch)
    out: Optional[Path] = None  # where parts may write a figure (realrun.png)
    seconds: float = 6.0  # timed seconds per throughput row (after the warm-up)
    search_seconds: float = 1.0  # timed seconds per micro-batch candidate
    warmup_steps: int = 3  # untimed optimizer steps before each timed window
    search_candidates: int = 3  # micro-batch sizes tried per row (batch/4, batch/2, batch)
    compile_backend: Optional[str] = "inductor"  # None: the compile row runs eager (the dry run)
    cache_batch: int = 128  # windows per teacher forward in the cache build
    max_cache_windows: Optional[int] = None  # skip the cache rows above this many train windows (a CPU dry run)
    peak_tflops: float = H200_BF16_TFLOPS
    realrun_seconds: float = 15.0  # bf16-mixed seconds of the real run (fp32 then runs the same steps)
    train_seconds: float = 165.0  # training seconds of train10m
    blimp_pairs: int = 1000  # pairs per paradigm in the BLiMP speed part
    blimp_batches: tuple[int, ...] = (64, 256, 1024)
    eval_samples: int = 8192  # validation windows (realrun, train10m)
    dry_run: bool = False
    deadline: float = field(default_factory=lambda: time.monotonic() + 400.0)  # time.monotonic() to stop by
    notes: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        """Seconds left until the deadline."""
        return self.deadline - time.monotonic()

    def micro_candidates(self, batch: int, configured: Optional[int] = None) -> list[int]:
        """Micro-batch sizes to try for an effective batch: batch/4, batch/2, batch (and the config's), largest last."""
        sizes = {batch // 4, batch // 2, batch} | ({configured} if configured else set())
        sizes = sorted(s for s in sizes if s >= 1 and batch % s == 0)
        return sizes[-self.search_candidates:]


def tokenized_root(root: Path, what: str) -> Path:
    """Check that ``root`` holds one encoding (``<fingerprint>/meta.json`` + ``.bin`` files); returns ``root``."""
    metas = sorted(root.glob("*/meta.json"))
    if not metas:
        raise SetupError(f"{root}: no tokenized {what} (no <fingerprint>/meta.json); run "
                         f"python benchmarks/gpu_suite.py --prepare on a machine with ../shared/data")
    return root


def prepared_paths(data: Path) -> dict:
    """The prepared folder's tokenizer, corpora and BLiMP files; :class:`SetupError` names what is missing."""
    tokenizer = data / "tokenizer-clean.json"
    if not tokenizer.is_file():
        raise SetupError(f"{tokenizer}: missing; run python benchmarks/gpu_suite.py --prepare first (see docs/gpu.md)")
    blimp = data / "blimp-dev"
    if not any(blimp.glob("*.jsonl")):
        raise SetupError(f"{blimp}: no BLiMP .jsonl files; run python benchmarks/gpu_suite.py --prepare first")
    return dict(tokenizer=tokenizer, corpus=tokenized_root(data / "tokenized" / "eb1911-10m", "10M-word corpus"),
                small_corpus=tokenized_root(data / "tokenized" / "eb1911-19699", "Gutenberg #19699 slice"),
                blimp_dir=blimp)


def device_setup(data: Path, scratch: Path, **overrides) -> Setup:
    """The reference run on a lent GPU, from the prepared folder ``data``; :class:`SetupError` names what is missing."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = dict(device=device, precision="bf16-mixed", teachers=list(REFERENCE["teachers"]),
                    student=REFERENCE["student"], scratch=scratch, **prepared_paths(data))
    setup = Setup(**{**settings, **overrides})
    if device != "cuda":
        setup.notes.append("no CUDA device: the reference shapes run on the CPU (very slow; use --dry-run)")
    return setup


def dry_run_setup(scratch: Path, data: Optional[Path] = None, **overrides) -> Setup:
    """Tiny shapes on the CPU, ~0.1 s rows: over a synthetic corpus encoded in ``scratch`` and the bundled BLiMP
    sample, or over the prepared folder ``data`` (a check of what ``--prepare`` wrote, before a GPU is spent on it)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_teacher_cache import synthetic_workspace  # noqa: E402  (benchmarks/)

    from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR

    if data is not None:
        paths = prepared_paths(data)
    else:
        tokenizer, tokenized = synthetic_workspace(scratch / "data", windows=16, vocab=300)
        paths = dict(tokenizer=tokenizer, corpus=tokenized, small_corpus=tokenized, blimp_dir=SAMPLE_BLIMP_DIR)
    settings = dict(device="cpu", precision="32-true", teachers=list(TINY["teachers"]), student=TINY["student"],
                    **paths, scratch=scratch, seconds=0.05, search_seconds=0.01, warmup_steps=1, search_candidates=2,
                    compile_backend=None, cache_batch=8, max_cache_windows=256, realrun_seconds=0.2, train_seconds=0.2,
                    blimp_pairs=4, blimp_batches=(8,), eval_samples=4, dry_run=True)
    return Setup(**{**settings, **overrides})
