"""``python -m babylm generate``: sample text from an exported model.

Run: ``python -m babylm generate --model checkpoints/Baby-Llama-58M --prompt "The city of" --seed 1``
(``--help`` lists the sampling controls). Reads the model directory and, with ``--prompts-file``, one
prompt per line; writes the completions (prompt + continuation, special tokens removed) to stdout.

Each prompt is encoded after the start token (``<s>``, or eos for tokenizers without a bos), exactly as
evaluation scores sentences, and generated alone, so no padding is involved. With ``--seed`` the random
generator is reset before every prompt: a prompt's completion depends only on the seed and the settings,
not on the other prompts. Generation stops at ``</s>`` or at the model's context length.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from babylm.core.arguments import (
    INT64_MAX,
    CommandParser,
    check_seed,
    float_in_range,
    non_negative_int,
    positive_int,
    seed,
)
from babylm.data.tokens.tokenizer import TokenizerError
from babylm.models.export import ExportError, load_exported, max_positions, prefix_token_id, resolve_device

MIN_TEMPERATURE = 0.01
"""The lowest ``--temperature``: logits divided by a smaller one overflow float32 (1e-45 gave a RuntimeError from
``torch.multinomial``); a temperature this low already samples the most likely token almost always."""
MAX_TEMPERATURE = 100.0
"""The highest ``--temperature``: far above it every token is as likely as every other."""


class GenerationError(ValueError):
    """A bad generation setting or prompt (one-line message)."""


@dataclass
class SamplingSettings:
    """How to continue a prompt."""

    max_new_tokens: int = 64
    """Most tokens to add (fewer if the model's context ends first or it emits ``</s>``)."""
    temperature: float = 1.0
    """Softmax temperature (> 0); lower is more conservative."""
    top_k: int = 50
    """Sample among the k most likely tokens (0 = no limit)."""
    top_p: float = 1.0
    """Nucleus sampling: the smallest set of tokens with this total probability (1.0 = no limit)."""
    seed: int | None = None
    """Seed reset before each prompt (None = not reproducible)."""
    greedy: bool = False
    """Always take the most likely token (ignores temperature, top-k, top-p and seed)."""

    def validate(self) -> None:
        """Raise :class:`GenerationError` naming the option that is out of range (or not a number of its kind)."""
        def number(name: str, value: object, kinds: tuple) -> None:
            if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
                raise GenerationError(f"{name} must be a finite {kinds[0].__name__}, got {str(value)[:40]!r}")

        number("--max-new-tokens", self.max_new_tokens, (int,))
        if not 1 <= self.max_new_tokens <= INT64_MAX:
            raise GenerationError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        try:
            check_seed(self.seed, "--seed")
        except ValueError as error:
            raise GenerationError(str(error)) from None
        if not self.greedy:
            number("--temperature", self.temperature, (float, int))
            number("--top-k", self.top_k, (int,))
            number("--top-p", self.top_p, (float, int))
            if not MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE:
                raise GenerationError(f"--temperature must be from {MIN_TEMPERATURE} to {MAX_TEMPERATURE:g} "
                                      f"(use --greedy for argmax), got {self.temperature}")
            if not 0 <= self.top_k <= INT64_MAX:
                raise GenerationError(f"--top-k must be >= 0 (0 = no limit), got {self.top_k}")
            if not 0 < self.top_p <= 1:
                raise GenerationError(f"--top-p must be in (0, 1], got {self.top_p}")


@torch.inference_mode()
def generate_token_ids(model, tokenizer, prompts: Sequence[str], settings: SamplingSettings) -> list[list[int]]:
    """Generate from each prompt; returns, per prompt, all token ids (start token + prompt + new tokens)."""

    settings.validate()
    start = prefix_token_id(tokenizer)
    limit = max_positions(model)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
    # a hybrid model's <mask> is no text: never sampled (it would make the model read a masked context)
    masked = {"suppress_tokens": [tokenizer.mask_token_id]} if tokenizer.mask_token_id is not None else {}
    outputs = []
    for prompt in prompts:
        ids = [start, *tokenizer(prompt, add_special_tokens=False)["input_ids"]]
        room = settings.max_new_tokens if limit is None else min(settings.max_new_tokens, limit - len(ids))
        if room < 1:
            raise GenerationError(
                f"prompt {prompt[:40]!r}… is {len(ids)} tokens, leaving no room in the model's {limit} positions"
            )
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
        sampling = (
            {"do_sample": False}
            if settings.greedy
            else {"do_sample": True, "temperature": settings.temperature, "top_k": settings.top_k,
                  "top_p": settings.top_p}
        )
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        generated = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=room,
            pad_token_id=pad,
            eos_token_id=tokenizer.eos_token_id,
            **sampling,
            **masked,
        )  # (1, T + new)
        outputs.append(generated[0].tolist())
    return outputs


def sample(model, tokenizer, prompts: Sequence[str], settings: SamplingSettings | None = None) -> list[str]:
    """Continue each prompt with a loaded ``model``/``tokenizer``; returns prompt + continuation texts
    with every special token (``<s>``, ``</s>``, ``<pad>``) removed."""
    all_ids = generate_token_ids(model, tokenizer, prompts, settings or SamplingSettings())
    return [tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False) for ids in all_ids]


def generate_text(
    model_dir: str | os.PathLike,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int = 50,
    top_p: float = 1.0,
    seed: int | None = None,
    greedy: bool = False,
    device: str = "cpu",
) -> list[str]:
    """Load the exported model in ``model_dir`` and continue each of ``prompts``; returns one text per prompt.

    Sampling controls as in :class:`SamplingSettings`; ``device`` is ``cpu``, ``cuda`` or ``auto``.
    """

    settings = SamplingSettings(max_new_tokens, temperature, top_k, top_p, seed, greedy)
    settings.validate()
    model, tokenizer = load_exported(model_dir, resolve_device(device))
    return sample(model, tokenizer, prompts, settings)


def read_prompts_file(path: str | os.PathLike) -> list[str]:
    """Return the non-blank lines of a UTF-8 prompts file (one prompt per line)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise GenerationError(f"{path}: prompts file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise GenerationError(f"{path}: cannot read as UTF-8 text ({error})") from error
    prompts = [line for line in lines if line.strip()]
    if not prompts:
        raise GenerationError(f"{path}: no prompts (one per line)")
    return prompts


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``generate`` command."""
    defaults = SamplingSettings()
    parser = CommandParser(
        prog="python -m babylm generate",
        description="Continue prompts with an exported model; prints prompt + continuation, without special tokens.",
    )
    parser.add_argument("--model", required=True, help="exported model directory")
    parser.add_argument("--prompt", action="append", default=[],
                        help="a prompt (repeat for several; '' = unconditional)")
    parser.add_argument("--prompts-file", default=None, help="UTF-8 file with one prompt per line")
    parser.add_argument("--max-new-tokens", type=positive_int, default=defaults.max_new_tokens,
                        help="most tokens to add (default: %(default)s)")
    parser.add_argument("--temperature", type=float_in_range(MIN_TEMPERATURE, MAX_TEMPERATURE, "temperature"),
                        default=defaults.temperature,
                        help=f"sampling temperature, {MIN_TEMPERATURE} … {MAX_TEMPERATURE:g} (default: %(default)s)")
    parser.add_argument("--top-k", type=non_negative_int, default=defaults.top_k,
                        help="sample among the k most likely tokens; 0 = all (default: %(default)s)")
    parser.add_argument("--top-p", type=float_in_range(0.0, 1.0, "top_p", low_open=True), default=defaults.top_p,
                        help="nucleus sampling mass in (0, 1] (default: %(default)s)")
    parser.add_argument("--seed", type=seed, default=None,
                        help="seed for reproducible samples, 0 … 2^32-1 (reset before each prompt)")
    parser.add_argument("--greedy", action="store_true", help="take the most likely token each step (no sampling)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``generate`` command on ``argv``; prints the texts; returns 0, or 2 after a one-line error."""

    args = build_parser().parse_args(argv)
    try:
        prompts = list(args.prompt)
        if args.prompts_file:
            prompts += read_prompts_file(args.prompts_file)
        if not prompts:
            raise GenerationError("give at least one --prompt (it may be '') or a --prompts-file")
        texts = generate_text(
            args.model, prompts, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
            top_k=args.top_k, top_p=args.top_p, seed=args.seed, greedy=args.greedy, device=args.device,
        )
    except (GenerationError, ExportError, TokenizerError) as error:
        print(f"babylm generate: error: {error}", file=sys.stderr)
        return 2
    for number, text in enumerate(texts):
        if len(texts) > 1:
            print(f"--- sample {number + 1} ---")
        print(text)
    return 0
