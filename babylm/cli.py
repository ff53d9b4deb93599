"""Command line of babylm: ``python -m babylm <command> …``.

Training commands (``fit``, ``validate``, ``test``) go to LightningCLI (:func:`lightning_main`); the
project's own commands (``prepare``, ``tokenizer``, ``encode``, ``cache-teachers``, ``export``, ``evaluate``,
``generate``, ``recipe``, ``quickstart``, ``hub-repo``) are small argparse programs in their modules, imported only
when called so that ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from babylm.core.allocator import tune_malloc

LIGHTNING_COMMANDS = ("fit", "validate", "test")

# command → (module, function, one-line summary); each function takes argv (list[str]) and returns an exit code.
OWN_COMMANDS: dict[str, tuple[str, str, str]] = {
    "prepare": ("babylm.data.pipeline", "main",
                "run the data pipeline: scrape → convert → combine → clean → split"),
    "tokenizer": ("babylm.data.tokens.tokenizer", "main", "train the byte-level BPE tokenizer on the train split"),
    "encode": ("babylm.data.tokens.encode", "main", "tokenize the splits into uint16 token files for training"),
    "cache-teachers": ("babylm.commands.cache_teachers", "main",
                       "run the teachers once over the train windows; store compact targets"),
    "export": ("babylm.commands.export", "main",
               "Lightning checkpoint → Hugging Face directory (safetensors + tokenizer)"),
    "evaluate": ("babylm.commands.evaluate", "main", "score an exported model on BLiMP minimal pairs or perplexity"),
    "generate": ("babylm.evaluation.generate", "main", "sample text from an exported model"),
    "recipe": ("babylm.commands.recipe", "main", "the whole recipe for a preset, in one command; a results page"),
    "quickstart": ("babylm.commands.quickstart", "main", "offline end-to-end demo on the bundled sample (recipe tiny)"),
    "hub-repo": ("babylm.commands.hub_repo", "main",
                 "lay a finished run out as a Hub repository (main + chck_<N>M branches); push it"),
}

USAGE = """usage: python -m babylm <command> [options]

Training (LightningCLI; `python -m babylm fit --help` for every option):
  fit            train a model:  python -m babylm fit --config configs/teacher_llama_360m.yaml
  validate       run the validation loop on a checkpoint
  test           run the test loop on a checkpoint

Other commands (`python -m babylm <command> --help`):
{own}
"""


def _usage() -> str:
    own = "\n".join(f"  {name:<14} {summary}" for name, (_, _, summary) in OWN_COMMANDS.items())
    return USAGE.format(own=own)


def lightning_main(argv: Sequence[str]) -> int:
    """Run LightningCLI on ``argv`` (starting with fit/validate/test); returns an exit code.

    The CLI itself (links, checkpoint callbacks, config saving, W&B fallback) is :mod:`babylm.commands.fit`,
    imported here so that ``python -m babylm --help`` stays fast.
    """
    from babylm.commands.fit import run

    return run(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``argv`` (default ``sys.argv[1:]``) to a training or project command; returns an exit code."""
    tune_malloc()  # glibc: reuse large blocks instead of mmap/munmap per tensor (babylm/core/allocator.py)
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    command, rest = args[0], args[1:]
    if command in LIGHTNING_COMMANDS:
        return lightning_main(args)
    if command in OWN_COMMANDS:
        module_name, function_name, _ = OWN_COMMANDS[command]
        function = getattr(importlib.import_module(module_name), function_name)
        return int(function(rest) or 0)
    print(f"babylm: unknown command {command!r}; run `python -m babylm --help` for the list", file=sys.stderr)
    return 2
