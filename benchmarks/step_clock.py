"""A Lightning callback that records wall and CPU time per optimizer step of a real ``python -m babylm fit`` run.

Use it on any fit (the CLI accepts extra callbacks by class path), with this folder on ``PYTHONPATH``::

    PYTHONPATH=benchmarks python -m babylm fit -c configs/teacher_llama_360m.yaml … \\
        --trainer.callbacks+=step_clock.StepClock --trainer.callbacks.out /tmp/steps.json

Writes ``out`` (JSON, rewritten after every step): per optimizer step its wall seconds and the CPU seconds of
the training process (``time.process_time``: all its threads; DataLoader workers are other processes), the
windows it took and the 1-minute load average, so per-step costs measured on a shared machine can be read
as CPU time, which other processes' load changes far less than wall time.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import lightning as L


class StepClock(L.Callback):
    """Wall and process-CPU seconds of every optimizer step, written to ``out`` as JSON."""

    def __init__(self, out: str = "step_clock.json") -> None:
        self.out = Path(out)
        self.steps: list[dict] = []
        self._last: tuple[float, float] | None = None
        self._step = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self._step = trainer.global_step  # a resumed run starts counting where it is

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._last is None:
            self._last = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self._step:  # inside a gradient accumulation: not a step yet
            return
        self._step = trainer.global_step
        now = (time.perf_counter(), time.process_time())
        wall, cpu = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        windows = trainer.accumulate_grad_batches * len(batch["input_ids"])  # (micro-batch, T) per batch
        self.steps.append({"step": trainer.global_step, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                           "windows": windows, "load_1min": round(os.getloadavg()[0], 2)})
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps({"steps": self.steps}, indent=1))
