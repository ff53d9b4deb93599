"""Benchmark: peak memory (RSS) and time of tokenizer training and encode on one very long single-line article.

Run: ``python benchmarks/bench_long_line.py [--mb 50] [--baseline PATH] [--vocab-size 2000]``.
Builds ``train.txt`` in the cleaner's format holding one article whose text is a single line of ``--mb``
megabytes (real EB1911 prose from ``../shared/data/eb1911/gutenberg_articles.jsonl`` with its line breaks
turned into spaces, repeated; a seeded word salad when that file is absent), all in a temporary folder.
Each measurement runs in a child process (so its peak RSS is its own: ``VmHWM`` at exit) that imports
``babylm`` from the code under test: this checkout, and ``--baseline`` (e.g. a ``git worktree`` of an older
commit) when given, side by side in one run. Both encode with one tokenizer, so their token files can be
compared byte for byte; the two trainings' tokenizers are compared too. Prints a machine line and one
line per measurement, then the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, measure_in_child  # noqa: E402  (benchmarks/harness.py)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "eb1911" / "gutenberg_articles.jsonl"

# Run as ``python -c CHILD <mode> <args…>`` with the code under test as working directory (``-c`` puts
# the working directory first on sys.path). Prints one JSON line.
CHILD = r"""
import hashlib, json, resource, sys, time
mode, args = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
if mode == "train":
    from babylm.data.tokens.tokenizer import train_tokenizer
    tokenizer = train_tokenizer([args[0]], vocab_size=int(args[1]))
    if len(args) > 2:
        from babylm.data.tokens.tokenizer import save_tokenizer
        save_tokenizer(tokenizer, args[2])
    result = {"vocab": tokenizer.get_vocab_size(),
              "sha": hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:16]}
else:
    from babylm.data.tokens.encode import encode_file
    from babylm.data.tokens.tokenizer import load_tokenizer
    stats = encode_file(load_tokenizer(args[0]), args[1], args[2])
    result = {"tokens": stats.tokens, "sha": hashlib.sha256(open(args[2], "rb").read()).hexdigest()[:16]}
# VmHWM: this process image's own peak (ru_maxrss would carry the parent's peak across fork + exec)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
peak_kb = int(status["VmHWM"].split()[0]) if "VmHWM" in status else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result.update(seconds=time.perf_counter() - start, peak_mb=peak_kb / 1024)
print(json.dumps(result))
"""


def long_line(megabytes: float, data: Path) -> str:
    """One line of about ``megabytes`` MB: real EB1911 prose when ``data`` exists, else seeded word salad."""
    if data.is_file():
        prose = " ".join(" ".join(json.loads(line)["text"].split()) for line in data.open(encoding="utf-8"))
    else:
        rng = random.Random(0)
        words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9)))
                 for _ in range(5000)]
        prose = " ".join(rng.choice(words) for _ in range(200_000))
    size = int(megabytes * 1e6)
    return ((prose + " ") * (size // (len(prose) + 1) + 1))[:size].rstrip()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``argv``; returns an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0,
                        help="size of the single-line article in MB (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=2000, help="tokenizer vocabulary (default: %(default)s)")
    parser.add_argument("--baseline", type=Path, help="another checkout of the repository to measure side by side")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="EB1911 prose (default: %(default)s)")
    args = parser.parse_args(argv)

    print(machine_line(check_gpu=False, packages=("tokenizers",)))
    runs = [("baseline", args.baseline.resolve())] if args.baseline else []
    runs.append(("this checkout", REPO))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        line = long_line(args.mb, args.data)
        (root / "train.txt").write_text(f"<s>\n{line}\n</s>\n\n", encoding="utf-8")
        (root / "small.txt").write_text(f"<s>\n{line[:2_000_000]}\n</s>\n\n", encoding="utf-8")
        print(f"train.txt: one article, one line of {len(line.encode()) / 1e6:.1f} MB, {len(line.split()):,} words")
        # The tokenizer both encodes use: trained by this checkout on the first 2 MB.
        shared, error = measure_in_child(["-c", CHILD, "train", str(root / "small.txt"), str(args.vocab_size),
                                          str(root / "tok.json")], REPO)
        if shared is None:
            print(f"bench_long_line: error: {error}", file=sys.stderr)
            return 1
        results = {}
        for label, repo in runs:
            train, error = measure_in_child(["-c", CHILD, "train", str(root / "train.txt"), str(args.vocab_size)], repo)
            encode, error2 = measure_in_child(
                ["-c", CHILD, "encode", str(root / "tok.json"), str(root / "train.txt"),
                 str(root / f"{len(results)}.bin")], repo)
            if train is None or encode is None:
                print(f"bench_long_line: error in {label}: {error or error2}", file=sys.stderr)
                return 1
            results[label] = (train, encode)
            print(f"{label} ({repo}): tokenizer training {train['seconds']:.1f} s, peak RSS {train['peak_mb']:,.0f} MB "
                  f"(vocab {train['vocab']:,}, sha {train['sha']}); encode {encode['seconds']:.1f} s, peak RSS "
                  f"{encode['peak_mb']:,.0f} MB ({encode['tokens']:,} tokens, sha {encode['sha']})")
        if len(results) == 2:
            (old_train, old_encode), (new_train, new_encode) = results.values()
            print(f"peak RSS ratio baseline/this: tokenizer training "
                  f"{old_train['peak_mb'] / new_train['peak_mb']:.1f}x, "
                  f"encode {old_encode['peak_mb'] / new_encode['peak_mb']:.1f}x; time ratio: training "
                  f"{old_train['seconds'] / new_train['seconds']:.2f}x, "
                  f"encode {old_encode['seconds'] / new_encode['seconds']:.2f}x")
            print(f"same tokenizer: {old_train['sha'] == new_train['sha']}; "
                  f"same token file: {old_encode['sha'] == new_encode['sha']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
