"""The stages of a recipe, in order, as the project's own command lines: what ``recipe`` will run.

Used by :mod:`babylm.commands.recipe`; nothing to run on its own, reads only the preset and the training configs
(parsed by ``fit``'s own parser, so a bad config or override is refused before the first stage), writes nothing.

Stages: ``prepare`` → ``tokenizer`` → ``encode`` → one ``fit`` per teacher → ``cache-teachers`` (when the
student's config has a teacher cache) → ``fit`` of the student → with ``--control``, ``fit`` of the student
alone (:func:`control_args`) → ``evaluate`` of every model (BLiMP + validation perplexity) → ``generate`` (a
sample from the student). Every path in the command lines is relative to the workdir (the stages run there)
unless the user gave one outside it (``--data-dir``).

One seed for every stage that has one: ``prepare --seed`` (the split), ``fit --seed_everything`` and
``--data.seed`` (initialisation, dropout, window order), the teacher cache's draws, ``generate --seed``.
Every fit scores its milestone BLiMP curve on the recipe's BLiMP set (the first ``evaluation.curve_limit`` pairs
of each paradigm, by default the same pairs as the final scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from jsonargparse import ArgumentError

from babylm.commands.fit import build_parser, parse_error_line
from babylm.commands.recipe_preset import FILE_SOURCES, PresetError, RecipePreset, override_args

CAUSAL_LM = "babylm.training.causal_lm.CausalLM"
SPLIT_DIR = "data/corpus_split"
TOKENIZER_JSON = "checkpoints/tokenizer-clean.json"
TOKENIZED_DIR = "data/tokenized"
EVAL_ROOT = "runs/eval"


@dataclass
class RecipeOptions:
    """What the command line adds to a preset (``None`` = the preset's value)."""

    seed: int = 0
    control: bool = False
    steps: Optional[int] = None
    vocab_size: Optional[int] = None
    blimp_dir: Optional[str] = None
    data_dir: Optional[str] = None
    gutenberg_files: Optional[list[str]] = None
    wikitext_pages: Optional[list[str]] = None


@dataclass
class ModelRun:
    """One model of the recipe: its role, where its fit writes, and its ``fit`` command line."""

    name: str  # the export folder's name (Tiny-Llama)
    role: str  # teacher, distilled student, student alone
    export_dir: str  # relative to the workdir
    checkpoint_dir: str  # relative to the workdir: checkpoints, last.ckpt, blimp_curve.json
    fit_args: list[str]  # after "fit"
    config: Any = field(default=None, repr=False)  # the parsed fit config


@dataclass
class Stage:
    """One stage: a key for the state file, the babylm command line, and what tells it is done."""

    key: str  # unique: prepare, tokenizer, encode, fit Tiny-Llama, cache-teachers, evaluate Tiny-Llama …
    kind: str  # data (the command skips up-to-date work itself), fit, evaluate, generate
    argv: list[str]  # the babylm command and its options
    outputs: list[tuple[str, Optional[str]]] = field(default_factory=list)  # (path, glob): their fingerprint
    model: Optional[ModelRun] = None
    report: Optional[str] = None  # evaluate: the report folder


def split_dir(options: RecipeOptions) -> str:
    """The train/val split the recipe trains on: the workdir's ``data/corpus_split``, or that of ``--data-dir``.

    ``--data-dir`` may be a ``prepare --data-dir`` folder (``corpus_split/`` inside) or the split folder itself.
    Raises :class:`PresetError` when it holds no ``train.txt`` and ``val.txt``.
    """
    if options.data_dir is None:
        return SPLIT_DIR
    given = Path(options.data_dir).resolve()
    for folder in (given, given / "corpus_split"):
        if (folder / "train.txt").is_file() and (folder / "val.txt").is_file():
            return str(folder)
    raise PresetError(f"--data-dir {options.data_dir} holds no train.txt and val.txt (nor corpus_split/ with them): "
                      "give the --data-dir of a finished `python -m babylm prepare`")


def prepare_args(preset: RecipePreset, options: RecipeOptions) -> list[str]:
    """``prepare``'s options for the preset's data (``--gutenberg-file`` / ``--wikitext-pages`` replace its source)."""
    data = preset.data
    source, files = data.source, data.files
    for given, name in ((options.gutenberg_files, "gutenberg"), (options.wikitext_pages, "wikitext")):
        if given:
            source, files = name, [str(Path(f).resolve()) for f in given]
            missing = [f for f, full in zip(given, files) if not Path(full).exists()]
            if missing:
                raise PresetError(f"{FILE_SOURCES[name]} {missing[0]}: no such file or folder")
    if source in FILE_SOURCES and not files:
        raise PresetError(f"this preset reads {source} files that live on your machine: pass them with "
                          f"{FILE_SOURCES[source]} FILE_OR_FOLDER … (or --data-dir of a finished prepare)")
    args = ["--source", source, "--seed", str(options.seed)]
    if files:
        args += [FILE_SOURCES[source], *files]
    for flag, value in (("--train-words", data.train_words), ("--val-words", data.val_words),
                        ("--val-fraction", data.val_fraction)):
        if value is not None:
            args += [flag, str(value)]
    return args + list(data.options)


def fit_common_args(preset: RecipePreset, options: RecipeOptions, blimp_dir: str) -> list[str]:
    """What the recipe sets in every fit: the seed, the track, the milestone BLiMP set."""
    limit = preset.evaluation.curve_limit or preset.evaluation.blimp_limit
    return ["--seed_everything", str(options.seed), "--data.seed", str(options.seed),
            "--budget.track", preset.track, "--word_checkpoints.blimp_dir", blimp_dir,
            "--word_checkpoints.blimp_limit", "null" if limit is None else str(limit)]


def _inside_workdir(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not Path(value).is_absolute() and ".." not in Path(value).parts


def parse_run(parser, args: list[str], where: str, preset_path: Path) -> Any:
    """The fit config ``args`` describe (``fit``'s parser); :class:`PresetError` naming ``where`` when bad."""
    try:
        return parser.parse_args(args)
    except ArgumentError as error:
        raise PresetError(f"{preset_path}: {where}: {parse_error_line(str(error))}") from error


def model_run(parser, args: list[str], role: str, where: str, preset_path: Path) -> ModelRun:
    """Parse one fit and check that it exports inside the workdir; returns its :class:`ModelRun`."""
    config = parse_run(parser, args, where, preset_path)
    export_dir = config.model.init_args.get("export_dir")
    checkpoint_dir = config.checkpoint.dirpath
    for key, value in (("model.init_args.export_dir", export_dir), ("checkpoint.dirpath", checkpoint_dir)):
        if not _inside_workdir(value):
            raise PresetError(f"{preset_path}: {where}: {key} is {value!r}: the recipe needs a relative folder "
                              "(inside its workdir; the export is what it scores)")
    return ModelRun(Path(export_dir).name, role, str(Path(export_dir)), str(Path(checkpoint_dir)), args, config)


def control_args(student: ModelRun) -> list[str]:
    """The student's fit without its teachers: a :class:`~babylm.training.causal_lm.CausalLM` of the same config,
    data, steps and seed (cross-entropy only, alpha = 1), exporting to ``<export>-alone``."""
    args = [*student.fit_args, "--model", CAUSAL_LM,
            "--model.init_args.export_dir", f"{student.export_dir}-alone",
            "--checkpoint.dirpath", f"{student.checkpoint_dir}_alone"]
    logger = student.config.trainer.get("logger")
    name = logger.get("init_args", {}).get("name") if hasattr(logger, "get") else None
    if name:
        args += ["--trainer.logger.init_args.name", f"{name}-alone"]
    return args


def model_runs(preset: RecipePreset, preset_path: Path, options: RecipeOptions, blimp_dir: str) -> list[ModelRun]:
    """The teachers, the distilled student and (``--control``) the student alone, each parsed and checked.

    Raises :class:`PresetError` (one line) for a bad config or override, an export outside the workdir, two runs
    writing the same folder, or a student whose teachers are not the preset's teachers' exports.
    """
    parser = build_parser("fit")
    common = fit_common_args(preset, options, blimp_dir)
    steps = ["--trainer.max_steps", str(options.steps)] if options.steps is not None else []

    def args_of(run, extra: tuple[str, ...] = ()) -> list[str]:
        return ["-c", run.config, *common, *extra, *override_args(run.overrides), *steps]

    runs = [model_run(parser, args_of(t), "teacher", f"teachers[{i}]", preset_path)
            for i, t in enumerate(preset.teachers)]
    student = model_run(parser, args_of(preset.student), "distilled student", "student", preset_path)
    init = student.config.model.init_args
    teachers = [str(Path(t)) for t in (init.get("teachers") or [])]
    if not teachers:
        raise PresetError(f"{preset_path}: student: {student.config.model.class_path} has no teachers; the student "
                          "is a DistillationStudent whose model.init_args.teachers are the teachers' export_dir")
    exported = [run.export_dir for run in runs]
    if sorted(teachers) != sorted(exported):
        raise PresetError(f"{preset_path}: student: model.init_args.teachers {teachers} are not the teachers' "
                          f"export_dir {exported}; make them the same folders")
    if init.get("cache") is not None:  # the cache's draws take the recipe's seed too
        seeded = args_of(preset.student, ("--model.init_args.cache.seed", str(options.seed)))
        student = model_run(parser, seeded, "distilled student", "student", preset_path)
    runs.append(student)
    if options.control:
        runs.append(model_run(parser, control_args(student), "student alone", "student (alone, --control)",
                              preset_path))
    for folder in ("export_dir", "checkpoint_dir"):
        seen = [getattr(run, folder) for run in runs]
        twice = sorted({value for value in seen if seen.count(value) > 1})
        if twice:
            raise PresetError(f"{preset_path}: two runs write to {twice[0]}: give each its own {folder}")
    return runs


def blimp_dir_of(preset: RecipePreset, options: RecipeOptions) -> str:
    """The BLiMP folder every model is scored on: ``--blimp-dir``, else the preset's (absolute). Raises
    :class:`PresetError` when ``--blimp-dir`` holds no ``.jsonl`` files."""
    if not options.blimp_dir:
        return preset.evaluation.blimp_dir
    folder = Path(options.blimp_dir).resolve()
    if not folder.is_dir() or not any(folder.glob("*.jsonl")):
        raise PresetError(f"--blimp-dir {options.blimp_dir} is not a folder of BLiMP .jsonl files")
    return str(folder)


def build_plan(preset: RecipePreset, preset_path: Path, options: RecipeOptions) -> list[Stage]:
    """The recipe's stages, in order (see the module doc). Raises :class:`PresetError` (one line) on bad input."""
    blimp_dir = blimp_dir_of(preset, options)
    split = split_dir(options)
    stages = []
    if options.data_dir is None:
        stages.append(Stage("prepare", "data", ["prepare", *prepare_args(preset, options)], [(SPLIT_DIR, "*.txt")]))
    vocab = options.vocab_size or preset.tokenizer.vocab_size
    tokenizer = ["tokenizer", "--vocab-size", str(vocab)]
    encode = ["encode"]
    if split != SPLIT_DIR:
        tokenizer += ["--train", f"{split}/train.txt", "--val", f"{split}/val.txt"]
        encode += ["--split-dir", split]
    stages.append(Stage("tokenizer", "data", tokenizer, [(TOKENIZER_JSON, None)]))
    stages.append(Stage("encode", "data", encode, [(TOKENIZED_DIR, "**/*.bin")]))  # it rewrites meta.json
    runs = model_runs(preset, preset_path, options, blimp_dir)
    student = next(run for run in runs if run.role == "distilled student")
    for run in runs:
        if run is student and run.config.model.init_args.get("cache") is not None:
            cache_dir = run.config.model.init_args.cache.dir
            stages.append(Stage("cache-teachers", "data", ["cache-teachers", *run.fit_args], [(cache_dir, "**/*")]))
        stages.append(Stage(f"fit {run.name}", "fit", ["fit", *run.fit_args], model=run))
    evaluation = preset.evaluation
    for run in runs:
        out = f"{EVAL_ROOT}/{run.name}"
        argv = ["evaluate", "--model", run.export_dir, "--tasks", "blimp,perplexity", "--blimp-dir", blimp_dir,
                "--val-file", f"{split}/val.txt", "--out", out]
        if evaluation.blimp_limit is not None:
            argv += ["--limit", str(evaluation.blimp_limit)]
        if evaluation.perplexity_max_tokens is not None:
            argv += ["--max-tokens", str(evaluation.perplexity_max_tokens)]
        stages.append(Stage(f"evaluate {run.name}", "evaluate", argv, model=run, report=out))
    stages.append(Stage("generate", "generate", ["generate", "--model", student.export_dir, "--prompt",
                                                 evaluation.prompt, "--seed", str(options.seed),
                                                 "--max-new-tokens", "40"], model=student))
    return stages
