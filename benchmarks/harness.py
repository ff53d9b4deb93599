"""What the benchmark scripts share: the machine line, a Lightning step clock, measuring in a child process,
and paired repeats (A B A B …) summarised as a median ratio with its min–max.

Imported by the scripts beside it (``from harness import machine_line``). Importing it imports neither
torch nor Lightning, so data-pipeline benchmarks stay light.

Why pairs: on a shared machine the speed drifts by 2× and more within minutes, so two sides measured once
each, one after the other, cannot be ranked. Alternating them and taking the ratio pair by pair cancels the
drift that both sides of a pair share; the median of at least 5 such ratios is the figure to quote, and its
min–max says how noisy the machine was.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

T = TypeVar("T")
MIN_PAIRS = 5  # fewer pairs than this cannot give a median that one slow or lucky run does not move


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """Return the 1-minute load average and the core count, e.g. ``"load 0.42 on 2 cores"`` (``"load n/a"``)."""
    try:
        return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "load n/a"


def gpu_name() -> str:
    """Return the first CUDA device's name, or ``"no GPU"`` (imports torch)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"


def machine_line(check_gpu: bool = True, packages: tuple[str, ...] = ("torch",), extra: str = "") -> str:
    """Return ``machine: <CPU>, <N> cores; <GPU>; python X; torch Y …[; extra]``.

    Takes whether to look up the GPU (imports torch), the packages whose versions to show, and any extra
    text (threads, environment) a benchmark wants on the line.
    """
    gpu = gpu_name() if check_gpu else "GPU not used"
    versions = "; ".join(f"{name} {_version(name)}" for name in packages)
    line = f"machine: {cpu_model()}, {os.cpu_count()} cores; {gpu}; python {platform.python_version()}; {versions}"
    return f"{line}; {extra}" if extra else line


def lightning_step_clock(start_step: int, end_step: int):
    """Return a Lightning callback timing optimizer steps ``start_step+1 … end_step`` (CUDA synchronised).

    After training, ``clock.seconds`` is the wall time of that window.
    """
    import time

    import lightning as L
    import torch

    class StepClock(L.Callback):
        start = end = None

        @staticmethod
        def _now() -> float:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            return time.perf_counter()

        def on_train_batch_end(self, trainer, *unused) -> None:
            if trainer.global_step == start_step and self.start is None:
                self.start = self._now()
            if trainer.global_step == end_step and self.end is None:
                self.end = self._now()

        @property
        def seconds(self) -> float:
            return self.end - self.start

    return StepClock()


def lightning_timed_clock(warmup_steps: int, seconds: float):
    """Return a Lightning callback that times optimizer steps for ``seconds`` after ``warmup_steps``, then stops.

    The clock starts (CUDA synchronised) when optimizer step ``warmup_steps`` (≥ 1) has ended; after the first
    step that ends ``seconds`` or more later it synchronises, stops, and sets ``trainer.should_stop`` (Lightning
    then leaves the loop after that batch: ``_TrainingEpochLoop.done``). A run that ends earlier (``max_steps``)
    is timed up to its end. After training: ``clock.seconds`` (timed wall time), ``clock.steps`` (optimizer steps
    in it), ``clock.warmup_seconds`` (from the first batch to the end of the warm-up: compilation included).
    Only two synchronisations: the steps in between run as they would in training.
    """
    import time

    import lightning as L
    import torch

    if warmup_steps < 1:
        raise ValueError(f"lightning_timed_clock: warmup_steps must be at least 1, got {warmup_steps}")

    def now() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    class TimedClock(L.Callback):
        first = start = end = None
        start_step = steps = 0
        _last = -1

        def on_train_batch_start(self, trainer, *unused) -> None:
            if self.first is None:
                self.first = now()

        def on_train_batch_end(self, trainer, *unused) -> None:
            step = trainer.global_step
            if step == self._last or self.end is not None:
                return  # inside an accumulation, or already stopped
            self._last = step
            if self.start is None:
                if step >= warmup_steps:
                    self.start, self.start_step = now(), step
                return
            if time.perf_counter() - self.start >= seconds:
                self._stop(trainer)

        def on_train_end(self, trainer, *unused) -> None:
            if self.start is not None and self.end is None:
                self._stop(trainer)

        def _stop(self, trainer) -> None:
            self.end, self.steps = now(), trainer.global_step - self.start_step
            trainer.should_stop = True

        @property
        def seconds(self) -> float:
            if self.end is None:
                raise RuntimeError("the timed window never started: the run ended within the warm-up steps")
            return self.end - self.start

        @property
        def warmup_seconds(self) -> float:
            return (self.start or now()) - self.first

    return TimedClock()


def measure_in_child(argv: Sequence[str], cwd: Path) -> tuple[Optional[dict], str]:
    """Run ``python argv…`` (a benchmark's own measuring mode) so its peak memory is its own.

    The child prints its result as one JSON line; W&B is offline and warnings are silenced there. Returns
    ``(result, "")``, or ``(None, last stderr line)`` when the child failed or printed no JSON.
    """
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return None, (done.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(lines[-1]), ""


@dataclass(frozen=True)
class Ratio:
    """Pair-by-pair ratios ``a_i / b_i`` of paired repeats: their median and spread.

    ``median`` is the figure to quote; ``low``–``high`` the smallest and largest pair's ratio; ``pairs`` how
    many pairs there were.
    """

    median: float
    low: float
    high: float
    pairs: int

    def __str__(self) -> str:
        return f"{self.median:.2f}× [{self.low:.2f}–{self.high:.2f}] (n = {self.pairs})"


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> Ratio:
    """Summarise paired measurements: ``a[i] / b[i]`` for each pair, their median, min and max.

    Takes two equally long sequences of positive numbers (run ``i`` of A and run ``i`` of B, taken one after
    the other); raises ``ValueError`` when their lengths differ or they are empty.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_ratio: need equally many runs of each side, got {len(a)} and {len(b)}")
    ratios = [x / y for x, y in zip(a, b)]
    return Ratio(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


def alternate(sides: Sequence[Callable[[], T]], pairs: int,
              on_result: Optional[Callable[[int, int, T], None]] = None) -> list[list[T]]:
    """Run the ``sides`` in turn, ``pairs`` rounds (A B A B … or A B C A B C …); returns each side's results.

    ``on_result(round, side index, result)`` is called after every run (to print progress). Returns
    ``[[side 0's results…], [side 1's results…], …]``, each ``pairs`` long, in round order.
    """
    results: list[list[T]] = [[] for _ in sides]
    for round_index in range(pairs):
        for side_index, side in enumerate(sides):
            result = side()
            results[side_index].append(result)
            if on_result is not None:
                on_result(round_index, side_index, result)
    return results


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the figure quoted for one side of paired repeats)."""
    return statistics.median(values)
