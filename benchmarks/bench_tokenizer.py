"""Benchmark: tokenizer training time, encode throughput and fertility on real EB1911 text.

Run: ``python benchmarks/bench_tokenizer.py [--vocab-size 16000] [--encode-copies 5]``.
Reads ``../shared/data/eb1911/gutenberg_articles.jsonl`` (340 articles, ≈318k words); every 10th article
is held out as val. Writes only into a temporary folder: train/val in the cleaner's ``<s>``/``</s>``
format, the tokenizer, and the token files. Prints a machine line and one line per measurement.
Encode throughput is measured on ``--encode-copies`` concatenated copies of train.txt (so the run is
long enough to time) and reported in tokens/s and MB/s of input text.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "eb1911" / "gutenberg_articles.jsonl"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="gutenberg_articles.jsonl (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=16_000, help="tokenizer vocabulary (default: %(default)s)")
    parser.add_argument("--encode-copies", type=int, default=5,
                        help="copies of train.txt to encode (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repetitions; the median is reported (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if not args.data.is_file():
        print(f"bench_tokenizer: error: {args.data} not found (the shared/ folder beside the repository)",
              file=sys.stderr)
        return 2

    from babylm.data.tokens.encode import encode_splits
    from babylm.data.tokens.tokenizer import fertility, save_tokenizer, train_tokenizer

    print(machine_line(check_gpu=False, packages=("torch", "tokenizers"),
                       extra=f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}"))
    records = [json.loads(line) for line in args.data.open(encoding="utf-8")]
    articles = {"train": [], "val": []}
    for index, record in enumerate(records):
        articles["val" if index % 10 == 9 else "train"].append(record["text"].strip())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = {}
        for split, texts in articles.items():
            text = "".join(f"<s>\n{t}\n</s>\n\n" for t in texts)
            (root / f"{split}.txt").write_text(text, encoding="utf-8")
            sizes[split] = (len(texts), sum(len(t.split()) for t in texts), len(text.encode("utf-8")))
        for split, (count, words, size) in sizes.items():
            print(f"{split}: {count} articles, {words:,} words, {size / 1e6:.2f} MB")

        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            tokenizer = train_tokenizer([root / "train.txt"], vocab_size=args.vocab_size)
            times.append(time.perf_counter() - start)
        save_tokenizer(tokenizer, root / "tok.json")
        print(f"tokenizer training (vocab {args.vocab_size:,} requested, {tokenizer.get_vocab_size():,} reached): "
              f"median {statistics.median(times):.2f} s of {args.repeats} runs "
              f"({', '.join(f'{t:.2f}' for t in times)})")
        result = fertility(tokenizer, root / "val.txt")
        print(f"fertility on held-out val: {result['tokens_per_word']:.3f} tokens/word "
              f"({result['tokens']:,} tokens / {result['words']:,} words)")

        big = root / "big"
        big.mkdir()
        train_text = (root / "train.txt").read_text(encoding="utf-8")
        (big / "train.txt").write_text(train_text * args.encode_copies, encoding="utf-8")
        (big / "val.txt").write_text((root / "val.txt").read_text(encoding="utf-8"), encoding="utf-8")
        megabytes = (big / "train.txt").stat().st_size / 1e6
        rates = []
        for _ in range(args.repeats):
            lines: list[str] = []
            start = time.perf_counter()
            out = encode_splits(root / "tok.json", big, root / "tokenized", splits=["train"], force=True,
                                log=lines.append)
            seconds = time.perf_counter() - start
            tokens = json.loads((out / "meta.json").read_text())["splits"]["train"]["tokens"]
            rates.append((seconds, tokens))
        seconds = statistics.median(s for s, _ in rates)
        tokens = rates[0][1]
        print(f"encode {megabytes:.1f} MB ({tokens:,} tokens): median {seconds:.2f} s → "
              f"{tokens / seconds:,.0f} tokens/s, {megabytes / seconds:.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
