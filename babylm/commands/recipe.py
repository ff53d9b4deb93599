"""``python -m babylm recipe [PRESET]``: the whole recipe in one command, ending in one results page.

Run: ``python -m babylm recipe tiny --control`` (``--help`` for every option and the shipped presets). Runs
prepare → tokenizer → encode → the teachers → the teacher cache (when the student uses one) → the distilled
student → (``--control``) the same student trained alone → evaluate every model → a sample from the student
(:mod:`.recipe_plan` lists the exact command lines), then writes ``results.md``, ``results.json`` and
``blimp_vs_words.png`` (:mod:`.recipe_page`). A preset is ``configs/recipes/<name>.yaml``
(:mod:`.recipe_preset`); ``python -m babylm quickstart`` is the ``tiny`` preset.

Everything lands in ``--workdir`` (default ``runs/recipe/<preset>-seed<N>``: each seed its own), which belongs to
the recipe as the quick start's belongs to it (:mod:`.workdir`: new, empty or an earlier recipe's; ``--fresh``
deletes only what it created). Every stage is the project's own command, run inside the workdir: the data
stages, ``evaluate`` and ``generate`` in this process (no interpreter and torch start-up each), ``fit`` and
``cache-teachers`` as ``python -m babylm …`` subprocesses (Lightning's DDP launcher re-runs its command line for
each GPU, W&B and CUDA state stay per run, and a model's memory is freed before the next).

Skip and resume: ``prepare``, ``tokenizer``, ``encode`` and ``cache-teachers`` skip up-to-date work themselves; a
fit is done when its export holds a ``word_ledger.json``, and an interrupted fit resumes with ``--ckpt_path
last``; an evaluation is done when its report exists for the model files as they are now. ``recipe_state.json``
(written atomically after each stage) keeps each stage's command line, settings and wall time, so a re-run's
page shows the original times and says what was skipped; a re-run with other settings for a finished stage is
refused in one line (``--fresh``, or another ``--workdir``). Bad input: one line on stderr, exit code 2; a failed
stage: exit code 1 (its output is above), 2 when it refused its input; interrupted: 130, and the same command
resumes (a running fit or cache build gets the Ctrl-C, up to a minute to stop, then it and every process it started
are killed).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from babylm.commands.recipe_plan import RecipeOptions, blimp_dir_of, build_plan
from babylm.commands.recipe_preset import PresetError, load_preset, preset_file, preset_summaries
from babylm.commands.recipe_stages import RecipeError, StageFailed, run_recipe
from babylm.commands.workdir import claim_workdir, locked
from babylm.core.arguments import CommandParser, int_in_range, positive_int
from babylm.core.atomic import LockBusy
from babylm.core.outputs import OutputError

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # what holds the babylm package (a checkout or site-packages)


@dataclass
class Invocation:
    """Who runs the recipe: the command (its manifest ``.babylm-<command>.json``), the words of its command line
    for the page, and whether W&B is kept offline (the quick start never talks to a server)."""

    command: str
    command_line: str
    offline: bool = False


def add_recipe_options(parser: argparse.ArgumentParser, workdir_help: str) -> None:
    """The options ``recipe`` and ``quickstart`` share (``--workdir`` with its own default text)."""
    parser.add_argument("--workdir", default=None, help=workdir_help)
    parser.add_argument("--seed", type=int_in_range(0, 2**32 - 1, "seed"), default=0,
                        help="one seed for every stage that has one: split, initialisation, data order, teacher "
                             "cache, sampling (default: %(default)s)")
    parser.add_argument("--control", action="store_true",
                        help="also train the student alone (same config, data, steps and words; cross-entropy only) "
                             "to compare with the distilled one")
    parser.add_argument("--fresh", action="store_true",
                        help="delete what an earlier run created in --workdir and run every stage")
    parser.add_argument("--blimp-dir", default=None, help="BLiMP .jsonl folder (default: the preset's)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="optimizer steps of every model, overriding the preset (a quick look)")
    parser.add_argument("--vocab-size", type=int_in_range(259, 65_535, "vocab_size"), default=None,
                        help="tokenizer vocabulary, 259 … 65535 (default: the preset's)")


def build_parser() -> argparse.ArgumentParser:
    """The ``recipe`` command's parser (the shipped presets listed in ``--help``)."""
    shipped = "; ".join(preset_summaries()) or "(none found)"
    parser = CommandParser(
        prog="python -m babylm recipe",
        description="Run the whole recipe for a preset (prepare → tokenizer → encode → teachers → cache → student "
                    "→ evaluate), skipping what is done and resuming what was interrupted; end with a results page.",
        epilog=f"Shipped presets (configs/recipes/<name>.yaml; docs/recipe.md) — {shipped}.",
    )
    parser.add_argument("preset", nargs="?", default="tiny",
                        help="a shipped preset's name or a preset .yaml file (default: %(default)s)")
    add_recipe_options(parser, "where everything goes (default: runs/recipe/<preset>-seed<N>)")
    data = parser.add_argument_group("data (instead of the preset's)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--data-dir", default=None,
                        help="a finished `prepare`'s --data-dir (or its corpus_split/): train on its split, no prepare")
    source.add_argument("--gutenberg-file", nargs="+", metavar="PATH", help="prepare --source gutenberg from these")
    source.add_argument("--wikitext-pages", nargs="+", metavar="PATH", help="prepare --source wikitext from these")
    return parser


def options_of(args: argparse.Namespace) -> RecipeOptions:
    """The :class:`RecipeOptions` of parsed arguments (the data ones only when the parser has them)."""
    return RecipeOptions(seed=args.seed, control=args.control, steps=args.steps, vocab_size=args.vocab_size,
                         blimp_dir=args.blimp_dir, data_dir=getattr(args, "data_dir", None),
                         gutenberg_files=getattr(args, "gutenberg_file", None),
                         wikitext_pages=getattr(args, "wikitext_pages", None))


def stage_env(offline: bool) -> dict[str, str]:
    """The environment of the subprocess stages: this babylm first on the path, tokenizers single-threaded per
    stage, and W&B offline when ``offline`` (unless the user set ``WANDB_MODE``)."""
    env = dict(os.environ)
    if offline:
        env.setdefault("WANDB_MODE", "offline")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    return env


def run(preset_name: str, options: RecipeOptions, workdir: str | None, fresh: bool, invocation: Invocation) -> int:
    """Run the recipe ``preset_name`` with ``options`` in ``workdir`` (default ``runs/recipe/<preset>-seed<N>``);
    returns an exit code: 0 done, 1 a stage failed, 2 bad input (one line on stderr; or a stage refused its input),
    130 interrupted."""
    prefix = f"babylm {invocation.command}"
    try:
        path = preset_file(preset_name)
        preset = load_preset(path)
        plan = build_plan(preset, path, options)
        folder = Path(workdir or Path("runs") / "recipe" / f"{path.stem}-seed{options.seed}").resolve()
        claim_workdir(folder, False, invocation.command)  # the workdir is ours (or refused) …
        with locked(folder, invocation.command) as lock:  # … and no other run is in it before --fresh deletes
            notice = claim_workdir(folder, fresh, invocation.command) if fresh else None
            if notice:
                print(notice, flush=True)
            info = {"preset": path.stem, "preset_file": str(path), "description": preset.description,
                    "seed": options.seed, "track": preset.track, "command": invocation.command_line,
                    "blimp_dir": blimp_dir_of(preset, options), "blimp_limit": preset.evaluation.blimp_limit}
            run_recipe(plan, folder, info, invocation.command, stage_env(invocation.offline), lock)
    except (PresetError, OutputError, LockBusy, RecipeError) as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    except StageFailed as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print(f"\n{prefix}: interrupted; finished stages are kept — run the same command again to resume",
              file=sys.stderr)
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m babylm recipe``: returns an exit code (see :func:`run`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    invocation = Invocation("recipe", shlex.join(["python", "-m", "babylm", "recipe", *argv]))
    return run(args.preset, options_of(args), args.workdir, args.fresh, invocation)
