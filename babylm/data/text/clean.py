"""Clean stage: ``data/combined_encyclopedia.txt`` → ``data/encyclopedia_cleaned.txt``.

Run it::

    python -m babylm.data.text.clean [--input data/combined_encyclopedia.txt] [--output data/encyclopedia_cleaned.txt]
                                [--strip-accents] [--recase-headwords] [--list-rules]
    python scripts/clean.py --help

Reads the combined file (one article per block, blocks separated by blank lines, as written by
``babylm.data.text.combine``), streams it article by article (memory bounded by the longest article) through
the named rules of :mod:`babylm.data.text.clean_rules`, and writes the cleaned corpus atomically. Before
that, two quick passes over the same file collect the corpus's evidence for line-end hyphens
(:func:`babylm.data.text.hyphenation.collect_evidence`; memory: the distinct hyphenated words and line-end
pairs, not the vocabulary). Beside the output, ``<output stem>.report.json`` records, per rule, how many
words it removed (net) and how the hyphenation rule decided (joined / kept, by reason).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from babylm.core.arguments import CommandParser, run_command
from babylm.core.atomic import atomic_output, atomic_write_json
from babylm.core.outputs import stage_outputs
from babylm.data.layout import DEFAULT
from babylm.data.text.clean_rules import RULES, CleanRule, hyphenation_rule, select_rules
from babylm.data.text.hyphenation import HyphenEvidence, collect_evidence

ARTICLE_START = "<s>"
ARTICLE_END = "</s>"
MAX_PASSES = 4
"""The rule chain is repeated until the text stops changing, at most this many passes."""


class CleanError(ValueError):
    """Bad input to the clean stage (missing file, unreadable text); the message names the file."""


def clean_text(text: str, rules: Sequence[CleanRule] | None = None, removed: Counter | None = None) -> str:
    """Apply ``rules`` (default: the lossless ones) in order to the text of one article; returns it.

    The chain is repeated until the text stops changing (at most :data:`MAX_PASSES` passes), so the
    composition is idempotent even where one rule's output re-enables an earlier rule (an entity that
    decodes to a tag, a footnote marker between a hyphen and a line end). ``removed`` (optional) counts,
    per rule name, the words each rule removed (net: words before − words after).
    """
    rules = select_rules() if rules is None else rules
    for _ in range(MAX_PASSES):
        cleaned = text
        for rule in rules:
            if removed is None:
                cleaned = rule.apply(cleaned)
            else:
                before = len(cleaned.split())
                cleaned = rule.apply(cleaned)
                removed[rule.name] += before - len(cleaned.split())
        if cleaned == text:
            break
        text = cleaned
    return text


def clean_corpus(
    articles: Iterable[str], *, strip_accents: bool = False, recase_headwords: bool = False,
    evidence: HyphenEvidence | None = None, report: "CleanStats | None" = None,
) -> Iterator[str]:
    """Clean each article text of ``articles`` (lazily); yields the non-empty cleaned texts.

    Lossy rules are off unless ``strip_accents`` / ``recase_headwords`` are true. ``evidence``: the corpus's
    evidence for line-end hyphens (default: each article is its own). ``report`` collects per-rule counts.
    """
    decisions = report.hyphenation if report is not None else None
    rules = select_rules(strip_accents=strip_accents, recase_headwords=recase_headwords,
                         hyphenation=(hyphenation_rule(evidence, decisions)
                                      if evidence is not None or report is not None else None))
    for article in articles:
        cleaned = clean_text(article, rules, report.removed_by_rule if report is not None else None)
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
    "editorial_bracket": re.compile(
        r"\[(?:Illustration|Sidenote|Footnote|Greek|Transcriber)|\[[=)'`^~:.v,][A-Za-z]\]|\[\d{1,3}\]"
    ),
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
    """What one run of the clean stage did: articles and words in and out, words removed per rule (net),
    and the hyphenation rule's decisions by reason."""

    articles_in: int = 0
    articles_out: int = 0
    words_in: int = 0
    words_out: int = 0
    removed_by_rule: Counter = field(default_factory=Counter)
    hyphenation: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """The report written beside the cleaned file."""
        return {"articles_in": self.articles_in, "articles_out": self.articles_out, "words_in": self.words_in,
                "words_out": self.words_out,
                "words_removed_by_rule": {k: v for k, v in self.removed_by_rule.items() if v},
                "hyphenation": dict(sorted(self.hyphenation.items()))}


def report_path(output_path: str | Path) -> Path:
    """Where the clean stage's report goes: ``<output stem>.report.json`` beside the cleaned file."""
    output_path = Path(output_path)
    return output_path.with_name(output_path.stem + ".report.json")


def clean_stream(
    source: IO[str], sink: IO[str], *, strip_accents: bool = False, recase_headwords: bool = False,
    evidence: HyphenEvidence | None = None,
) -> CleanStats:
    """Clean the combined text read from ``source`` into the cleaned format on ``sink``; returns stats.

    ``evidence``: the corpus's evidence for line-end hyphens (default: each article is its own).
    """
    stats = CleanStats()

    def counted(blocks: Iterable[str]) -> Iterator[str]:
        for block in blocks:
            stats.articles_in += 1
            stats.words_in += len(block.split())
            yield block

    for article in clean_corpus(
        counted(iter_blocks(source)), strip_accents=strip_accents, recase_headwords=recase_headwords,
        evidence=evidence, report=stats,
    ):
        stats.articles_out += 1
        stats.words_out += len(article.split())
        sink.write(format_article(article))
    return stats


def clean_file(
    input_path: str | Path, output_path: str | Path, *, strip_accents: bool = False, recase_headwords: bool = False
) -> CleanStats:
    """Clean ``input_path`` (combined file) into ``output_path`` (written atomically); returns stats.

    Raises :class:`CleanError` when the input is missing, not UTF-8, or holds no article that survives cleaning.
    """
    input_path = Path(input_path)
    if not input_path.is_file():
        raise CleanError(f"{input_path}: input file not found; run the combine stage first "
                         "(python -m babylm.data.text.combine)")
    def blocks() -> Iterator[str]:
        with open(input_path, encoding="utf-8") as source:
            yield from iter_blocks(source)

    output_path = Path(output_path)
    try:
        with stage_outputs(output_path.parent, [output_path.name, report_path(output_path).name], "clean", "--output",
                           CleanError):
            return _clean_locked(input_path, output_path, blocks, strip_accents, recase_headwords)
    except UnicodeDecodeError as error:
        raise CleanError(f"{input_path}: not UTF-8 text ({error.reason} at byte {error.start}); "
                         "re-run the combine stage") from None


def _clean_locked(input_path: Path, output_path: Path, blocks, strip_accents: bool,
                  recase_headwords: bool) -> CleanStats:
    """The body of :func:`clean_file`, run while it holds the output's lock."""
    evidence = collect_evidence(blocks)
    with open(input_path, encoding="utf-8") as source, atomic_output(output_path) as sink:
        stats = clean_stream(source, sink, strip_accents=strip_accents, recase_headwords=recase_headwords,
                             evidence=evidence)
        if not stats.articles_in:  # raised inside: output_path stays as it was
            raise CleanError(f"{input_path}: no articles (the file is empty or blank); run the combine stage first "
                             "(python -m babylm.data.text.combine), or pass --input the file it wrote")
        if not stats.articles_out:
            raise CleanError(f"{input_path}: all {stats.articles_in} articles are empty after cleaning; check that it "
                             "is the combine stage's output")
    atomic_write_json(report_path(output_path), stats.as_dict())
    return stats


def build_parser() -> argparse.ArgumentParser:
    """The clean stage's command line."""
    parser = CommandParser(
        prog="python -m babylm.data.text.clean",
        description="Clean the combined encyclopedia text into <s> … </s> articles "
                    "(named rules; lossy ones off by default).",
    )
    parser.add_argument("--input", default=str(DEFAULT.combined), help="combined text file (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT.cleaned), help="cleaned corpus (default: %(default)s)")
    parser.add_argument("--strip-accents", action="store_true", help="lossy: remove accents and other combining marks")
    parser.add_argument("--recase-headwords", action="store_true", help="lossy: ALL-CAPS headwords to title case")
    parser.add_argument("--list-rules", action="store_true", help="print the rules in order and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the clean stage on ``argv`` (default ``sys.argv[1:]``); returns an exit code (2 on bad input)."""

    def work(args) -> str:
        if args.list_rules:
            return "\n".join(f"{rule.name:<20} {'(lossy, off by default) ' if rule.lossy else ''}{rule.summary}"
                             for rule in RULES)
        stats = clean_file(args.input, args.output, strip_accents=args.strip_accents,
                           recase_headwords=args.recase_headwords)
        return (f"clean: {stats.articles_out} articles ({stats.articles_in - stats.articles_out} empty after cleaning "
                f"dropped), {stats.words_in} → {stats.words_out} words → {args.output}")

    return run_command("clean", argv, build_parser(), work, (CleanError,))


if __name__ == "__main__":
    sys.exit(main())
