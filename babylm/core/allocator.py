"""Keep glibc's ``malloc`` from mapping and unmapping every large tensor (CPU runs on Linux).

By default glibc serves each allocation above its mmap threshold (128 KiB, rising to at most 32 MiB) with a
fresh ``mmap`` and gives it back with ``munmap`` on free. A training step on a CPU allocates and frees the
(B, T, V) logits and their gradients — 65 MB each at batch 8 × 128 tokens × 16,000 words — several times per
step, so the kernel maps, zero-fills and unmaps them over and over: at the tiny configs most of a
distillation step's time was this system time (BENCHMARKS.md, "CPU allocator"). With
``mallopt(M_MMAP_MAX, 0)`` large blocks come from the heap and are reused, and a high ``M_TRIM_THRESHOLD``
keeps freed heap memory for the next step instead of returning it to the kernel each time. These are the
settings glibc also reads from the environment (``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``; glibc
manual, "Memory Allocation Tunables" and ``mallopt(3)``); the price is a higher resident set (memory freed
by one step stays with the process for the next).

:func:`tune_malloc` is called once at the start of ``python -m babylm`` (every command, so the quick start's
stages get it too). It does nothing when the C library is not glibc,
when ``BABYLM_MALLOPT=0`` (the opt-out), or when the environment already sets one of glibc's own ``MALLOC_*``
variables (the user's choice wins).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

OPT_OUT = "BABYLM_MALLOPT"
# mallopt(3) parameter numbers (glibc <malloc.h>)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest, ≈ 2 GiB of free heap before glibc trims
GLIBC_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                   "GLIBC_TUNABLES")


def tune_malloc() -> bool:
    """Set ``M_MMAP_MAX = 0`` and ``M_TRIM_THRESHOLD ≈ 2 GiB`` in this process's glibc; returns whether it did.

    Returns ``False`` without changing anything on a C library other than glibc, when ``BABYLM_MALLOPT`` is
    ``0``, or when one of glibc's ``MALLOC_*`` / ``GLIBC_TUNABLES`` variables is set. Raises nothing: a
    ``mallopt`` that refuses a value leaves glibc's default for it.
    """
    if os.environ.get(OPT_OUT, "1") == "0" or any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) & bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
