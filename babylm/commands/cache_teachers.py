"""``python -m babylm cache-teachers -c configs/distill.yaml``: the command line of the teacher-cache stage.

Parses the stage's own options (``--batch-size``, ``--device``, ``--precision``, ``--no-progress``) and hands
everything else to the ``fit`` parser, so the cache is built for exactly the run ``fit`` will make; then calls
:func:`babylm.training.teacher_cache.build_teacher_cache`. Bad input is one line on stderr and exit code 2.
The stage itself is :mod:`babylm.training.teacher_cache`; this command reads the training config as ``fit`` does
(:func:`babylm.commands.fit.parse_fit_config`: the same ``-c`` files, the same shipped-config fallback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import torch

from babylm.commands.fit import parse_error_line, parse_fit_config
from babylm.core.arguments import CommandParser, positive_int
from babylm.data.tokens.datamodule import TokenizedDataModule
from babylm.data.tokens.teacher_cache import CacheError, bytes_per_token
from babylm.training.teacher_cache import TeacherCacheConfig, build_teacher_cache


def build_parser() -> argparse.ArgumentParser:
    """The stage's own options; everything else is passed to the ``fit`` parser."""
    parser = CommandParser(
        prog="python -m babylm cache-teachers",
        description="Run the frozen teachers once over every training window and store their targets compactly.",
        epilog="Every other option is read as by `python -m babylm fit` (e.g. -c configs/distill.yaml, "
               "--model.init_args.cache.method topk, --model.init_args.cache.k 32).",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="windows per teacher forward (default: data.batch_size)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when present)")
    parser.add_argument("--precision", choices=["bf16", "32"], default=None,
                        help="teacher precision (default: bf16 when trainer.precision is bf16, else 32)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m babylm cache-teachers``: returns an exit code (2 with one line for bad input)."""
    from jsonargparse import ArgumentError

    own, rest = build_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = parse_fit_config(rest, "cache-teachers")
    except ArgumentError as error:
        print(f"babylm cache-teachers: error: {parse_error_line(str(error))}", file=sys.stderr)
        return 2
    init = cfg.model.init_args
    try:
        if not getattr(init, "teachers", None):
            raise CacheError(f"{cfg.model.class_path} has no teachers: cache-teachers needs a distillation config")
        if getattr(init, "cache", None) is None:
            raise CacheError("model.init_args.cache is null: nothing to build (the config distils online); "
                             "set it, e.g. --model.init_args.cache.method sample")
        config = TeacherCacheConfig(**vars(init.cache))
        config.validate()
        data = TokenizedDataModule(**vars(cfg.data))
        precision = own.precision or ("bf16" if str(cfg.trainer.precision).startswith("bf16") else "32")
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        if dtype == torch.bfloat16 and torch.cuda.is_available() and (own.device or "cuda").startswith("cuda") \
                and not torch.cuda.is_bf16_supported():
            print("babylm cache-teachers: this GPU has no bf16; the teachers run in fp32", file=sys.stderr)
            dtype = torch.float32
        out = build_teacher_cache(data, init.teachers, init.temperature, init.reduction, config, device=own.device,
                                  dtype=dtype, batch_size=own.batch_size or cfg.data.batch_size,
                                  progress=not own.no_progress)
    except (ValueError, OSError) as error:  # our own input errors and file errors: one line; the rest is a bug
        if isinstance(error, ValueError) and not type(error).__module__.startswith("babylm."):
            raise
        print(f"babylm cache-teachers: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"teacher cache: {out} ({config.method}, k={config.k}: "
          f"{bytes_per_token(config.method, config.k)} bytes/token, {size / 2**20:,.1f} MiB)")
    return 0

