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


def _checked(kind: type, what: str, accepts, name: str, doc: str):
    """An argparse type: ``text`` → ``kind``, refused (``ArgumentTypeError``, "<text> is not <what>") unless finite
    and ``accepts(value)``."""

    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not accepts(value):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = parse.__qualname__ = name  # argparse names the type in some messages
    parse.__doc__ = doc
    return parse


positive_int = _checked(int, "a positive integer (1 or more)", lambda v: v >= 1, "positive_int",
                        "argparse type: an integer ≥ 1 (counts, sizes, lengths).")
non_negative_int = _checked(int, "an integer of 0 or more", lambda v: v >= 0, "non_negative_int",
                            "argparse type: an integer ≥ 0 (word budgets, a port where 0 means any).")
positive_float = _checked(float, "a number above 0", lambda v: v > 0, "positive_float",
                          "argparse type: a finite number > 0 (timeouts, temperatures).")
non_negative_float = _checked(float, "a number of 0 or more", lambda v: v >= 0, "non_negative_float",
                              "argparse type: a finite number ≥ 0 (delays, latencies).")
open_fraction = _checked(float, "between 0 and 1 (both excluded)", lambda v: 0 < v < 1, "open_fraction",
                         "argparse type: a number strictly between 0 and 1 (a share of the corpus).")
