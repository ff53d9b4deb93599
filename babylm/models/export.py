"""The exported Hugging Face directory: write it from a trained model, and load it for use.

**Writing.** Export a trained model as a Hugging Face directory: safetensors weights, config and tokenizer files.

Run: ``python -m babylm export --ckpt checkpoints/teacher_llama_360m/last.ckpt --out checkpoints/Llama-360M``
(``--help`` for the options). ``fit`` calls :func:`export_hf` itself at the end when ``model.export_dir`` is set.

Reads a Lightning ``.ckpt`` (with ``torch.load(weights_only=True)``: no pickle code runs) and the tokenizer
the model was trained with; writes ``<out>/model.safetensors``, ``config.json``, ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json`` and ``.babylm-export.json`` (the list of those files, which marks
the folder as an export of ours). The directory is assembled beside the target and renamed into place, so a
previous export is replaced whole or not at all; a target holding anything else (checkpoints, other runs, a
file added by hand) is refused with one line and left as it is (:mod:`babylm.core.outputs`). The result loads with
``AutoModelForCausalLM.from_pretrained(out)`` and ``AutoTokenizer.from_pretrained(out)``.

**Loading.** :func:`load_exported` reads such a directory (ours, or any Hugging Face causal LM saved locally)
for scoring and sampling, and :func:`load_hf_model` the model alone (distillation teachers): ``config.json``
+ safetensors weights and the tokenizer files; a folder whose configs carry an ``auto_map`` (custom code) or
that has only pickle weights is refused before anything is loaded (:mod:`babylm.core.hf_guard`); never runs remote
code; always fp32 weights. Evaluation (:mod:`babylm.evaluation`) and generation (:mod:`babylm.evaluation.generate`)
both load models through here and never through each other.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Optional

import torch

from babylm.core.atomic import usual_permissions
from babylm.core.hf_guard import UnsafeFolderError, refuse_remote_code, require_safetensors
from babylm.core.outputs import OutputError, check_replaceable, replace_folder, write_manifest
from babylm.core.safe_json import read_json
from babylm.data.tokens.tokenizer_files import (
    TokenizerError,
    add_mask_token,
    load_hf_tokenizer,
    load_tokenizer,
    save_hf_tokenizer,
)
from babylm.models.build import ModelConfig, build_model
from babylm.models.export_manifest import (  # noqa: F401 (ExportError, export_manifest: importable from here too)
    EXPORT_COMMAND,
    ExportError,
    check_folder_tokenizer,
    check_tokenizer_fingerprint,
    export_lock,
    export_manifest,
    manifest_extras,
)
from babylm.models.ledger import LEDGER_FILE, ledger_json
from babylm.models.weight_files import check_safetensors_headers


def check_export_target(out_dir: str | os.PathLike, option: str = "--out") -> None:
    """Raise :class:`ExportError` unless ``out_dir`` is absent, empty or a previous export (see
    :mod:`babylm.core.outputs`).

    ``option`` names the setting in the message (``--out``, ``model.init_args.export_dir``).
    """
    try:
        check_replaceable(Path(os.path.abspath(out_dir)), EXPORT_COMMAND, option)
    except OutputError as error:
        raise ExportError(str(error)) from error


def export_hf(
    model, tokenizer_path: Optional[str | os.PathLike], out_dir: str | os.PathLike, option: str = "--out",
    ledger: Optional[dict] = None, expected_fingerprint: Optional[str] = None, trained_by: str = "the model",
) -> Path:
    """Write ``model`` (a transformers ``PreTrainedModel``) and its tokenizer as an HF directory.

    Takes the model, the tokenizer it was trained with (a ``tokenizers`` JSON file or an HF tokenizer
    directory), the output directory, the name of the setting that gave it (for messages) and the run's word
    ledger (:mod:`babylm.models.ledger`, written as ``word_ledger.json``; None writes none); returns the
    output path. The tokenizer's ``model_max_length`` is the model's context length; a model whose config has a
    ``mask_token_id`` (the hybrid objective) gets ``<mask>`` added to the tokenizer at that id.
    ``expected_fingerprint`` is the fingerprint of the tokenizer the weights were trained with (``trained_by`` names
    them in messages). Raises :class:`ExportError` when no tokenizer is given, it cannot be read or is not the
    expected one, when ``out_dir`` holds anything but a previous export (:func:`check_export_target`): nothing else
    is ever replaced, or when another process is writing it (:func:`export_lock`). The manifest
    ``.babylm-export.json`` lists the files with their sha256 and the tokenizer's fingerprint.
    """

    if tokenizer_path is None:
        raise ExportError("export: no tokenizer given (model.tokenizer_path is unset); pass --tokenizer PATH")
    target = Path(os.path.abspath(out_dir))
    check_export_target(target, option)
    try:
        if Path(tokenizer_path).is_dir():
            refuse_remote_code(tokenizer_path)
        tokenizer = load_hf_tokenizer(tokenizer_path)
        if getattr(model.config, "mask_token_id", None) is not None:  # a hybrid model: <mask> after the last id
            add_mask_token(tokenizer, model.config.mask_token_id)
    except (TokenizerError, UnsafeFolderError) as error:
        raise ExportError(f"export: {error}") from error
    config = model.config
    tokenizer.model_max_length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions")
    if len(tokenizer) != config.vocab_size:
        raise ExportError(
            f"export: tokenizer {tokenizer_path} has {len(tokenizer)} tokens but the model's vocabulary has "
            f"{config.vocab_size}; pass the tokenizer the model was trained with (--tokenizer)"
        )
    # same size, other words
    fingerprint = check_tokenizer_fingerprint(tokenizer_path, expected_fingerprint, trained_by)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with export_lock(target, option):
            model.save_pretrained(str(staged))
            save_hf_tokenizer(tokenizer, staged)  # tokenizer_class readable by transformers 4.x and 5.x
            if ledger is not None:
                (staged / LEDGER_FILE).write_text(ledger_json(ledger), encoding="utf-8")
            write_manifest(staged, EXPORT_COMMAND, sorted(e.name for e in staged.iterdir()),
                           manifest_extras(staged, fingerprint))
            usual_permissions(staged)  # safetensors writes model.safetensors as 0600
            replace_folder(staged, target, EXPORT_COMMAND, option)
    except OutputError as error:
        raise ExportError(str(error)) from error
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # only our own staging folder, gone once renamed into place
    return target


def load_checkpoint(ckpt_path: str | os.PathLike, mmap: bool = False) -> dict:
    """Read a Lightning checkpoint safely (``weights_only=True``, onto the CPU); returns the checkpoint dict.

    With ``mmap`` the tensors are memory-mapped, not read (a cheap check that the file is whole and safe).
    Raises :class:`ExportError` naming the file when it is missing, empty, truncated, not a checkpoint, or
    holds pickled code.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise ExportError(f"{path}: empty file, not a checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # unpickling errors have many types; all mean "not a safe checkpoint"
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(
            f"{path}: not a readable checkpoint ({type(error).__name__}{': ' + message[:160] if message else ''}); "
            "it may be truncated or not a Lightning checkpoint"
        ) from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ExportError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, source: str = "checkpoint"):
    """Rebuild the HF model of a CausalLM (or subclass) checkpoint from its hyper-parameters and weights.

    Takes the checkpoint dict (see :func:`load_checkpoint`) and a name for messages; returns the HF model in
    eval mode. Only the ``model.*`` weights are used (a student's frozen teachers are never in them).
    """
    hparams = checkpoint.get("hyper_parameters") or {}
    if "config" not in hparams or "vocab_size" not in hparams:
        raise ExportError(f"{source}: no model config/vocab_size in its hyper-parameters; "
                          "not a babylm CausalLM checkpoint")
    config = hparams["config"]
    config = config if isinstance(config, ModelConfig) else ModelConfig(**config)
    model = build_model(config, int(hparams["vocab_size"]), mask_token=hparams.get("objective") == "hybrid")
    weights = {k[len("model."):]: v for k, v in checkpoint.get("state_dict", {}).items() if k.startswith("model.")}
    if not weights:
        raise ExportError(f"{source}: the checkpoint holds no model.* weights")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    # tied output weights may be stored once; anything else missing means the config does not match
    tied = getattr(model, "_tied_weights_keys", None) or ()
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ExportError(f"{source}: weights do not match the saved config (missing {missing[:3]}, "
                          f"unexpected {unexpected[:3]})")
    model.tie_weights()
    return model.eval()


def export_checkpoint(
    ckpt_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    tokenizer_path: Optional[str | os.PathLike] = None,
    option: str = "--out",
) -> Path:
    """Export a Lightning ``.ckpt`` as an HF directory; returns the output path.

    Takes the checkpoint, the output directory, optionally the tokenizer (default: the ``tokenizer_path``
    saved in the checkpoint's hyper-parameters, relative to the working directory) and the name of the
    setting that gave the output directory (for messages). The target is checked first (:func:`export_hf`), then the
    tokenizer against the fingerprint the checkpoint records (a tokenizer of the same size trained on other text
    would pair the weights with other words): :class:`ExportError` naming both.
    """
    check_export_target(out_dir, option)  # before reading a large checkpoint
    checkpoint = load_checkpoint(ckpt_path)
    model = model_from_checkpoint(checkpoint, str(ckpt_path))
    tokenizer = tokenizer_path or checkpoint.get("hyper_parameters", {}).get("tokenizer_path")
    ledger = checkpoint.get("word_ledger")  # None for checkpoints written before babylm kept one
    return export_hf(model, tokenizer, out_dir, option, ledger if isinstance(ledger, dict) else None,
                     checkpoint_tokenizer(checkpoint), f"checkpoint {ckpt_path}")


def checkpoint_tokenizer(checkpoint: dict) -> Optional[str]:
    """The fingerprint of the tokenizer a checkpoint's weights were trained with (``checkpoint["tokenizer"]``, written
    by :class:`babylm.training.causal_lm.CausalLM`), or None for a checkpoint that does not record it."""
    record = checkpoint.get("tokenizer")
    fingerprint = record.get("fingerprint") if isinstance(record, dict) else None
    return fingerprint if isinstance(fingerprint, str) else None


# ------------------------------------------------------------------------------------- loading for use
def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a ``torch.device``; ``auto`` prefers CUDA.

    Raises :class:`ExportError` (one line) for a name that is not a device, another kind of device, CUDA where
    there is none, or a GPU number this machine does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ExportError(f"--device {name!r} is not a device name; use auto, cpu or cuda") from error
    if device.type not in ("cpu", "cuda") and not (device.type == "mps" and torch.backends.mps.is_available()):
        raise ExportError(f"--device {name!r}: not a device this machine runs models on; use auto, cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ExportError(f"--device {name}: CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ExportError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s), numbered from 0")
    return device


def check_model_folder(model_dir: str | os.PathLike, what: str = "") -> Path:
    """Refuse, before the weights are loaded, a folder that is no usable model or would run code; returns its Path.

    Raises :class:`ExportError` (one line naming the file and what to do; ``what`` — ``teacher``… — prefixes
    it) when there is no ``config.json``, when it is not JSON or lacks ``model_type``/``vocab_size``, when
    ``config.json``/``tokenizer_config.json`` has an ``auto_map`` (custom code), when there are no safetensors
    weights (pickle ``.bin`` only; see :mod:`babylm.core.hf_guard`), when a safetensors file's header is unreadable
    (truncated, not safetensors), or when ``tokenizer.json`` is unreadable or has ids beyond ``vocab_size``
    (they would index past the embedding: ``IndexError`` in scoring, silent garbage in sampling), or is not the
    tokenizer the weights were trained with (an export of ours records its fingerprint).
    """
    return _checked_folder(model_dir, what)[0]


def _checked_folder(model_dir: str | os.PathLike, what: str = "") -> tuple[Path, int]:
    """:func:`check_model_folder`, also returning ``config.json``'s ``vocab_size``."""

    path = Path(model_dir)
    prefix = f"{what}: " if what else ""
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ExportError(
            f"{prefix}{path}: no config.json, so not an exported model directory; "
            "export a checkpoint first (python -m babylm export --help)"
        )
    try:
        refuse_remote_code(path)  # also: config.json / tokenizer_config.json are JSON objects
        require_safetensors(path)
    except UnsafeFolderError as error:
        raise ExportError(f"{prefix}{error}") from error
    config = read_json(config_path)
    for key in ("model_type", "vocab_size"):
        if key not in config:
            raise ExportError(f"{prefix}{config_path}: no {key!r}, so not a complete model config; re-export the model")
    vocab_size = config["vocab_size"]
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 1:
        raise ExportError(f"{prefix}{config_path}: vocab_size {vocab_size!r} is not a positive integer; "
                          "re-export the model")
    check_safetensors_headers(path, prefix)
    _check_tokenizer_fits(path, vocab_size, prefix)
    check_folder_tokenizer(path, prefix)  # the tokenizer.json the weights were trained with (our exports record it)
    return path, vocab_size


def _check_tokenizer_fits(path: Path, vocab_size: int, prefix: str) -> None:
    """Raise :class:`ExportError` when ``path/tokenizer.json`` cannot be read or has an id ≥ ``vocab_size``."""

    file = path / "tokenizer.json"
    if not file.is_file():
        return  # some HF models keep only vocab files; load_exported checks the loaded tokenizer's size
    try:
        tokenizer = load_tokenizer(file)
    except TokenizerError as error:
        raise ExportError(f"{prefix}{error}; re-export the model") from None
    _refuse_oversized_tokenizer(file, max(tokenizer.get_vocab(with_added_tokens=True).values(), default=-1) + 1,
                                vocab_size, prefix)


def _refuse_oversized_tokenizer(source: Path, size: int, vocab_size: int, prefix: str = "") -> None:
    if size > vocab_size:
        raise ExportError(
            f"{prefix}{source}: the tokenizer has {size} tokens but config.json's vocab_size is {vocab_size}, so ids "
            f"from {vocab_size} on have no embedding; put the tokenizer the model was trained with beside it "
            "(re-export the model)"
        )


def load_hf_model(model_dir: str | os.PathLike, what: str = "model"):
    """Load the causal LM saved in ``model_dir`` in fp32, refusing what could run code; returns the model.

    ``what`` names the folder's role in messages (``model``, ``teacher``). Raises :class:`ExportError`
    (one line) for a folder :func:`check_model_folder` refuses, one transformers cannot build a model
    from, or one whose weights do not match ``config.json`` (a tensor missing or of another shape:
    transformers would silently initialise it at random). Always ``trust_remote_code=False`` and
    safetensors only.
    """
    return _load_checked_model(check_model_folder(model_dir, what), what)


def _load_checked_model(path: Path, what: str):
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its multi-line load report; the mismatches are reported below in one line
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=torch.float32, trust_remote_code=False, use_safetensors=True,
            output_loading_info=True, ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"{what} {path}: cannot load the model ({message[:200]}); re-export the model") from error
    finally:
        hf_logging.set_verbosity(verbosity)
    problems = [f"{key} has shape {list(saved)} but config.json asks {list(wanted)}"
                for key, saved, wanted in info.get("mismatched_keys") or ()]
    problems += [f"{key} is missing" for key in sorted(info.get("missing_keys") or ())]
    if problems:
        more = f" and {len(problems) - 2} more" if len(problems) > 2 else ""
        raise ExportError(
            f"{what} {path}: the safetensors weights do not match config.json ({'; '.join(problems[:2])}{more}); "
            "re-export the model"
        )
    return model


def load_exported(model_dir: str | os.PathLike, device: str | torch.device = "cpu"):
    """Load the causal LM and tokenizer saved in ``model_dir``; returns ``(model, tokenizer)``.

    The model is fp32, in eval mode, on ``device``; the tokenizer is a transformers tokenizer. Raises
    :class:`ExportError` when the directory holds no model or no tokenizer, would run code, has damaged
    files, or a tokenizer larger than the model's vocabulary (:func:`check_model_folder`, before the
    tokenizer or the model is loaded), or weights that do not match its config (:func:`load_hf_model`).
    """

    path, vocab_size = _checked_folder(model_dir)
    try:
        tokenizer = load_hf_tokenizer(path)
    except (TokenizerError, OSError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(error, TokenizerError):
            message = f"{path}: cannot load the tokenizer ({message})"
        raise ExportError(f"{message}; re-export the model") from error
    _refuse_oversized_tokenizer(path, len(tokenizer), vocab_size)
    model = _load_checked_model(path, "model")
    model.to(torch.device(device) if isinstance(device, str) else device)
    model.eval()
    return model, tokenizer


def prefix_token_id(tokenizer) -> int:
    """Return the id scored sentences start after: the tokenizer's bos, else its eos (GPT-2 style models)."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ExportError(
        "the tokenizer defines neither a bos nor an eos token, so there is no start-of-text token to score after"
    )


def max_positions(model) -> int | None:
    """Return the longest sequence ``model`` accepts (``max_position_embeddings``/``n_positions``), or None."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
