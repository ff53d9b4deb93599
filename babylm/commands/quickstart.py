"""Offline quick start: the whole job end to end on the bundled sample, on a CPU, in a few minutes.

Run: ``python -m babylm quickstart [--workdir runs/quickstart]``.

It is the ``tiny`` preset of ``python -m babylm recipe`` (``configs/recipes/tiny.yaml``; :mod:`.recipe`), with
W&B kept offline. Each stage is the project's real command, run inside ``--workdir`` (so every CWD-relative path
of the configs — ``data/…``, ``checkpoints/…`` — lands there, and nothing in the repository's own ``data/`` or
``checkpoints/`` is touched):

1. ``prepare --source sample``: serve the bundled sample pages on 127.0.0.1 → scrape → convert → combine
   → clean → split (the sample is far below the 10M-word budget, so "use everything" with a val fraction);
2. train the byte-level BPE tokenizer (a small vocabulary: the sample has ~10k words) and encode the splits;
3. two tiny teachers (``configs/tiny/teacher_llama.yaml``, ``configs/tiny/teacher_gptj.yaml``);
4. a tiny student distilled from them (``configs/tiny/distill.yaml``); with ``--control`` the same student
   trained alone too;
5. BLiMP-style evaluation of every model (the project's own minimal pairs in ``babylm/resources/blimp_sample``,
   or ``--blimp-dir``) and validation perplexity;
6. a generated sample, the results page (``results.md``, ``results.json``, ``blimp_vs_words.png``), where every
   artifact went and the time per stage.

Stages already done are skipped, an interrupted one resumes; ``--fresh`` starts over. Reads the bundled sample;
writes everything under ``--workdir``.

The workdir belongs to the quick start: it must be new, empty, or an earlier quick start's (it then holds
``.babylm-quickstart.json``, which lists every file and folder the stages created). Any other folder is
refused, so ``--workdir .`` cannot write into a repository. ``--fresh`` deletes only the files listed there,
then the listed folders left empty; a file added by hand (``checkpoints/my_notes.txt``) stays, with its
folders, and one line says which files were kept (:mod:`.workdir`).
"""

from __future__ import annotations

import shlex
import sys
from typing import Sequence

from babylm.commands.recipe import Invocation, add_recipe_options, options_of, run
from babylm.core.arguments import CommandParser

COMMAND = "quickstart"  # its manifest, .babylm-quickstart.json, lists the files and folders the stages created
PRESET = "tiny"
DEFAULT_WORKDIR = "runs/quickstart"


def build_parser() -> CommandParser:
    """The quick start's parser: the recipe's options, the ``tiny`` preset, ``runs/quickstart``."""
    parser = CommandParser(prog="python -m babylm quickstart", description=__doc__.split("\n\n")[0])
    add_recipe_options(parser, f"where every artifact goes (default: {DEFAULT_WORKDIR})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the quick start (``--help`` for options); returns an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    invocation = Invocation(COMMAND, shlex.join(["python", "-m", "babylm", COMMAND, *argv]), offline=True)
    return run(PRESET, options_of(args), args.workdir or DEFAULT_WORKDIR, args.fresh, invocation)
