"""Recipe presets: ``configs/recipes/<name>.yaml``, read and checked before any stage of ``recipe`` runs.

Used by :mod:`babylm.commands.recipe`; nothing to run on its own. A preset names the data (``prepare``'s source,
its files and split options), the tokenizer's vocabulary, the training configs of the teachers and the student
(``configs/…`` files plus key overrides, as ``fit`` reads them), the BabyLM track and the BLiMP set. Adding a
preset is adding a YAML file (and its model configs); ``python -m babylm recipe --help`` lists the shipped ones.

The file is validated by jsonargparse against :class:`RecipePreset` (unknown keys, wrong types and missing fields
are refused); every error is one line naming the file and the field. Relative paths in a preset (configs, data
files, the BLiMP folder) are read as ``fit -c`` reads a config: from the current directory when they are there,
else — for ``configs/…`` — from the configs shipped with the package (:mod:`babylm.commands.shipped_configs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from jsonargparse import ArgumentError, ArgumentParser

from babylm.commands.shipped_configs import configs_dir, resolve_config_args
from babylm.data.pipeline import SOURCES
from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR
from babylm.models.tracks import TRACK_WORD_CAPS

RECIPES = "recipes"  # presets live in configs/recipes/
FILE_SOURCES = {"gutenberg": "--gutenberg-file", "wikitext": "--wikitext-pages"}  # sources read from files
TRACKS = tuple(TRACK_WORD_CAPS)  # strict-small, strict


class PresetError(ValueError):
    """A preset that cannot be used: missing, malformed, or naming something that is not there (one line)."""


@dataclass
class DataPreset:
    """The corpus: what ``python -m babylm prepare`` gets.

    Args:
        source: ``prepare --source``: sample (bundled, offline), wikisource, gutenberg or wikitext.
        files: The inputs of a file source: Gutenberg slices (``--gutenberg-file``) or page wikitext
            (``--wikitext-pages``), files or folders; empty = the user passes them to ``recipe`` (data that lives on
            their machine, not in the project).
        train_words: ``--train-words``: the train split's word budget (null: prepare's default).
        val_words: ``--val-words``: the val split's word budget (null: prepare's default), or ``rest``: every
            article the train budget does not take (BabyLM strict-small: ``train_words: 10000000``).
        val_fraction: ``--val-fraction``: use every word, this share in val (small corpora).
        options: Further ``prepare`` options, as on its command line (``[--contact, you@example.org]``).
    """

    source: Literal[SOURCES] = "sample"
    files: list[str] = field(default_factory=list)
    train_words: Optional[int] = None
    val_words: Optional[Union[int, Literal["rest"]]] = None
    val_fraction: Optional[float] = None
    options: list[str] = field(default_factory=list)


@dataclass
class TokenizerPreset:
    """The byte-level BPE tokenizer.

    Args:
        vocab_size: Vocabulary size, 3 specials and 256 bytes included (``tokenizer --vocab-size``).
    """

    vocab_size: int = 16_000


@dataclass
class ModelPreset:
    """One training run: a ``fit`` config and keys that override it.

    Args:
        config: The training config (``fit -c``), e.g. ``configs/tiny/teacher_llama.yaml``.
        overrides: ``{dotted fit key: value}``, given to ``fit`` after the config (``trainer.max_steps: 60``).
    """

    config: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluationPreset:
    """How every model is scored (and the milestone BLiMP curve during training).

    Args:
        blimp_dir: Folder of BLiMP ``.jsonl`` files; null = the bundled 144 pairs (babylm/resources/blimp_sample).
        blimp_limit: Pairs per paradigm scored (the first ones); null = all.
        curve_limit: Pairs per paradigm scored at each word milestone during training (the learning curve); null =
            ``blimp_limit``. Fewer than the final scoring keeps the curve cheap on a large BLiMP set.
        perplexity_max_tokens: Validation perplexity over only the first N tokens; null = the whole val split.
        prompt: The prompt of the sample generated from the student at the end.
    """

    blimp_dir: Optional[str] = None
    blimp_limit: Optional[int] = 100
    curve_limit: Optional[int] = None
    perplexity_max_tokens: Optional[int] = None
    prompt: str = "The river"


@dataclass
class RecipePreset:
    """A whole recipe: data → tokenizer → teachers → student, scored and compared.

    Args:
        description: One line shown by ``recipe --help`` and on the results page.
        data: The corpus (``prepare``).
        tokenizer: The tokenizer.
        teachers: The teachers' training runs, in order (the student's ``model.init_args.teachers`` are their
            ``export_dir``s).
        student: The distilled student's training run.
        track: BabyLM track whose word budget the page checks the recipe against (and ``fit --budget.track``).
        evaluation: BLiMP, perplexity and the generated sample.
    """

    description: str
    data: DataPreset
    tokenizer: TokenizerPreset
    teachers: list[ModelPreset]
    student: ModelPreset
    track: Literal[TRACKS] = "strict-small"
    evaluation: EvaluationPreset = field(default_factory=EvaluationPreset)


def presets_dir() -> Path | None:
    """The folder of the shipped presets (``configs/recipes``), or None when the install has no configs."""
    folder = configs_dir()
    return folder / RECIPES if folder is not None else None


def available_presets() -> list[str]:
    """Names of the shipped presets (file stems of ``configs/recipes/*.yaml``), sorted."""
    folder = presets_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder is not None and folder.is_dir() else []


def preset_summaries() -> list[str]:
    """``name: description`` of each shipped preset (for ``--help``; a preset that cannot be read shows its name)."""
    summaries = []
    for name in available_presets():
        try:
            description = yaml.safe_load((presets_dir() / f"{name}.yaml").read_text(encoding="utf-8"))["description"]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError):
            description = None
        summaries.append(f"{name}: {description}" if isinstance(description, str) else name)
    return summaries


def resolve_path(value: str) -> Path:
    """An absolute path for ``value`` as ``fit -c`` reads it: under the current directory when there, else the
    shipped copy of a ``configs/…`` path, else ``value`` as given (then missing)."""
    if not Path(value).exists():
        value = resolve_config_args(["-c", value])[0][1]  # the shipped copy, or value unchanged
    return Path(value).resolve()


def preset_file(name: str) -> Path:
    """The preset file ``name`` means: a path (ends in ``.yaml``/``.yml`` or holds a ``/``), or a shipped preset's
    name. Raises :class:`PresetError` naming the choices when there is none."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name).resolve()
        if not path.is_file():
            raise PresetError(f"preset file {name} not found")
        return path
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise PresetError(f"preset {name!r} is not a preset name; give a name or a .yaml file")
    path = resolve_path(f"configs/{RECIPES}/{name}.yaml")
    if not path.is_file():
        raise PresetError(f"no preset {name!r}: choose one of {', '.join(available_presets()) or '(none shipped)'}, "
                          f"or give a preset .yaml file")
    return path


def _parser() -> ArgumentParser:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(RecipePreset)
    return parser


def _error_line(message: str) -> str:
    """Condense a jsonargparse error into one line: ``field: what is wrong``."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = " ".join(lines)
    text = re.sub(r'^Parser key "([^"]+)":\s*', r"\1: ", text)
    text = re.sub(r"Problem with given class_path '[^']*':\s*", "", text)
    text = re.sub(r"(?:Group '[^']*' does not accept option|Option) '([^']+)'(?: is not accepted)?",
                  r"'\1' is not a field of a preset (docs/recipe.md)", text)
    text = text.replace("the following arguments are required:", "missing field(s):")
    return re.sub(r"\s+", " ", text).strip()


def load_preset(path: Path) -> RecipePreset:
    """Read and check the preset file ``path``; returns it with every path made absolute.

    Raises :class:`PresetError` (one line, naming ``path`` and the field) for bad YAML, unknown or missing fields,
    wrong types, a file source without files (or files without a file source), a missing config, data file or
    BLiMP folder, or no teachers.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise PresetError(f"{path}: cannot read ({error})") from error
    except yaml.YAMLError as error:
        raise PresetError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from error
    if not isinstance(raw, dict):
        raise PresetError(f"{path}: a preset is a YAML mapping (description, data, tokenizer, teachers, student …)")
    parser = _parser()
    try:
        preset = parser.instantiate(parser.parse_object(raw))
    except ArgumentError as error:
        raise PresetError(f"{path}: {_error_line(str(error))}") from error
    preset = RecipePreset(**{k: v for k, v in vars(preset).items() if k in RecipePreset.__dataclass_fields__})
    check_preset(preset, path)
    return preset


def check_preset(preset: RecipePreset, path: Path) -> None:
    """Refuse (:class:`PresetError`, one line) what the types cannot: counts, sources and files, missing paths.
    Makes every path of ``preset`` absolute."""

    def fail(where: str, what: str) -> None:
        raise PresetError(f"{path}: {where}: {what}")

    if not preset.teachers:
        fail("teachers", "at least one teacher is needed for a distilled student")
    if not 259 <= preset.tokenizer.vocab_size <= 65_535:
        fail("tokenizer.vocab_size", f"{preset.tokenizer.vocab_size} is not from 259 (3 specials + 256 bytes) to "
                                     "65535 (token files are uint16)")
    data = preset.data
    if data.files and data.source not in FILE_SOURCES:
        fail("data.files", f"source {data.source} reads no files; use source gutenberg or wikitext")
    if data.val_fraction is not None and not 0 < data.val_fraction < 1:
        fail("data.val_fraction", f"{data.val_fraction} is not between 0 and 1 (both excluded)")
    for key in ("train_words", "val_words"):
        value = getattr(data, key)
        if isinstance(value, int) and not 0 <= value < 2**63:
            fail(f"data.{key}", f"{value} is not a number of words from 0 to 2^63-1")
    if data.val_words == "rest" and (data.train_words is None or data.val_fraction is not None):
        fail("data.val_words", "rest (val takes what train does not) needs data.train_words and no data.val_fraction")
    for index, name in enumerate(data.files):
        data.files[index] = str(Path(name).resolve())
        if not Path(data.files[index]).is_file():
            fail(f"data.files[{index}]", f"{name} not found")
    runs = [(f"teachers[{i}]", run) for i, run in enumerate(preset.teachers)] + [("student", preset.student)]
    for where, run in runs:
        given = run.config
        run.config = str(resolve_path(given))
        if not Path(run.config).is_file():
            fail(f"{where}.config", f"{given} not found")
        for key in run.overrides:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", str(key)):
                fail(f"{where}.overrides", f"{key!r} is not a dotted fit key (trainer.max_steps)")
    evaluation = preset.evaluation
    for name in ("blimp_limit", "curve_limit"):
        limit = getattr(evaluation, name)
        if limit is not None and limit < 1:
            fail(f"evaluation.{name}", f"{limit} is not a positive number of pairs (or null)")
    if evaluation.blimp_dir is None:
        evaluation.blimp_dir = str(SAMPLE_BLIMP_DIR)
    blimp = Path(evaluation.blimp_dir).resolve()
    if not blimp.is_dir() or not any(blimp.glob("*.jsonl")):
        fail("evaluation.blimp_dir", f"{evaluation.blimp_dir} is not a folder of BLiMP .jsonl files")
    evaluation.blimp_dir = str(blimp)


def option_value(value: Any) -> str:
    """An override's value as ``fit`` reads it on a command line: strings as they are, the rest as JSON/YAML
    (``null``, ``true``, ``[1, 2]``)."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def override_args(overrides: dict[str, Any]) -> list[str]:
    """``{key: value}`` → ``["--key", "value", …]`` for ``fit``."""
    args: list[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", option_value(value)]
    return args
