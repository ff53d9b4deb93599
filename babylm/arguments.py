"""Command-line plumbing shared by the argparse commands: checked number types and one-line usage errors.

A numeric option whose bad values are meaningless (``--limit -1``, ``--seq-len 0``, ``--vocab-size -5``) gets
one of the types below, so argparse refuses it before any work starts and names the option:
``babylm evaluate: error: argument --limit: -1 is not a positive integer (1 or more); see --help``
(exit code 2). :class:`CommandParser` keeps every argparse error to that one line (argparse prints the whole
usage block first). Used by the project's own commands (``python -m babylm <command>``) and the stage
modules that ``scripts/`` run; nothing to run on its own.
"""

from __future__ import annotations

import argparse
import math


class CommandParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line on stderr (exit code 2)."""

    def error(self, message: str):  # noqa: D401 (argparse's hook)
        """Print ``<prog>: error: <message>; see --help`` on stderr and exit with code 2.

        ``prog`` loses its ``python -m`` (``babylm evaluate: error: …``, as the commands' own errors read).
        """
        self.exit(2, f"{self.prog.removeprefix('python -m ')}: error: {message}; see --help\n")


def _number(text: str, kind: type, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (counts, sizes, lengths)."""
    value = _number(text, int, "a positive integer (1 or more)")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer (1 or more)")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (word budgets, seeds, a port where 0 means any)."""
    value = _number(text, int, "an integer of 0 or more")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not an integer of 0 or more")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (timeouts, temperatures)."""
    value = _number(text, float, "a number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number above 0")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number ≥ 0 (delays, latencies)."""
    value = _number(text, float, "a number of 0 or more")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of 0 or more")
    return value


def open_fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a share of the corpus)."""
    value = _number(text, float, "a number between 0 and 1")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (both excluded)")
    return value


def unit_fraction(text: str) -> float:
    """argparse type: a number in (0, 1] (nucleus sampling mass)."""
    value = _number(text, float, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value

