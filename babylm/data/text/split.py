"""Split stage: the cleaned corpus → ``train.txt`` and ``val.txt`` by word budgets, whole articles only.

Run it::

    python -m babylm.data.text.split [--input data/encyclopedia_cleaned.txt] [--output-dir data/corpus_split]
                                [--train-words 10000000] [--val-words 2000000] [--seed 0]
    python -m babylm.data.text.split --val-fraction 0.1      # "use everything" mode
    python scripts/split.py --help

Reads the ``<s>`` … ``</s>`` articles of the cleaned file (``babylm.data.text.clean``) and writes
``<output-dir>/train.txt``, ``val.txt`` (same format, whole articles) and ``split_report.json`` (also
printed): articles and words per split, the mode, the budgets and the seed. A *word* is a
whitespace-separated token of an article's text (the markers are not words).

Two modes, both seeded and reproducible (same input + same seed → byte-identical outputs):

* **budget** (default): the articles are shuffled with ``random.Random(seed)``; each one in turn goes to
  val if it still fits in the val budget, else to train if it still fits there, else it is left out. So
  neither split ever exceeds its budget (defaults 10M train / 2M val words, as in the reference work).
  A corpus with fewer words than the two budgets together is an error (exit code 2) naming the fix:
  ``--val-fraction`` or smaller budgets — a silent fallback would hide that the budgets were not met.
* **train budget, rest val** (``--val-words rest``, e.g. ``--train-words 10000000 --val-words rest``: BabyLM
  strict-small): in shuffled order each article goes to train while it fits in the train budget, every other
  article to val. A corpus no larger than the train budget is an error (val would be empty).
* **everything** (``--val-fraction F``): every article is used. With ``T = F`` × total words and a tolerance
  of one percentage point (``0.01`` × total words), the articles are taken in shuffled order and each goes
  to val when val still holds fewer than ``T`` words and the article fits under ``T`` + tolerance; every
  other article goes to train. So val never exceeds ``F`` + 1 pp, and it ends below ``F`` − 1 pp only if
  every article in train holds more than 2 % of the words — which cannot happen when the articles of at
  most 2 % of the words each together hold at least ``F`` − 1 pp of them: then val lands within ±1
  percentage point of ``F`` (a 50,000-word article drawn early no longer takes val to 29 %). With two or
  more articles, val and train each get at least one (the smallest article moves if one side is empty).

Streaming: two passes over the input; memory holds one article and one word count per article.
Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from babylm.core.arguments import CommandParser, check_seed, non_negative_int, open_fraction, run_command, seed
from babylm.core.atomic import atomic_output, atomic_write_json
from babylm.core.outputs import stage_outputs
from babylm.data.layout import DEFAULT
from babylm.data.text.clean import format_article, iter_articles

OUTPUT_FILES = ("train.txt", "val.txt", "split_report.json")
REST = "rest"
"""``--val-words rest``: val takes every article train does not (:class:`SplitOptions` ``val_words=None``)."""
DEFAULT_TRAIN_WORDS = 10_000_000
DEFAULT_VAL_WORDS = 2_000_000
TRAIN, VAL, UNUSED = 1, 2, 0
"""Assignment codes in a split plan."""
VAL_FRACTION_TOLERANCE = 0.01
"""How far (as a share of all words) val may land from ``--val-fraction`` when the articles allow it."""


class SplitError(ValueError):
    """Bad input or options for the split stage; the message says what to change."""


def count_words(text: str) -> int:
    """Number of whitespace-separated words in ``text``."""
    return len(text.split())


@dataclass(frozen=True)
class SplitOptions:
    """How to split: budget mode (``val_fraction`` None; ``val_words`` None: val is the rest) or everything mode;
    and the seed."""

    train_words: int = DEFAULT_TRAIN_WORDS
    val_words: int | None = DEFAULT_VAL_WORDS
    val_fraction: float | None = None
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`SplitError` for budgets below 0, a val fraction outside (0, 1) or a seed outside 0 … 2³²−1."""
        try:
            check_seed(self.seed, "--seed")
        except ValueError as error:
            raise SplitError(str(error)) from None
        if self.val_fraction is not None and self.val_words is None:
            raise SplitError("--val-words rest and --val-fraction are two ways of sizing val: give one")
        if self.val_fraction is not None:
            if not 0.0 < self.val_fraction < 1.0:
                raise SplitError(f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")
        elif self.train_words < 0 or (self.val_words or 0) < 0:
            raise SplitError(f"word budgets must be ≥ 0, got --train-words {self.train_words} "
                             f"--val-words {self.val_words}")

    @property
    def mode(self) -> str:
        """``"budget"``, ``"rest"`` (train budget, val the rest) or ``"everything"``."""
        return "everything" if self.val_fraction is not None else "budget" if self.val_words is not None else REST


def plan_split(word_counts: Sequence[int], options: SplitOptions) -> array:
    """Assign each article (given by its word count, in file order) to TRAIN, VAL or UNUSED.

    Pure and deterministic in (``word_counts``, ``options``); returns an ``array('b')`` of codes, one per
    article. Raises :class:`SplitError` in budget mode when the corpus is smaller than both budgets.
    """
    options.validate()
    total = sum(word_counts)
    order = list(range(len(word_counts)))
    random.Random(options.seed).shuffle(order)
    plan = array("b", [UNUSED]) * len(word_counts)
    if options.val_fraction is None and options.val_words is None:
        if total <= options.train_words:
            raise SplitError(f"the corpus has {total:,} words, no more than --train-words {options.train_words:,}: "
                             "--val-words rest would leave val empty; lower --train-words or pass --val-fraction 0.1")
        train_left = options.train_words
        for index in order:
            if word_counts[index] <= train_left:
                plan[index], train_left = TRAIN, train_left - word_counts[index]
            else:
                plan[index] = VAL
        return plan
    if options.val_fraction is None:
        if total < options.train_words + options.val_words:
            raise SplitError(
                f"the corpus has {total:,} words in {len(word_counts):,} articles, fewer than the budgets "
                f"(--train-words {options.train_words:,} + --val-words {options.val_words:,}); pass "
                f"--val-fraction 0.1 to use all of it, or lower the budgets"
            )
        train_left, val_left = options.train_words, options.val_words
        for index in order:
            words = word_counts[index]
            if words <= val_left:
                plan[index], val_left = VAL, val_left - words
            elif words <= train_left:
                plan[index], train_left = TRAIN, train_left - words
        return plan
    target = options.val_fraction * total
    ceiling = target + VAL_FRACTION_TOLERANCE * total
    val_words = 0
    for index in order:
        words = word_counts[index]
        if val_words < target and val_words + words <= ceiling:
            plan[index], val_words = VAL, val_words + words
        else:
            plan[index] = TRAIN
    if len(word_counts) >= 2:
        for empty, full in ((VAL, TRAIN), (TRAIN, VAL)):
            if empty not in plan:
                smallest = min((i for i in order if plan[i] == full), key=lambda i: word_counts[i])
                plan[smallest] = empty
    return plan


def val_words_option(text: str) -> int | str:
    """argparse type of ``--val-words``: an integer ≥ 0, or :data:`REST` (val takes what train does not; it is
    ``val_words=None`` in :class:`SplitOptions`)."""
    if text.strip().lower() == REST:
        return REST
    try:
        return non_negative_int(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error}, or {REST} (val takes what train does not)") from None


def summarise(word_counts: Sequence[int], plan: Sequence[int]) -> dict[str, dict[str, int]]:
    """Articles and words per split (``train``, ``val``, ``unused``) for a plan from :func:`plan_split`."""
    summary = {name: {"articles": 0, "words": 0} for name in ("train", "val", "unused")}
    names = {TRAIN: "train", VAL: "val", UNUSED: "unused"}
    for words, code in zip(word_counts, plan):
        summary[names[code]]["articles"] += 1
        summary[names[code]]["words"] += words
    return summary


def _read_word_counts(lines: Iterable[str]) -> array:
    return array("q", (count_words(article) for article in iter_articles(lines)))


def split_file(input_path: str | Path, output_dir: str | Path, options: SplitOptions) -> dict:
    """Split the cleaned corpus at ``input_path`` into ``output_dir``; returns the report (also written).

    Raises :class:`SplitError` for a missing or empty input, bad options, or budgets the corpus cannot meet.
    """
    input_path, output_dir = Path(input_path), Path(output_dir)
    if not input_path.is_file():
        raise SplitError(f"{input_path}: input file not found; run the clean stage first "
                         "(python -m babylm.data.text.clean)")
    options.validate()
    try:
        with open(input_path, encoding="utf-8") as source:
            word_counts = _read_word_counts(source)
    except UnicodeDecodeError as error:
        raise SplitError(f"{input_path}: not UTF-8 text ({error.reason} at byte {error.start}); "
                         "re-run the clean stage") from None
    if not word_counts:
        raise SplitError(f"{input_path}: no <s> … </s> articles found; is it the output of the clean stage?")
    plan = plan_split(word_counts, options)
    empty = [name for name, code in (("train", TRAIN), ("val", VAL)) if code not in plan]
    if empty and options.val_fraction is None:  # (everything mode keeps every article, however few)
        val = REST if options.val_words is None else options.val_words
        raise SplitError(f"{input_path}: this split leaves {' and '.join(empty)} without an article (--train-words "
                         f"{options.train_words}, --val-words {val}); give it a budget of at least one article's "
                         "words, or use --val-fraction")
    with stage_outputs(output_dir, OUTPUT_FILES, "split", "--output-dir", SplitError):
        return _write_split(input_path, output_dir, options, word_counts, plan)


def _write_split(input_path: Path, output_dir: Path, options: SplitOptions, word_counts: array, plan: array) -> dict:
    """Write ``train.txt``, ``val.txt`` and the report by ``plan`` (the body of :func:`split_file`, under its lock)."""
    with open(input_path, encoding="utf-8") as source, atomic_output(output_dir / "train.txt") as train, atomic_output(
        output_dir / "val.txt"
    ) as val:
        sinks = {TRAIN: train, VAL: val}
        for index, article in enumerate(iter_articles(source)):
            sink = sinks.get(plan[index])
            if sink is not None:
                sink.write(format_article(article))
    report = {
        "input": str(input_path),
        "mode": options.mode,
        "seed": options.seed,
        "train_words_budget": options.train_words if options.val_fraction is None else None,
        "val_words_budget": options.val_words if options.val_fraction is None else None,
        "val_fraction": options.val_fraction,
        "input_articles": len(word_counts),
        "input_words": int(sum(word_counts)),
        **summarise(word_counts, plan),
    }
    atomic_write_json(output_dir / "split_report.json", report)
    return report


def build_parser() -> argparse.ArgumentParser:
    """The split stage's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.text.split",
        description="Seeded, article-level train/val split of the cleaned corpus by word budgets "
                    "(or everything with a val fraction).",
    )
    parser.add_argument("--input", default=str(DEFAULT.cleaned),
                        help="cleaned corpus (default: %(default)s)")
    parser.add_argument("--output-dir", default=str(DEFAULT.split_dir),
                        help="where train.txt, val.txt, split_report.json go (default: %(default)s)")
    parser.add_argument("--train-words", type=non_negative_int, default=DEFAULT_TRAIN_WORDS,
                        help="train word budget (default: %(default)s)")
    parser.add_argument("--val-words", type=val_words_option, default=DEFAULT_VAL_WORDS,
                        help="val word budget, or 'rest': every article train does not take (default: %(default)s)")
    parser.add_argument(
        "--val-fraction", type=open_fraction, default=None,
        help='"use everything" mode: all articles, about this fraction of the words in val (budgets ignored)',
    )
    parser.add_argument("--seed", type=seed, default=0, help="shuffle seed, 0 … 2^32-1 (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the split stage on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args: argparse.Namespace) -> str:
        options = SplitOptions(args.train_words, None if args.val_words == REST else args.val_words,
                               args.val_fraction, args.seed)
        return json.dumps(split_file(args.input, args.output_dir, options), indent=2, ensure_ascii=False)

    return run_command("split", argv, build_parser(), work, (SplitError,))

if __name__ == "__main__":
    sys.exit(main())
