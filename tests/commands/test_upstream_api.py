"""What the training commands take from Lightning and jsonargparse beyond their documented API, checked so that
an upgrade fails here, in one line naming the use, rather than strangely in a run.

``setup.cfg`` holds both packages below the next minor release; raise the bound after this file (and the suite)
passes on the new one.
"""

from __future__ import annotations

import inspect

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI

from babylm.commands.fit import LINKS, build_parser, given_link_targets


def test_jsonargparse_still_has_skip_apply_links():
    try:
        from jsonargparse._link_arguments import skip_apply_links  # noqa: F401
    except ImportError:
        pytest.fail("jsonargparse._link_arguments.skip_apply_links is gone: babylm.commands.fit.given_link_targets "
                    "uses it to see a value a link replaces; find its successor before raising the jsonargparse "
                    "bound")


def test_skip_apply_links_still_shows_the_value_a_link_replaces():
    target = "model.init_args.config.max_position_embeddings"
    assert (target, "parse") in {(t, when) for _, t, when in LINKS}
    given = given_link_targets(build_parser("fit"), [f"--{target}", "77"])
    if given.get(target) != 77:
        pytest.fail(f"jsonargparse's skip_apply_links no longer keeps a given link target ({target} read as "
                    f"{given.get(target)!r}, 77 given): babylm.commands.fit.given_link_targets needs another way")


def test_lightning_still_names_the_trainer_methods_arguments_the_cli_builds_itself():
    for command, skip in LightningCLI.subcommands().items():
        if command not in ("fit", "validate", "test"):
            continue
        parameters = set(inspect.signature(getattr(Trainer, command)).parameters)
        if not set(skip) <= parameters or "ckpt_path" not in parameters:
            pytest.fail(f"LightningCLI.subcommands()['{command}'] or Trainer.{command}'s arguments changed "
                        f"(skip {sorted(skip)}, arguments {sorted(parameters)}): "
                        "check BabyLMCLI.add_arguments_to_parser")
