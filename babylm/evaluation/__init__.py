"""Evaluation of exported models: BLiMP minimal pairs (:mod:`.blimp`), perplexity (:mod:`.perplexity`).

Run: ``python -m babylm evaluate --help`` (:mod:`.cli`). Reports are written by :mod:`.report`; the full
BLiMP benchmark is downloaded on first use by :mod:`.fetch`. Every user-facing failure in this package is
an :class:`EvaluationError` whose message is one line naming the file or field and what to do.
"""


class EvaluationError(ValueError):
    """Bad input to an evaluation (model directory, BLiMP file, text file, option); one-line message."""
