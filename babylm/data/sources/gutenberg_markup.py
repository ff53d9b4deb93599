"""Project Gutenberg's transcription conventions in the EB1911 slices, resolved to plain text.

PG transcribers write what a plain-text file cannot show in brackets: ``[Greek: bios]`` (a script, here
transliterated) → ``bios``, ``[=a]`` (a macron) → ``ā``, ``[)i]`` → ``ĭ``, ``[.s]`` and ``[h.]`` (dot below,
both orders occur) → ``ṣ``, ``ḥ``, ``[alpha]`` → ``α``, ``[root]`` → ``√``; notes such as ``[sic]`` and
``[Transcriber's note …]`` are removed. Used by the Gutenberg ingest (:mod:`babylm.data.sources.gutenberg`)
and, for text that reaches the corpus some other way, by the cleaner's ``editorial_brackets`` rule
(:mod:`babylm.data.text.clean_rules`). Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

_SCRIPT_BRACKET = re.compile(r"\[(?:Greek|Hebrew|Arabic|Sanskrit|Syriac|Coptic|Russian|Gothic)\s*:\s*([^\[\]]*)\]")
_DROPPED_BRACKET = re.compile(r"\[(?:signed|sic|Transcriber'?s? ?note[^\[\]]*)\]", re.I)
_DIACRITIC_CODES = {
    "=": "\u0304",  # macron: [=a] → ā
    ")": "\u0306",  # breve: [)i] → ĭ
    "'": "\u0301",  # acute: ['s] → ś
    "`": "\u0300",  # grave
    "^": "\u0302",  # circumflex
    "~": "\u0303",  # tilde
    ":": "\u0308",  # diaeresis
    ".": "\u0323",  # dot below: [.s] → ṣ
    "v": "\u030c",  # caron: [vs] → š
    ",": "\u0327",  # cedilla
}
_DIACRITIC = re.compile(r"\[([=)'`^~:.v,])([A-Za-z])\]")
_DOT_BELOW_AFTER = re.compile(r"\[([A-Za-z])\.\]")  # [h.] "h with dot below", as the slices' notes say
_GREEK_NAMES = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
    "upsilon phi chi psi omega"
).split()
_NAMED_SYMBOLS = {name: chr(0x3B1 + i + (1 if i >= 17 else 0)) for i, name in enumerate(_GREEK_NAMES)}
_NAMED_SYMBOLS.update({name.capitalize(): letter.upper() for name, letter in list(_NAMED_SYMBOLS.items())})
_NAMED_SYMBOLS.update({"root": "√", "inf": "∞", "infinity": "∞", "degree": "°", "minute": "′", "second": "″"})
_NAMED_SYMBOL = re.compile(r"\[(%s)\]" % "|".join(sorted(_NAMED_SYMBOLS, key=len, reverse=True)))


def resolve_editorial_brackets(text: str) -> str:
    """Transcribers' bracket notations resolved to the characters they stand for, notes removed."""

    def once(value: str) -> str:
        value = _SCRIPT_BRACKET.sub(r"\1", value)
        value = _DROPPED_BRACKET.sub("", value)
        value = _DIACRITIC.sub(
            lambda m: unicodedata.normalize("NFC", m.group(2) + _DIACRITIC_CODES[m.group(1)]), value
        )
        value = _DOT_BELOW_AFTER.sub(lambda m: unicodedata.normalize("NFC", m.group(1) + "\u0323"), value)
        return _NAMED_SYMBOL.sub(lambda m: _NAMED_SYMBOLS[m.group(1)], value)

    for _ in range(8):  # until stable: a resolved bracket can reveal another
        changed = once(text)
        if changed == text:
            break
        text = changed
    return text
