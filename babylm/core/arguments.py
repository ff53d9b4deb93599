"""Command-line plumbing shared by the argparse commands: checked number types and one-line usage errors.

A numeric option whose bad values are meaningless (``--limit -1``, ``--seq-len 0``, ``--vocab-size -5``) gets
one of the types below, so argparse refuses it before any work starts and names the option:
``babylm evaluate: error: argument --limit: -1 is not a positive integer (1 or more); see --help``
(exit code 2). :class:`CommandParser` keeps every argparse error to that one line (argparse prints the whole
usage block first). :func:`run_command` is the one runner of those commands: parse, work, one line and exit code
2 for bad input. Used by the project's own commands (``python -m babylm <command>``) and the stage modules that
``scripts/`` run; nothing to run on its own.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, Optional, Sequence

from babylm.core.atomic import os_error_line


class CommandParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line on stderr (exit code 2), and which takes
    options only as written in full: ``--volume`` is not read as ``prepare --volumes`` (argparse's prefix
    matching, ``allow_abbrev``, turned a misremembered option into another one)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 (argparse's hook)
        """Print ``<prog>: error: <message>; see --help`` on stderr and exit with code 2.

        ``prog`` loses its ``python -m`` (``babylm evaluate: error: …``, as the commands' own errors read).
        """
        self.exit(2, f"{self.prog.removeprefix('python -m ')}: error: {message}; see --help\n")


def _checked(kind: type, what: str, accepts, name: str, doc: str):
    """An argparse type: ``text`` → ``kind``, refused (``ArgumentTypeError``, "<text> is not <what>") unless finite
    and ``accepts(value)``. An integer is read from at most 30 digits (Python refuses over 4,300 with a
    ValueError of its own; no option of ours needs more than 20)."""

    def parse(text: str):
        try:
            if kind is int and len(text.strip().lstrip("+-")) > 30:
                raise ValueError(text)
            value = kind(text)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{_shown(text)!r} is not {what}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not accepts(value):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {what}")
        return value

    parse.__name__ = parse.__qualname__ = name  # argparse names the type in some messages
    parse.__doc__ = doc
    return parse


def _shown(text: str) -> str:
    """An option's text as quoted in a message: at most 40 characters."""
    return text if len(text) <= 40 else text[:37] + "..."


INT64_MAX = 2**63 - 1
"""The largest count an option may hold: torch and numpy take integers as signed 64-bit values."""

SEED_MAX = 2**32 - 1
"""Seeds are 0 … 2³²−1: numpy's ``RandomState``/``np.random.seed`` and Lightning's ``seed_everything`` take no other
(torch takes −2⁶³ … 2⁶⁴−1, Python's ``random`` any integer)."""

MAX_SECONDS = 86_400.0
"""The longest wait or timeout an option may ask for, one day: ``time.sleep`` and socket timeouts overflow on
values near 1e300, and a longer wait is always a typing mistake."""


def int_in_range(low: int, high: int = INT64_MAX, name: str = "int_in_range"):
    """An argparse type accepting the integers ``low`` … ``high`` (both included)."""
    what = f"an integer from {low} to {high}" if high != INT64_MAX else f"an integer of {low} or more (at most 2^63-1)"
    return _checked(int, what, lambda v: low <= v <= high, name, f"argparse type: an integer in [{low}, {high}].")


def float_in_range(low: float, high: float, name: str = "float_in_range", low_open: bool = False):
    """An argparse type accepting the finite numbers ``low`` … ``high`` (``low`` excluded when ``low_open``)."""
    what = f"a number {'above' if low_open else 'from'} {low:g} {'and at most' if low_open else 'to'} {high:g}"
    accepts = (lambda v: low < v <= high) if low_open else (lambda v: low <= v <= high)
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    return _checked(float, what, accepts, name, f"argparse type: a finite number in {interval}.")


positive_int = _checked(int, "a positive integer (1 to 2^63-1)", lambda v: 1 <= v <= INT64_MAX, "positive_int",
                        "argparse type: an integer ≥ 1 (counts, sizes, lengths), at most 2⁶³−1.")
non_negative_int = _checked(int, "an integer from 0 to 2^63-1", lambda v: 0 <= v <= INT64_MAX, "non_negative_int",
                            "argparse type: an integer ≥ 0 (word budgets), at most 2⁶³−1.")
seed = int_in_range(0, SEED_MAX, "seed")
seed.__doc__ = "argparse type: a random seed, 0 … 2³²−1 (see :data:`SEED_MAX`)."
port = int_in_range(0, 65_535, "port")
port.__doc__ = "argparse type: a TCP port, 0 … 65535 (0: any free port)."
positive_float = _checked(float, "a number above 0", lambda v: v > 0, "positive_float",
                          "argparse type: a finite number > 0.")
seconds = float_in_range(0.0, MAX_SECONDS, "seconds")
seconds.__doc__ = "argparse type: a wait in seconds, 0 … one day (delays, latencies)."
positive_seconds = float_in_range(0.0, MAX_SECONDS, "positive_seconds", low_open=True)
positive_seconds.__doc__ = "argparse type: a timeout in seconds, above 0 and at most one day."
non_negative_float = _checked(float, "a number of 0 or more", lambda v: v >= 0, "non_negative_float",
                              "argparse type: a finite number ≥ 0.")
open_fraction = _checked(float, "between 0 and 1 (both excluded)", lambda v: 0 < v < 1, "open_fraction",
                         "argparse type: a number strictly between 0 and 1 (a share of the corpus).")


def check_seed(value: object, name: str = "seed") -> int | None:
    """For library entry points: ``value`` if it is None or an integer seed 0 … :data:`SEED_MAX`; else ``ValueError``
    naming ``name`` (one line)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ValueError(f"{name} must be an integer from 0 to {SEED_MAX}, got {_shown(repr(value))}")
    return value


def run_command(name: str, argv: Sequence[str] | None, parser: argparse.ArgumentParser,
                work: Callable[[argparse.Namespace], Optional[str]], errors: tuple[type[BaseException], ...]) -> int:
    """The one runner of the argparse commands: parse ``argv`` (default ``sys.argv[1:]``), call ``work(args)`` and
    print the summary it returns; returns the exit code.

    Each of the stage's own ``errors`` (bad input the user can fix) and every ``OSError`` (an output that cannot be
    written, a folder where a file goes…) is one line on stderr, ``<name>: <message>``, exit code 2; anything else
    is a bug and propagates with its traceback.
    """
    args = parser.parse_args(argv)
    try:
        summary = work(args)
    except errors as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{name}: {os_error_line(error)}", file=sys.stderr)
        return 2
    if summary:
        print(summary)
    return 0
