"""What the benchmark scripts share: the machine line each prints first, and a Lightning step clock.

Imported by the scripts beside it (``from harness import machine_line``). Importing it imports neither
torch nor Lightning, so data-pipeline benchmarks stay light.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


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
