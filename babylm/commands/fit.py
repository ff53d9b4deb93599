"""The training commands ``python -m babylm fit|validate|test``: LightningCLI set up for this project.

Run: ``python -m babylm fit -c configs/teacher_llama_360m.yaml`` (``--help`` lists every option,
``--print_config`` prints a complete, commented YAML to start a new config from).

What it adds to a plain LightningCLI:

* ``configs/base.yaml`` (the checkout's, or the copy shipped in the package: :mod:`babylm.commands.shipped_configs`) is
  always read first as the defaults, so a variant YAML holds only what differs; ``-c configs/base.yaml -c
  configs/tiny/teacher_llama.yaml`` gives the same result. Usage lines say ``python -m babylm fit``.
* the model is any :class:`~babylm.training.causal_lm.CausalLM` subclass (``model.class_path``), the data are
  :class:`~babylm.data.tokens.datamodule.TokenizedDataModule`; ``data.vocab_size`` and ``data.tokenizer_path`` are
  linked into the model when the DataModule is built, and ``data.seq_len`` into the model's context length.
* ``checkpoint`` (a ``ModelCheckpoint``) and ``word_checkpoints`` (:class:`WordMilestoneCheckpoint`) are
  always on, configured by plain keys (``--checkpoint.dirpath checkpoints/my_run``).
* the resolved config is saved as ``config.yaml`` next to the checkpoints (``checkpoint.dirpath``).
* Weights & Biases never hangs or prompts: without an API key, or with the server unreachable, it runs
  offline with a one-line notice (:mod:`babylm.training.wandb_mode`).
* a bad config (unknown key, wrong type, missing tokenizer or token files) is one line on stderr, exit 2; so
  are the start-up checks of :mod:`babylm.training.checks` (a linked model key set by hand, a broken
  ``ckpt_path`` or one holding another model than the config's, an ``export_dir`` that would replace the
  checkpoints or anything else not an export).
* one ``fit`` per folder: global rank 0 holds a lock beside ``checkpoint.dirpath``, ``word_checkpoints.dirpath``
  and ``model.init_args.export_dir`` (``.<name>.lock``) for the whole run; a second ``fit`` (or an ``export``) into
  any of them is refused in one line before it writes anything. A ``--ckpt_path`` checkpoint trained with another
  tokenizer than ``data.tokenizer_path`` is refused too (fit, validate and test), naming both fingerprints.
* ``--ckpt_path`` loads weights and training state only: the config and command line stay the run's. Each
  command builds its own flat parser (LightningCLI with ``run=False``, the Trainer method's arguments added with
  jsonargparse's public ``add_method_arguments``) and calls ``trainer.fit|validate|test`` itself, so Lightning's
  merge of a checkpoint's hyper-parameters into a subcommand's config (``LightningCLI._parse_ckpt_path``,
  Lightning ≥ 2.3) never applies.
* ``fit`` logs ``train/grad_norm`` and draws
  ``loss_curve.png`` beside the checkpoints (:mod:`babylm.training.dashboards`), and the experiment loggers get the
  whole resolved config (``run_config``: trainer, seed, precision, data, model, callbacks).

Reads the YAML configs and what the DataModule and model read; writes checkpoints, ``config.yaml``, logs
(``runs/``) and, when ``model.export_dir`` is set, the Hugging Face export.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from jsonargparse import ArgumentError, set_parsing_settings
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from babylm.commands.config_yaml import print_commented_config
from babylm.commands.shipped_configs import base_config, resolve_config_args
from babylm.core.atomic import atomic_write_text
from babylm.data.tokens.datamodule import TokenizedDataModule
from babylm.models.export import ExportError, export_lock
from babylm.training.budget import WordBudget, check_run_budget
from babylm.training.callbacks import WordMilestoneCheckpoint
from babylm.training.causal_lm import CausalLM
from babylm.training.checks import (
    LINKS,
    RunConfigError,
    check_ckpt_model,
    check_ckpt_path,
    check_ckpt_tokenizer,
    check_config_target,
    check_export_dir,
    check_linked_keys,
    check_numbers,
    check_teacher_context,
    last_checkpoint,
)
from babylm.training.dashboards import GradNormLogger, LossCurve
from babylm.training.distill import DistillationStudent  # noqa: F401 (imported so `--model` resolves it)
from babylm.training.wandb_mode import logger_uses_wandb, offline_unless_usable, quiet_wandb_loggers

BASE_CONFIG = base_config()  # configs/base.yaml of the checkout, or the copy shipped in the package
SUBCOMMANDS = ("fit", "validate", "test")
PROG = "python -m babylm"  # what usage lines and error hints show (never __main__.py)


class SaveConfigBesideCheckpoints(SaveConfigCallback):
    """Write the resolved config as ``config.yaml`` into the checkpoint directory at the start of ``fit``, and
    record it with the experiment loggers (W&B config, CSV ``hparams.yaml``) under ``run_config``.

    (Lightning's default writes into the logger's directory, which for W&B is not where the checkpoints are.)
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        """Nothing yet: the checkpoint directory is only resolved in ``ModelCheckpoint.setup``."""

    def on_fit_start(self, trainer, pl_module) -> None:
        """Save ``config.yaml`` beside the checkpoints (rank 0; overwritten by a resumed run)."""
        if self.already_saved or not trainer.is_global_zero:
            return
        main = trainer.checkpoint_callback
        directory = Path(main.dirpath) if main is not None and main.dirpath else Path(trainer.default_root_dir)
        atomic_write_text(directory / self.config_filename, self.parser.dump(self.config, skip_unset=False))
        self.already_saved = True
        resolved = json.loads(json.dumps(self.config.as_dict(), default=str))  # plain types: paths become strings
        resolved.pop("config", None)  # the list of YAML files read, already in config.yaml's header
        for logger in trainer.loggers:  # the whole run: trainer (precision, devices…), seed, data, model, callbacks
            logger.log_hyperparams({"run_config": resolved})


class BabyLMCLI(LightningCLI):
    """LightningCLI (``run=False``) for one training command, with the project's links, checkpoint callbacks and
    W&B fallback (see the module doc). :attr:`command` is ``fit``, ``validate`` or ``test``; :meth:`run` calls
    that Trainer method."""

    command = "fit"

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the Trainer method's own arguments (``ckpt_path``…), ``checkpoint`` and ``word_checkpoints``, and link
        the DataModule's values into the model."""
        skip = set(LightningCLI.subcommands()[self.command])  # model, dataloaders, datamodule: built here
        self.method_arguments = parser.add_method_arguments(Trainer, self.command, skip=skip)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(WordMilestoneCheckpoint, "word_checkpoints")
        parser.add_class_arguments(WordBudget, "budget")
        for source, target, apply_on in LINKS:
            parser.link_arguments(source, target, apply_on=apply_on)
        parser.link_arguments("budget.track", "word_checkpoints.track", apply_on="parse")  # one value, two uses

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        """Parse as LightningCLI does; check ``ckpt_path``; keep what was given for the linked keys before the links
        applied."""
        super().parse_arguments(parser, args)
        check_numbers(self.config)  # before LightningCLI seeds (a seed outside numpy's range was its traceback)
        self._model_class = None
        self._ckpt: tuple[Any, dict] | None = None  # (path, hyper-parameters) of the checkpoint the run starts from
        ckpt_path = self.config.get("ckpt_path")
        if str(ckpt_path) == "last":  # what Lightning will resume from, read now so it can be checked
            ckpt_path = last_checkpoint(self.config.get("checkpoint.dirpath"))
        facts = check_ckpt_path(ckpt_path)
        if facts is not None:
            hparams, trained_with = facts
            self._ckpt = (ckpt_path, hparams)
            check_ckpt_model(ckpt_path, hparams, self.config)
            check_ckpt_tokenizer(ckpt_path, trained_with, self.config.get("data.tokenizer_path"))
        self._given_links = given_link_targets(parser, args) if isinstance(args, (list, tuple)) else {}

    def before_instantiate_classes(self) -> None:
        """Refuse bad run settings at start-up, then switch W&B to offline (with a notice) when it could not work
        online.

        Refused with one line: a linked model key set to another value than its data source; for ``fit``, an
        ``export_dir`` that is or contains a folder the run writes to, or that holds anything but a previous
        export (it would be replaced at the end).
        """
        config = self.config
        self._model_class = config.get("model.class_path")
        check_linked_keys({"data.seq_len": config.get("data.seq_len")}, self._given_links, "parse", self._model_class)
        if self.command == "fit":
            check_export_dir(config)
            check_config_target(config)
            check_teacher_context(config)
        if logger_uses_wandb(config.get("trainer", {}).get("logger")):
            notice = offline_unless_usable()
            if notice:
                print(notice, file=sys.stderr)

    def instantiate_classes(self) -> None:
        """Build DataModule, model and Trainer; then refuse linked model keys given other values than the data's; then,
        for ``fit`` on global rank 0, take the locks of the run's output folders (:meth:`lock_outputs`)."""
        self.locks = contextlib.ExitStack()
        super().instantiate_classes()
        datamodule = getattr(self, "datamodule", None)
        if datamodule is not None:
            linked = {"data.vocab_size": datamodule.vocab_size, "data.tokenizer_path": datamodule.tokenizer_path}
            check_linked_keys(linked, self._given_links, "instantiate", self._model_class)
            if self._ckpt is not None:  # the vocabulary is known once the DataModule has read its token files
                check_ckpt_model(*self._ckpt, self.config, vocab_size=datamodule.vocab_size)
            if self.command == "fit" and hasattr(self.model, "teacher_entries"):
                check_run_budget(self.config_init["budget"], self.trainer, datamodule, self.model)
        if self.command == "fit" and self.trainer.global_rank == 0:
            self.lock_outputs()

    def lock_outputs(self) -> None:
        """Hold, until the run ends, the lock of each folder ``fit`` writes: ``checkpoint.dirpath`` (else
        ``trainer.default_root_dir``), ``word_checkpoints.dirpath`` and ``model.init_args.export_dir`` — one
        ``.<folder name>.lock`` beside each (:func:`babylm.models.export.export_lock`; inside, Lightning would find the
        new checkpoint folder not empty). A second ``fit`` (or ``export``) into any of them is refused in one line
        (:class:`RunConfigError`) before it writes anything.

        Global rank 0 only: under DDP the other ranks are processes of the same run (started by rank 0, or by the
        cluster beside it), and rank 0 is the one that writes checkpoints, exports and the saved config.
        """
        config = self.config
        folders = {os.path.abspath(config.get(key)): key for key in
                   ("word_checkpoints.dirpath", "checkpoint.dirpath", "model.init_args.export_dir") if config.get(key)}
        if not any(key != "model.init_args.export_dir" for key in folders.values()):
            folders[os.path.abspath(self.trainer.default_root_dir)] = "trainer.default_root_dir"
        try:
            for folder, key in folders.items():
                try:
                    self.locks.enter_context(export_lock(folder, key, "another fit or export is writing there"))
                except ExportError as error:
                    raise RunConfigError(str(error)) from None
        except BaseException:
            self.locks.close()
            raise

    def instantiate_trainer(self, **kwargs: Any):
        """Build the Trainer with the project's callbacks added to the configured ones, and W&B kept quiet.

        Added: :class:`GradNormLogger` (``train/grad_norm``) and :class:`LossCurve` (``loss_curve.png``; both act in
        ``fit`` only, and are there in ``validate``/``test`` so that a checkpoint's callback state finds its owner);
        and, unless a bar is configured, Lightning's ``TQDMProgressBar`` (its default with ``rich`` installed, the
        Rich bar, shows ``Epoch 0/-2`` when ``max_epochs`` is unset and ``max_steps`` ends the run).
        """
        trainer_config = self.config_init["trainer"]
        callbacks = trainer_config.get("callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        added = [GradNormLogger(), LossCurve()]
        if trainer_config.get("enable_progress_bar") is not False:
            added += [] if any(isinstance(c, ProgressBar) for c in callbacks) else [TQDMProgressBar()]
        added = [c for c in added if not any(type(c) is type(other) for other in callbacks)]
        if added:
            kwargs["callbacks"] = [*callbacks, *added]
        trainer = super().instantiate_trainer(**kwargs)
        quiet_wandb_loggers(trainer.loggers)
        return trainer

    def run_command(self) -> None:
        """Call ``trainer.<command>`` with the model, the DataModule and the method's own arguments (holding the
        output folders' locks for ``fit``, released at the end)."""
        method_kwargs = {key: self.config_init.get(key) for key in self.method_arguments}
        with self.locks:
            getattr(self.trainer, self.command)(self.model, datamodule=self.datamodule, **method_kwargs)


def given_link_targets(parser: LightningArgumentParser, args: Sequence[str]) -> dict[str, Any]:
    """``{link target: the value given for it}``, parsed with the links not applied (None where not given).

    jsonargparse has no public way to see a value a link replaces, so this uses its ``skip_apply_links``
    (``tests/commands/test_upstream_api.py`` fails with one line naming it when it changes).
    """
    from jsonargparse._link_arguments import skip_apply_links  # private: see the docstring

    with skip_apply_links():
        given = parser.parse_args(list(args))
    return {target: given.get(target) for _, target, _ in LINKS}


def _project_error(error: BaseException) -> BaseException | None:
    """The babylm input error (TokenizerError, EncodeError, …) behind ``error``, or None.

    jsonargparse wraps errors raised while instantiating the model or DataModule, so the cause chain is searched.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ValueError, OSError)) and type(error).__module__.startswith("babylm."):
            return error
        error = error.__cause__ or error.__context__
    return None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


_NOISE = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes:.*|Errors:|- Expected a <class 'NoneType'>|"
    r"Given value type:.*|Given value:.*|tip:.*)$"
)


def parse_error_line(message: str) -> str:
    """Condense a jsonargparse error (nested Union/sub-class reports) into one line that names the key."""
    parts = []
    for line in message.splitlines():
        line = (line.strip().removeprefix("- ").strip() if line.strip().startswith("- ") and "NoneType" not in line
                else line.strip())
        if line and not _NOISE.match(line):
            parts.append(line.rstrip(":"))
    return _one_line(": ".join(parts)) or _one_line(message)


def run(argv: Sequence[str]) -> int:
    """Run a training command (``argv[0]`` is fit, validate or test); returns the exit code."""
    if not BASE_CONFIG.is_file():
        print(f"babylm {argv[0]}: error: {BASE_CONFIG} not found: this babylm install lacks its configs; "
              "reinstall it (pip install …) or run from a checkout", file=sys.stderr)
        return 2
    argv, notices = resolve_config_args(argv)
    for notice in notices:
        print(f"babylm {argv[0]}: {notice}", file=sys.stderr)
    if any(a == "--print_config" or a.startswith("--print_config=") for a in argv[1:]):
        return print_commented_config(argv, capture_plain_config)
    return run_cli(argv)


def capture_plain_config(argv: list[str]) -> tuple[int, str, str, Any]:
    """Run the CLI's own ``--print_config``; returns (exit code, stdout, stderr, the command's parser)."""
    captured: dict[str, Any] = {}

    class CapturingCLI(BabyLMCLI):
        def parse_arguments(self, parser, args):
            captured["parser"] = parser
            super().parse_arguments(parser, args)

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(argv, cli_class=CapturingCLI)
    return code, out.getvalue(), err.getvalue(), captured.get("parser")


def _cli_class(command: str, base: type[BabyLMCLI] = BabyLMCLI) -> type[BabyLMCLI]:
    if command not in SUBCOMMANDS:
        raise ValueError(f"not a training command: {command!r} (one of {', '.join(SUBCOMMANDS)})")
    return type(base.__name__, (base,), {"command": command})


def _cli_kwargs(command: str) -> dict:
    """Keyword arguments of the project's LightningCLI for ``command`` (everything but ``args``)."""
    parser_kwargs = {
        "default_config_files": [str(BASE_CONFIG)],
        "exit_on_error": False,
        "allow_abbrev": False,  # `--trainer.max_epoch` must be an error, not a silent `--trainer.max_epochs`
        "prog": f"{PROG} {command}",
        "description": f"Trainer.{command} of a babylm model (LightningCLI).",
    }
    return dict(
        model_class=CausalLM,
        datamodule_class=TokenizedDataModule,
        subclass_mode_model=True,
        parser_kwargs=parser_kwargs,
        save_config_callback=SaveConfigBesideCheckpoints,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        run=False,
    )


class _ParserBuilt(Exception):
    def __init__(self, parser) -> None:
        super().__init__("parser built")
        self.parser = parser


class _ParserOnlyCLI(BabyLMCLI):
    def parse_arguments(self, parser, args) -> None:
        raise _ParserBuilt(parser)


def build_parser(command: str = "fit") -> LightningArgumentParser:
    """Return the parser of a training command (``fit``, ``validate``, ``test``) without parsing or running.

    ``build_parser().parse_args(["-c", path])`` checks a config's keys and types (``ArgumentError`` on a
    problem) without building the model or reading data.
    """
    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    try:
        _cli_class(command, _ParserOnlyCLI)(args=[], **_cli_kwargs(command))
    except _ParserBuilt as built:
        return built.parser
    raise RuntimeError("LightningCLI did not build a parser")  # pragma: no cover


def parse_fit_config(argv: Sequence[str], prog: str) -> Any:
    """The ``fit`` config that ``argv`` (options only, ``-c`` files resolved as ``fit`` does) describes.

    For commands that read a training config without training (``cache-teachers``): the same shipped-config
    fallback and one-line notices as ``fit``. Raises :class:`jsonargparse.ArgumentError` on a bad config.
    """
    argv, notices = resolve_config_args(list(argv))
    for notice in notices:
        print(f"babylm {prog}: {notice}", file=sys.stderr)
    return build_parser("fit").parse_args(argv)


def run_cli(argv: Sequence[str], cli_class: type[BabyLMCLI] = BabyLMCLI) -> int:
    """Build ``cli_class`` for the command ``argv[0]`` on the options ``argv[1:]`` and run it; returns the exit code
    (2 with one line for bad input)."""
    set_parsing_settings(docstring_parse_attribute_docstrings=True)  # ModelConfig field docs in --help
    command, options = argv[0], list(argv[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
        try:
            _cli_class(command, cli_class)(args=options, **_cli_kwargs(command)).run_command()
        except ArgumentError as error:
            print(f"babylm {command}: error: {parse_error_line(str(error))} (see python -m babylm {command} --help)",
                  file=sys.stderr)
            return 2
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
        except Exception as error:  # noqa: BLE001 - only our own input errors are shortened, the rest re-raised
            cause = _project_error(error)
            if cause is None:
                raise
            print(f"babylm {command}: error: {_one_line(str(cause))}", file=sys.stderr)
            return 2
    return 0
