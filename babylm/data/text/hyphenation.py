"""Line-end hyphens: join a word broken across lines, or keep a compound's hyphen — decided from the corpus.

A hyphen at a line end between two lower-case letters (``hazard-⏎ous``, ``twenty-⏎one``) is either a
typesetter's break or a real compound's hyphen that happened to fall at the line end. Which one is read
off the text itself (OCR of the printed page cannot tell). For ``L-⏎R`` (``L``, ``R`` the letters on each
side, compared case-folded), in this order:

1. **Attested forms.** Count, everywhere in the corpus except at line ends, the hyphenated form ``L-R``
   and the fused form ``LR``. The more frequent one wins (``north-west`` ×8 vs ``northwest`` ×0 → keep;
   ``general`` ×40 vs ``gener-al`` ×0 → join); a tie between two attested forms joins.
2. **Numbers.** A left side with a digit (``6th-⏎century``, ``3-⏎inch``) keeps its hyphen.
3. **Two words.** Neither form attested, ``R`` not a suffix (``-ing``, ``-ous``, ``-ern``… always join):
   keep the hyphen when ``L`` and ``R`` both occur as words of their own in the corpus and either both
   have four letters or more (``house-⏎tops``, ``body-⏎armour``, ``hero-⏎worship``: EB1911 hyphenates such
   compounds) or ``L`` is a productive first element — in-line compounds ``L-x`` with at least
   :data:`MIN_COMPOUNDS` different ``x`` (``sea-rounded``, ``two-humped``). Prefixes that are not words
   (:data:`PREFIXES`: ``re``, ``sub``, ``inter`` …) never qualify, so ``inter-⏎views`` joins.
4. **Known compounds** (a short hand list for when the corpus is too small to say — one article):
   ``L`` a number word (``twenty`` … ``ninety``), ``self``, ``well``, ``ill``, ``cross``, a compass point,
   ``half``, or the pair in :data:`HYPHENATED_COMPOUNDS` (``so-called``) — again never before a suffix.
5. Otherwise **join** (``hazard-⏎ous`` → ``hazardous``), the printer's usual reason for a line-end hyphen.

A hyphen next to an upper-case letter, a digit or punctuation is left alone (``Anglo-⏎Saxon``); the left
side is the whole word before the hyphen, digits included (``6th-⏎century`` is ``6th`` + ``century``).

**Evidence in a stage that streams article by article.** :func:`collect_evidence` reads the corpus twice
before cleaning: pass 1 collects the line-end pairs ``(L, R)`` and counts every in-line hyphenated word;
pass 2 counts, among plain words, only ``LR``, ``L`` and ``R`` of those pairs. Memory: one counter entry per
distinct hyphenated word of the corpus plus three per distinct line-end pair — on the 267k-word OCR volume
about 9,000 + 2,700 entries (~2 MB); not one entry per distinct word. Without corpus evidence
(:func:`join_hyphenated_words` on one text) the text is its own evidence. Pure functions.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

LINE_END_HYPHEN = re.compile(r"-[ \t]*\n[ \t]*")
MIN_COMPOUNDS = 3
"""In-line compounds ``L-x`` (distinct ``x``) that make ``L`` a productive first element (rule 3)."""

COMPOUND_HEADS = frozenset(
    "twenty thirty forty fifty sixty seventy eighty ninety self well ill cross half north south east west".split()
)
"""First elements that form hyphenated compounds in EB1911's spelling (rule 4)."""
HYPHENATED_COMPOUNDS = frozenset({("so", "called")})
"""Whole compounds spelt with a hyphen in EB1911 whose first element also starts ordinary words (rule 4)."""
SUFFIXES = frozenset(
    "ing ings ed ous ern erly erns ward wards ly ness ful less ish ism ist ists ity ities ment ments ion ions "
    "tion tions al als ic ical ive er ers est ance ence able ible ate ated ating ure ures ty ties s es en "
    "shire ling lings ship ships hood hoods dom wise fulness".split()
)
"""Word endings that are never a compound's second element: ``north-⏎ern``, ``cross-⏎ing``, ``Oxford-⏎shire`` join."""
PREFIXES = frozenset("re sub co pre inter trans non post extra super un dis in ex anti semi counter".split())
"""Prefixes that fuse with the word they prefix when the corpus does not say otherwise (``inter-⏎views`` →
``interviews``): never a first element for rule 3."""
_PUNCTUATION = string.punctuation + "“”‘’«»—–…"
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_JOINT = "\x00"


@dataclass
class HyphenEvidence:
    """What the corpus says: in-line hyphenated words, counts of the candidate words, productive heads."""

    hyphenated: Counter = field(default_factory=Counter)
    words: Counter = field(default_factory=Counter)
    heads: Counter = field(default_factory=Counter)

    def decide(self, left: str, right: str) -> tuple[bool, str]:
        """(keep the hyphen?, the rule that decided) for ``left-⏎right`` (any case); rules 1–5 of the module
        docstring."""
        left, right = left.casefold(), right.casefold()
        hyphenated, fused = self.hyphenated[f"{left}-{right}"], self.words[left + right]
        if hyphenated or fused:
            return (True, "hyphenated form attested") if hyphenated > fused else (False, "fused form attested")
        if any(c.isdigit() for c in left):
            return True, "number compound"
        if right in SUFFIXES:
            return False, "suffix"
        if left not in PREFIXES and self.words[left] and self.words[right] and (
            min(len(left), len(right)) >= 4 or (len(right) >= 3 and self.heads[left] >= MIN_COMPOUNDS)
        ):
            return True, "two words"
        if left in COMPOUND_HEADS or (left, right) in HYPHENATED_COMPOUNDS:
            return True, "known compound"
        return False, "no evidence: joined"


def _pairs(text: str) -> Iterable[tuple[str, str, re.Match]]:
    """(left letters, right letters, match) of each line-end hyphen between lower-case letters."""
    for match in LINE_END_HYPHEN.finditer(text):
        before = re.search(r"[^\W_]+$", text[max(0, match.start() - 60): match.start()])
        after = re.match(r"[^\W\d_]+", text[match.end(): match.end() + 60])
        if before and after and before.group(0)[-1].islower() and after.group(0)[0].islower():
            yield before.group(0), after.group(0), match


def _inline_words(text: str) -> Iterable[str]:
    """Case-folded words of ``text`` outside line-end hyphens (a word broken across lines is not counted)."""
    for token in LINE_END_HYPHEN.sub(_JOINT, text).split():
        if _JOINT in token:
            continue
        token = token.strip(_PUNCTUATION)
        if token and _WORD.fullmatch(token):
            yield token.casefold()


def collect_evidence(texts: Callable[[], Iterable[str]]) -> HyphenEvidence:
    """Two passes over the corpus ``texts()`` (called twice; each call iterates the articles afresh)."""
    evidence = HyphenEvidence()
    wanted: set[str] = set()
    for text in texts():
        for left, right, _ in _pairs(text):
            wanted.update(((left + right).casefold(), left.casefold(), right.casefold()))
        evidence.hyphenated.update(word for word in _inline_words(text) if "-" in word)
    evidence.heads.update(word.split("-", 1)[0] for word in evidence.hyphenated)
    for text in texts():
        evidence.words.update(word for word in _inline_words(text) if word in wanted)
    return evidence


def join_hyphenated_words(text: str, evidence: HyphenEvidence | None = None, decisions: Counter | None = None) -> str:
    """``hazard-⏎ous`` → ``hazardous``, ``twenty-⏎one`` → ``twenty-one``: rules 1–5 of the module docstring.

    ``evidence`` is the corpus's (:func:`collect_evidence`); without it, ``text`` is its own evidence.
    ``decisions`` (optional) counts ``joined``/``kept`` by the rule that decided.
    """
    pairs = list(_pairs(text))
    if not pairs:
        return text
    evidence = evidence if evidence is not None else collect_evidence(lambda: [text])
    out, position = [], 0
    for left, right, match in pairs:
        keep, reason = evidence.decide(left, right)
        if decisions is not None:
            decisions[f"{'kept' if keep else 'joined'}: {reason}"] += 1
        out.append(text[position: match.start()])
        out.append("-" if keep else "")
        position = match.end()
    out.append(text[position:])
    return "".join(out)
