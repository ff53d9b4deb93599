"""Ctrl-C during a recipe stage that runs as a subprocess (fit, cache-teachers): the stage gets SIGINT, and
nothing it started outlives it — DataLoader workers start from a forkserver, so they are not its children (a
newcomer's Ctrl-C once left six processes, 1.4 GB, running after the recipe had exited)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from babylm.commands.recipe_stages import stop_stage

STAGE = """
import signal, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                           "time.sleep(600)"])  # like a worker that ignores Ctrl-C
try:
    open(sys.argv[1], "w").write(str(helper.pid))  # inside the try: from here on Ctrl-C is handled
    time.sleep(600)
except KeyboardInterrupt:
    open(sys.argv[2], "w").write("stopped gracefully")
    time.sleep(float(sys.argv[3]))  # the teardown
"""


def running(pid: int, settle: float = 5.0) -> bool:
    """True when ``pid`` is still a live process ``settle`` seconds on (SIGKILL is delivered asynchronously; a
    zombie nobody reaped is not running)."""
    deadline = time.monotonic() + settle
    while True:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        if fields[0] == "Z" or time.monotonic() > deadline:
            return fields[0] != "Z"
        time.sleep(0.05)


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal. Tests run from a background job (``pytest … &`` in a script) inherit
    SIGINT ignored, and an ignored signal stays ignored in children: the stage would never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(tmp_path: Path, teardown: float) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-c", STAGE, str(tmp_path / "pid"), str(tmp_path / "graceful"),
                                str(teardown)], start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").is_file() or not (tmp_path / "pid").read_text():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    return process, int((tmp_path / "pid").read_text())


def test_the_stage_stops_on_ctrl_c_and_what_it_started_goes_with_it(tmp_path):
    process, helper = start(tmp_path, teardown=0.2)
    started = time.monotonic()
    stop_stage(process, grace=30)
    assert (tmp_path / "graceful").read_text() == "stopped gracefully"  # SIGINT reached it: Lightning's own stop
    assert time.monotonic() - started < 20 and process.returncode is not None
    assert not running(helper)


def test_a_stage_that_does_not_stop_in_time_is_killed_with_everything_it_started(tmp_path):
    process, helper = start(tmp_path, teardown=600)
    started = time.monotonic()
    stop_stage(process, grace=1)
    assert 1 <= time.monotonic() - started < 20 and process.returncode == -9
    assert not running(helper)
