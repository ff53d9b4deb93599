"""Clean stage: ``data/combined_encyclopedia.txt`` → ``data/encyclopedia_cleaned.txt``.

Run it::

    python -m babylm.data.text.clean [--input data/combined_encyclopedia.txt] [--output data/encyclopedia_cleaned.txt]
                                [--strip-accents] [--recase-headwords] [--list-rules]
    python scripts/clean.py --help

Reads the combined file (one article per block, blocks separated by blank lines, as written by
``babylm.data.text.combine``), streams it article by article (memory bounded by the longest article) through
the named rules of :mod:`babylm.data.text.clean_rules`, and writes the cleaned corpus atomically.

Cleaned-file format (what ``babylm.data.text.split`` reads and ``train.txt``/``val.txt`` keep)::

    <s>
    First paragraph of the first article.
    Second paragraph.
    </s>

    <s>
    …
    </s>

Each article is a line ``<s>``, its paragraphs one per line (never an empty line inside), a line ``</s>``
and one blank line. ``<s>`` and ``</s>`` never occur inside an article's text (the ``markup`` rule removes
any ``<s>`` tag), so a reader can rely on them as literal boundary markers. Articles that are empty after
cleaning are dropped.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from babylm.atomic import atomic_output, os_error_line
from babylm.data.text.clean_rules import RULES, CleanRule, select_rules

ARTICLE_START = "<s>"
ARTICLE_END = "</s>"
MAX_PASSES = 4
"""The rule chain is repeated until the text stops changing, at most this many passes."""


class CleanError(ValueError):
    """Bad input to the clean stage (missing file, unreadable text); the message names the file."""


def clean_text(text: str, rules: Sequence[CleanRule] | None = None) -> str:
    """Apply ``rules`` (default: the lossless ones) in order to the text of one article; returns it.

    The chain is repeated until the text stops changing (at most :data:`MAX_PASSES` passes), so the
    composition is idempotent even where one rule's output re-enables an earlier rule (an entity that
    decodes to a tag, a footnote marker between a hyphen and a line end).
    """
    rules = select_rules() if rules is None else rules
    for _ in range(MAX_PASSES):
        cleaned = text
        for rule in rules:
            cleaned = rule.apply(cleaned)
        if cleaned == text:
            break
        text = cleaned
    return text


def clean_corpus(
    articles: Iterable[str], *, strip_accents: bool = False, recase_headwords: bool = False
) -> Iterator[str]:
    """Clean each article text of ``articles`` (lazily); yields the non-empty cleaned texts.

    Lossy rules are off unless ``strip_accents`` / ``recase_headwords`` are true.
    """
    rules = select_rules(strip_accents=strip_accents, recase_headwords=recase_headwords)
    for article in articles:
        cleaned = clean_text(article, rules)
        if cleaned:
            yield cleaned


def format_article(text: str) -> str:
    """One cleaned article in the cleaned-file format (``<s>`` line, text, ``</s>`` line, blank line)."""
    return f"{ARTICLE_START}\n{text}\n{ARTICLE_END}\n\n"


def iter_blocks(lines: Iterable[str]) -> Iterator[str]:
    """Group ``lines`` (a combined file) into blank-line separated blocks; yields each block's text."""
    block: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if line.strip():
            block.append(line)
        elif block:
            yield "\n".join(block)
            block = []
    if block:
        yield "\n".join(block)


def iter_articles(lines: Iterable[str]) -> Iterator[str]:
    """Read the cleaned-file format from ``lines``; yields each article's text (without the markers).

    Text outside ``<s>``/``</s>`` is ignored; an article left open at the end of input is still yielded.
    """
    inside, body = False, []
    for line in lines:
        line = line.rstrip("\r\n")
        if line == ARTICLE_START:
            if inside and body:
                yield "\n".join(body)
            inside, body = True, []
        elif line == ARTICLE_END:
            if inside and body:
                yield "\n".join(body)
            inside, body = False, []
        elif inside and line:
            body.append(line)
    if inside and body:
        yield "\n".join(body)


# Residual markup after cleaning, by kind: what the benchmark reports per million words.
RESIDUAL_MARKUP_PATTERNS: dict[str, re.Pattern] = {
    "template": re.compile(r"\{\{|\}\}"),
    "wiki_table": re.compile(r"\{\||\|\}"),
    "wiki_link": re.compile(r"\[\[|\]\]"),
    "wiki_emphasis": re.compile(r"'''?"),
    "html_tag": re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>\n]*)?/?>"),
    "html_entity": re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#\d{1,6}|#x[0-9A-Fa-f]{1,6});"),
    "page_marker": re.compile(r"\[v\.\s*\d+\s+p\.\s*\d+\]"),
    "editorial_bracket": re.compile(r"\[(?:Illustration|Sidenote|Footnote|Greek|Transcriber)|\[[=)'`^~:.v,][A-Za-z]\]|\[\d{1,3}\]"),
    "gutenberg_italic": re.compile(r"(?<![\w_])_[^_\s][^_]{0,300}?_(?![\w_])"),
    "gutenberg_script": re.compile(r"[A-Za-z0-9)]_(?:\{|[A-Za-z0-9])|\S\^[{A-Za-z0-9]"),
    "soft_hyphen_or_control": re.compile("[\u00ad\u200b\ufeff\x00-\x08\x0b\x0c\x0e-\x1f]"),
}


def residual_markup_counts(text: str) -> Counter:
    """Count leftovers of markup in ``text`` (cleaned article text, without the ``<s>`` markers).

    Returns a Counter keyed by kind (:data:`RESIDUAL_MARKUP_PATTERNS`); ``sum(counts.values())`` is the total.
    """
    return Counter({kind: len(pattern.findall(text)) for kind, pattern in RESIDUAL_MARKUP_PATTERNS.items()})


@dataclass
class CleanStats:
    """What one run of the clean stage did."""

    articles_in: int = 0
    articles_out: int = 0
    words_in: int = 0
    words_out: int = 0


def clean_stream(
    source: IO[str], sink: IO[str], *, strip_accents: bool = False, recase_headwords: bool = False
) -> CleanStats:
    """Clean the combined text read from ``source`` into the cleaned format on ``sink``; returns stats."""
    stats = CleanStats()

    def counted(blocks: Iterable[str]) -> Iterator[str]:
        for block in blocks:
            stats.articles_in += 1
            stats.words_in += len(block.split())
            yield block

    for article in clean_corpus(
        counted(iter_blocks(source)), strip_accents=strip_accents, recase_headwords=recase_headwords
    ):
        stats.articles_out += 1
        stats.words_out += len(article.split())
        sink.write(format_article(article))
    return stats


def clean_file(
    input_path: str | Path, output_path: str | Path, *, strip_accents: bool = False, recase_headwords: bool = False
) -> CleanStats:
    """Clean ``input_path`` (combined file) into ``output_path`` (written atomically); returns stats."""
    input_path = Path(input_path)
    if not input_path.is_file():
        raise CleanError(f"{input_path}: input file not found; run the combine stage first (python -m babylm.data.text.combine)")
    try:
        with open(input_path, encoding="utf-8") as source, atomic_output(output_path) as sink:
            return clean_stream(source, sink, strip_accents=strip_accents, recase_headwords=recase_headwords)
    except UnicodeDecodeError as error:
        raise CleanError(f"{input_path}: not UTF-8 text ({error.reason} at byte {error.start}); re-run the combine stage") from None


def build_parser() -> argparse.ArgumentParser:
    """The clean stage's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m babylm.data.text.clean",
        description="Clean the combined encyclopedia text into <s> … </s> articles (named rules; lossy ones off by default).",
    )
    parser.add_argument("--input", default="data/combined_encyclopedia.txt", help="combined text file (default: %(default)s)")
    parser.add_argument("--output", default="data/encyclopedia_cleaned.txt", help="cleaned corpus (default: %(default)s)")
    parser.add_argument("--strip-accents", action="store_true", help="lossy: remove accents and other combining marks")
    parser.add_argument("--recase-headwords", action="store_true", help="lossy: ALL-CAPS headwords to title case")
    parser.add_argument("--list-rules", action="store_true", help="print the rules in order and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the clean stage on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""
    args = build_parser().parse_args(argv)
    if args.list_rules:
        for rule in RULES:
            print(f"{rule.name:<20} {'(lossy, off by default) ' if rule.lossy else ''}{rule.summary}")
        return 0
    try:
        stats = clean_file(args.input, args.output, strip_accents=args.strip_accents, recase_headwords=args.recase_headwords)
    except CleanError as error:
        print(f"clean: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written (a folder, no permission…)
        print(f"clean: {os_error_line(error)}", file=sys.stderr)
        return 2
    print(
        f"clean: {stats.articles_out} articles ({stats.articles_in - stats.articles_out} empty after cleaning dropped), "
        f"{stats.words_in} → {stats.words_out} words → {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
