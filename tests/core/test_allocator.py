"""``tune_malloc``: on glibc a large tensor comes from the reused heap, not a fresh ``mmap``; the opt-outs work."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")

# a fresh interpreter: tune (or not), allocate a 64 MiB tensor, report glibc's count of mmapped bytes (mallinfo2)
PROBE = r"""
import ctypes, sys
from babylm.core.allocator import tune_malloc
tuned = tune_malloc()
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t)
                for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
import torch
x = torch.ones(16 * 2**20)  # (16M,) fp32 = 64 MiB
print(tuned, libc.mallinfo2().hblkhd)
"""


def probe(**env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "BABYLM_MALLOPT"))}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env, "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, check=True)
    tuned, mapped = done.stdout.split()
    return tuned == "True", int(mapped)


def test_large_tensors_come_from_the_heap_once_tuned():
    tuned, mapped = probe()
    assert tuned and mapped < 64 * 2**20  # the 64 MiB block is not an mmap of its own


@pytest.mark.parametrize("env", [{"BABYLM_MALLOPT": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"}])
def test_the_opt_out_and_the_users_own_glibc_settings_leave_malloc_alone(env):
    tuned, mapped = probe(**env)
    assert not tuned and mapped >= 64 * 2**20  # glibc's default: the block is mmapped
