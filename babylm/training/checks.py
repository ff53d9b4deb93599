"""Start-up checks of a training run's settings, so a run that cannot end well stops before it starts.

Used by :mod:`babylm.commands.fit` (``python -m babylm fit|validate|test``) before anything is built; nothing
to run on its own. Reads the parsed config and, for ``ckpt_path``, the checkpoint file (memory-mapped,
``weights_only``); writes nothing. Each check raises :class:`RunConfigError` with one line naming the key
and what to do (the CLI prints it and exits 2):

* a model key linked from the DataModule (``max_position_embeddings`` ← ``data.seq_len``, ``vocab_size`` ←
  ``data.vocab_size``, ``tokenizer_path`` ← ``data.tokenizer_path``) given another value than its source:
  the link would silently replace it;
* a ``ckpt_path`` that is missing, empty, truncated, not a checkpoint, or holds pickled code; and one (or the
  ``last`` checkpoint of ``checkpoint.dirpath``) that holds another model than the config builds (class,
  architecture, sizes, vocabulary), or was trained with another tokenizer than ``data.tokenizer_path`` (the
  fingerprint every checkpoint records; resume, validate and test alike);
* optimizer and schedule settings that cannot train (a NaN or negative learning rate, betas outside [0, 1)…);
* for ``fit``, a ``model.init_args.export_dir`` that is or contains the checkpoint folder (the export at the
  end replaces its folder whole), or that already holds anything but a previous export; and a
  ``config.yaml`` in the checkpoint folder that a run did not write (the run saves its resolved config there);
* any number no setting can use: a float that is not finite, an integer beyond 64 bits, a seed outside
  0 … 2³²−1 (:func:`check_numbers`);
* for ``fit``, a distillation teacher with fewer positions than ``data.seq_len``: its logits past its context
  would come from rotary positions it never trained (LLaMA) or stop the run with an ``IndexError`` (GPT-J, GPT-2:
  their position tables end there).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from babylm.data.tokens.tokenizer_files import TokenizerError, tokenizer_fingerprint
from babylm.models.build import ModelConfig, model_differences
from babylm.models.export import ExportError, check_export_target, checkpoint_tokenizer, load_checkpoint
from babylm.training.teachers import TeacherError
from babylm.training.teachers import check_teacher_context as teacher_context


class RunConfigError(ValueError):
    """A training setting that cannot work, found at start-up (one-line message naming the key)."""


class TrainingConfigError(ValueError):
    """A model or optimisation setting is invalid (the message names the setting)."""


# (source in the DataModule, target in the model, when jsonargparse applies it)
LINKS = (
    ("data.seq_len", "model.init_args.config.max_position_embeddings", "parse"),
    ("data.vocab_size", "model.init_args.vocab_size", "instantiate"),
    ("data.tokenizer_path", "model.init_args.tokenizer_path", "instantiate"),
)


def _class_default(model_class: str | None, target: str) -> Any:
    """The value a linked ``target`` has when nobody sets it: the model class's (or ModelConfig's) default."""
    import dataclasses
    import importlib
    import inspect

    name = target.rsplit(".", 1)[-1]
    if target.startswith("model.init_args.config."):
        return next(f.default for f in dataclasses.fields(ModelConfig) if f.name == name)
    module, _, class_name = (model_class or "babylm.training.causal_lm.CausalLM").rpartition(".")
    for cls in inspect.getmro(getattr(importlib.import_module(module), class_name)):
        parameter = inspect.signature(cls.__init__).parameters.get(name)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (str, Path)) and isinstance(b, (str, Path)):
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    return a == b


def check_linked_keys(sources: Mapping[str, Any], given: Mapping[str, Any], stage: str,
                      model_class: str | None) -> None:
    """Raise :class:`RunConfigError` when a linked model key was given a value other than its data source's.

    ``sources`` maps source keys (``data.seq_len``…) to their values; ``given`` holds each target as parsed
    before the links applied; ``stage`` picks the links checked (``parse`` or ``instantiate``);
    ``model_class`` is the model's class path (its defaults). A value equal to the class default cannot be
    told from "not given" and is let through (the link sets it anyway).
    """
    for source, target, apply_on in LINKS:
        value = given.get(target)
        if apply_on != stage or value is None or value == _class_default(model_class, target):
            continue
        linked = sources.get(source)
        if linked is not None and not _same(value, linked):
            raise RunConfigError(
                f"{target} is {value}, but it is set from {source} ({linked}) and cannot be set on its own; "
                f"set --{source} instead and remove {target} from the command line/config"
            )


def check_ckpt_path(ckpt_path: Any) -> tuple[dict, str | None] | None:
    """Raise :class:`RunConfigError` unless ``ckpt_path`` is unset, a Lightning keyword, or a whole, safe checkpoint.

    The file is opened with :func:`babylm.models.export.load_checkpoint` (``weights_only``, memory-mapped), the same
    check ``export`` makes, so a missing, empty, truncated or foreign file is one line instead of a traceback.
    Returns the checkpoint's ``hyper_parameters`` and the fingerprint of the tokenizer it was trained with (None
    when it does not record one), or None for unset or a keyword.
    """
    if ckpt_path is None or str(ckpt_path) in ("last", "best", "hpc") or str(ckpt_path).startswith("registry"):
        return None

    try:
        checkpoint = load_checkpoint(ckpt_path, mmap=True)
    except ExportError as error:
        raise RunConfigError(f"--ckpt_path {error}") from error
    hparams = checkpoint.get("hyper_parameters")
    return (dict(hparams) if isinstance(hparams, dict) else {}), checkpoint_tokenizer(checkpoint)


def check_ckpt_tokenizer(ckpt_path: Any, trained_with: str | None, tokenizer_path: Any,
                         key: str = "data.tokenizer_path", source: str = "--ckpt_path ") -> None:
    """Raise :class:`RunConfigError` naming both when the checkpoint was trained with another tokenizer than the
    run's ``data.tokenizer_path`` (a tokenizer of the same size trained on other text: every id means another word).

    ``trained_with`` is the fingerprint the checkpoint records (None: not recorded, nothing checked); a tokenizer
    that cannot be read is left to the DataModule's own one-line error. ``key`` and ``source`` word the message.
    """
    if trained_with is None or tokenizer_path is None:
        return
    try:
        now = tokenizer_fingerprint(tokenizer_path)
    except TokenizerError:
        return
    if now != trained_with:
        raise RunConfigError(
            f"{source}{ckpt_path} was trained with tokenizer {trained_with}, but {key} {tokenizer_path} is tokenizer "
            f"{now}; resume with the tokenizer it was trained with (and the data encoded with it), or start a new run"
        )


def last_checkpoint(dirpath: Any) -> Path | None:
    """The checkpoint ``--ckpt_path last`` resumes from: the newest ``last*.ckpt`` in ``dirpath`` (as Lightning's
    ``ModelCheckpoint`` finds it), or None when there is none."""
    folder = Path(dirpath) if dirpath else None
    if folder is None or not folder.is_dir():
        return None
    candidates = [p for p in folder.iterdir()
                  if p.suffix == ".ckpt" and re.match(r"^last(-\d+)?$", p.stem) and p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime_ns) if candidates else None


def check_ckpt_model(ckpt_path: Any, hparams: Mapping[str, Any], config, vocab_size: int | None = None) -> None:
    """Raise :class:`RunConfigError` when the checkpoint holds another model than the run's config builds.

    ``hparams`` are the checkpoint's hyper-parameters (:func:`check_ckpt_path`), ``config`` the parsed run
    config (``model.class_path``, ``model.init_args.config``); ``vocab_size`` (the DataModule's) is compared
    when given. What is compared: :func:`babylm.models.build.model_differences` (class, architecture, sizes,
    vocabulary, objective). Lightning would otherwise merge the checkpoint's hyper-parameters over the config and
    train the checkpoint's model, export included, whatever the config says.
    """

    run_config = config.get("model.init_args.config")
    run_config = run_config.as_dict() if hasattr(run_config, "as_dict") else dict(run_config or {})
    differences = model_differences(hparams, run_config, vocab_size, config.get("model.class_path"),
                                    config.get("model.init_args.objective") or "causal")
    if differences:
        raise RunConfigError(
            f"--ckpt_path {ckpt_path} holds another model than this run's config ({'; '.join(differences)}; "
            "checkpoint ≠ config): give this model's checkpoint, or the config that checkpoint was trained with "
            "(config.yaml beside it)"
        )


def check_export_dir(config) -> None:
    """Raise :class:`RunConfigError` when ``model.init_args.export_dir`` could destroy anything at the end of fit.

    Refused: an export folder that is, or contains, the checkpoint folder (``checkpoint.dirpath``,
    ``word_checkpoints.dirpath``) or ``trainer.default_root_dir`` — the export replaces its folder whole —,
    and one that already holds anything but a previous export (:func:`babylm.models.export.check_export_target`).
    An export folder *inside* the checkpoint folder is fine.
    """

    export_dir = config.get("model.init_args.export_dir")
    if not export_dir:
        return
    export = Path(os.path.abspath(export_dir))
    for key in ("checkpoint.dirpath", "word_checkpoints.dirpath", "trainer.default_root_dir"):
        other = config.get(key)
        if not other:
            continue
        folder = Path(os.path.abspath(other))
        if folder == export or export in folder.parents:
            relation = "is" if folder == export else "contains"
            raise RunConfigError(
                f"model.init_args.export_dir {export_dir} {relation} {key} {other}; the export replaces its folder "
                "whole at the end of fit: give it a folder of its own, e.g. checkpoints/<Model-Name>"
            )
    try:
        check_export_target(export, "model.init_args.export_dir")
    except ExportError as error:
        raise RunConfigError(str(error)) from error


CONFIG_HEADER = "# lightning.pytorch=="  # the first line of every config.yaml a run saves (LightningCLI's dump)


def check_config_target(config, filename: str = "config.yaml") -> None:
    """Raise :class:`RunConfigError` when the run's ``config.yaml`` would overwrite a file no run wrote.

    The resolved config is saved as ``<checkpoint.dirpath>/config.yaml`` (else under
    ``trainer.default_root_dir``); an existing file there is replaced only when it is a saved config of an
    earlier run (its first line is LightningCLI's ``# lightning.pytorch==<version>``), e.g. on resume.
    """
    folder = config.get("checkpoint.dirpath") or config.get("trainer.default_root_dir") or "."
    path = Path(folder) / filename
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise RunConfigError(f"checkpoint.dirpath {folder}: {path} is not a plain file; "
                             "choose another checkpoint.dirpath")
    if not path.is_file():
        return
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError as error:
        raise RunConfigError(f"{path}: cannot be read ({error}); choose another checkpoint.dirpath") from error
    if not first.startswith(CONFIG_HEADER):
        raise RunConfigError(
            f"checkpoint.dirpath {folder} holds a {filename} that no training run saved; the run would overwrite it "
            "with its resolved config: choose another checkpoint.dirpath, or move the file"
        )


def check_teacher_context(config) -> None:
    """Raise :class:`RunConfigError` when a teacher in ``model.init_args.teachers`` has fewer positions than
    ``data.seq_len`` (:func:`babylm.training.teachers.check_teacher_context`; a missing teacher is reported by the
    teachers' own check)."""
    teachers = config.get("model.init_args.teachers") or []
    for teacher in teachers if isinstance(teachers, (list, tuple)) else [teachers]:
        try:
            teacher_context(teacher, config.get("data.seq_len"))
        except TeacherError as error:
            raise RunConfigError(str(error)) from error


def check_optimizer_settings(learning_rate: float, weight_decay: float, betas: Sequence[float], eps: float,
                             warmup_steps: int, schedule_steps: Optional[int], min_lr_ratio: float) -> None:
    """Raise :class:`TrainingConfigError` naming the first optimizer or schedule setting that cannot train.

    A NaN or infinite learning rate (or decay, beta, eps) makes every weight NaN at the first step, and
    ``torch.optim.AdamW`` refuses some of them only when the optimizer is built, after the run has started.
    """
    checks = [
        ("learning_rate", learning_rate, learning_rate > 0, "a finite number > 0"),
        ("weight_decay", weight_decay, weight_decay >= 0, "a finite number ≥ 0"),
        ("eps", eps, eps > 0, "a finite number > 0"),
        ("min_lr_ratio", min_lr_ratio, 0 <= min_lr_ratio <= 1, "in [0, 1]"),
        *((f"betas[{i}]", beta, 0 <= beta < 1, "in [0, 1)") for i, beta in enumerate(betas)),
    ]
    for name, value, ok, what in checks:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
            raise TrainingConfigError(f"model.init_args.{name} must be {what}, got {value}")
    if len(betas) != 2:
        raise TrainingConfigError(f"model.init_args.betas must be two numbers (beta1, beta2), got {list(betas)}")
    if warmup_steps < 0 or (schedule_steps is not None and schedule_steps < 1):
        raise TrainingConfigError(f"model.init_args.warmup_steps must be ≥ 0 and schedule_steps ≥ 1 (or null), got "
                                  f"{warmup_steps} and {schedule_steps}")


INT64_MAX = 2**63 - 1
SEED_MAX = 2**32 - 1


def _numbers(value: Any, key: str):
    """(key, number) for every int or float leaf of a parsed config (dicts and lists walked)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _numbers(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{key}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


def check_numbers(config) -> None:
    """Refuse a number no setting can use, before anything is built: a float that is not finite (``nan``, ``inf``:
    a learning rate of NaN trains nothing, silently), an integer beyond 64 bits (torch and numpy overflow), a seed
    outside 0 … 2³²−1 (``seed_everything`` and numpy take no other: ``--seed_everything 99999999999999999999999``
    was a traceback). Raises :class:`RunConfigError` naming the key."""
    as_dict = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    for key, value in _numbers(as_dict, ""):
        shown = str(value) if len(str(value)) <= 24 else str(value)[:20] + "…"
        if isinstance(value, float) and not math.isfinite(value):
            raise RunConfigError(f"{key} is {shown}: give a finite number")
        if key.rsplit(".", 1)[-1] in ("seed", "seed_everything") and not 0 <= value <= SEED_MAX:
            raise RunConfigError(f"{key} is {shown}: a seed must be an integer from 0 to {SEED_MAX}")
        if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise RunConfigError(f"{key} is {shown}: more than a 64-bit integer holds; give a smaller number")
