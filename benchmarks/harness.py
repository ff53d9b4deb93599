"""What the benchmark scripts share: the machine line, a Lightning step clock, and measuring in a child process.

Imported by the scripts beside it (``from harness import machine_line``). Importing it imports neither
torch nor Lightning, so data-pipeline benchmarks stay light.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional, Sequence


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
