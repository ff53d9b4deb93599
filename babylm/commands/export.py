"""``python -m babylm export``: a Lightning checkpoint → a Hugging Face directory (:mod:`babylm.models.export`).

Run: ``python -m babylm export --ckpt checkpoints/teacher_llama_360m/last.ckpt --out checkpoints/Llama-360M``.
Reads the checkpoint (``weights_only``) and its tokenizer; writes the export folder (replacing only a previous
export). A bad checkpoint, tokenizer or target is one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.models.export import ExportError, export_checkpoint


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m babylm export``."""
    parser = CommandParser(
        prog="python -m babylm export",
        description="Turn a Lightning checkpoint into a Hugging Face directory (safetensors + tokenizer) that "
        "AutoModelForCausalLM and AutoTokenizer load.",
    )
    parser.add_argument("--ckpt", required=True,
                        help="Lightning checkpoint, e.g. checkpoints/teacher_llama_360m/last.ckpt")
    parser.add_argument(
        "--out", required=True,
        help="output directory, e.g. checkpoints/Llama-360M; a previous export there is replaced, a folder holding "
        "anything else is refused",
    )
    parser.add_argument(
        "--tokenizer", default=None,
        help="tokenizer JSON or HF directory (default: the tokenizer_path saved in the checkpoint)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export program on ``argv``; returns 0, or 2 with a one-line error."""

    def work(args) -> str:
        return f"exported {args.ckpt} to {export_checkpoint(args.ckpt, args.out, args.tokenizer)}"

    return run_command("babylm export", argv, build_parser(), work, (ExportError,))


if __name__ == "__main__":
    raise SystemExit(main())
