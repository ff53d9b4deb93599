"""The machine line every benchmark prints first: CPU model and cores, GPU, Python and library versions.

Imported by the scripts beside it (``from machine import machine_line``). Does not import torch unless a
GPU is asked about, so data-pipeline benchmarks stay light.
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


def machine_line(check_gpu: bool = True, packages: tuple[str, ...] = ("torch",)) -> str:
    """Return ``machine: <CPU>, <N> cores; <GPU>; python X; torch Y …`` (GPU looked up when ``check_gpu``)."""
    gpu = gpu_name() if check_gpu else "GPU not used"
    versions = "; ".join(f"{name} {_version(name)}" for name in packages)
    return f"machine: {cpu_model()}, {os.cpu_count()} cores; {gpu}; python {platform.python_version()}; {versions}"
