"""Download the full BLiMP benchmark (67 paradigms) from its upstream repository on first use.

Run: ``python -m babylm evaluate --model DIR`` fetches automatically when ``--blimp-dir`` is not given
(or ``python -m babylm.evaluation.fetch --help`` to fetch only). Reads
``https://raw.githubusercontent.com/alexwarstadt/blimp/master/data/<paradigm>.jsonl`` (CC BY 4.0);
writes ``data/blimp/<paradigm>.jsonl`` (git-ignored), each file atomically and only after it parses, so an
interrupted download resumes with the files still missing (and its partial file is removed). Each file has an
overall deadline and a size cap (:mod:`babylm.core.downloads`); a paradigm name must be a file stem. Offline, or
refused, it fails with one line saying what to do instead (pass ``--blimp-dir``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from babylm.core.arguments import CommandParser
from babylm.core.atomic import LockBusy, atomic_output, exclusive_lock, remove_stale_temporaries
from babylm.core.downloads import DownloadError, is_local, open_session, read_response
from babylm.evaluation import EvaluationError
from babylm.evaluation.blimp import BlimpDataError, load_paradigm

DEFAULT_BLIMP_DIR = Path("data/blimp")
UPSTREAM_BASE_URL = "https://raw.githubusercontent.com/alexwarstadt/blimp/master/data"
USER_AGENT = "babylm-evaluation/0.1 (BLiMP download; https://github.com/alexwarstadt/blimp)"

# The 67 paradigm files of github.com/alexwarstadt/blimp, folder data/.
BLIMP_PARADIGMS: tuple[str, ...] = (
    "adjunct_island", "anaphor_gender_agreement", "anaphor_number_agreement", "animate_subject_passive",
    "animate_subject_trans", "causative", "complex_NP_island",
    "coordinate_structure_constraint_complex_left_branch", "coordinate_structure_constraint_object_extraction",
    "determiner_noun_agreement_1", "determiner_noun_agreement_2", "determiner_noun_agreement_irregular_1",
    "determiner_noun_agreement_irregular_2", "determiner_noun_agreement_with_adj_2",
    "determiner_noun_agreement_with_adj_irregular_1", "determiner_noun_agreement_with_adj_irregular_2",
    "determiner_noun_agreement_with_adjective_1", "distractor_agreement_relational_noun",
    "distractor_agreement_relative_clause", "drop_argument", "ellipsis_n_bar_1", "ellipsis_n_bar_2",
    "existential_there_object_raising", "existential_there_quantifiers_1", "existential_there_quantifiers_2",
    "existential_there_subject_raising", "expletive_it_object_raising", "inchoative", "intransitive",
    "irregular_past_participle_adjectives", "irregular_past_participle_verbs",
    "irregular_plural_subject_verb_agreement_1", "irregular_plural_subject_verb_agreement_2",
    "left_branch_island_echo_question", "left_branch_island_simple_question",
    "matrix_question_npi_licensor_present", "npi_present_1", "npi_present_2", "only_npi_licensor_present",
    "only_npi_scope", "passive_1", "passive_2", "principle_A_c_command", "principle_A_case_1",
    "principle_A_case_2", "principle_A_domain_1", "principle_A_domain_2", "principle_A_domain_3",
    "principle_A_reconstruction", "regular_plural_subject_verb_agreement_1",
    "regular_plural_subject_verb_agreement_2", "sentential_negation_npi_licensor_present",
    "sentential_negation_npi_scope", "sentential_subject_island", "superlative_quantifiers_1",
    "superlative_quantifiers_2", "tough_vs_raising_1", "tough_vs_raising_2", "transitive", "wh_island",
    "wh_questions_object_gap", "wh_questions_subject_gap", "wh_questions_subject_gap_long_distance",
    "wh_vs_that_no_gap", "wh_vs_that_no_gap_long_distance", "wh_vs_that_with_gap",
    "wh_vs_that_with_gap_long_distance",
)


MAX_PARADIGM_BYTES = 16 << 20
"""The largest paradigm file accepted (bytes, after decompression): the upstream files are 0.2–0.6 MB each."""
LOCK_NAME = ".fetch.lock"
_PARTIAL = re.compile(r"^\.(?P<stem>.+)\.jsonl\.download$")


class BlimpFetchError(EvaluationError):
    """BLiMP could not be downloaded (offline, server error, or a malformed download)."""


def check_paradigm_names(names: Sequence[str]) -> list[str]:
    """Return ``names`` if each is a file stem (a paradigm's file is ``<name>.jsonl``); else raise
    :class:`BlimpFetchError`.

    A stem names one file inside the BLiMP folder: not empty, at most 200 characters, no ``/`` or ``\\``, no
    NUL or other control character, not starting with ``.`` (so never ``..``, never hidden). ``../evil`` once
    wrote ``data/evil.jsonl`` with the server's content, and an absolute path wrote anywhere.
    """
    for name in names:
        if (not isinstance(name, str) or not name or len(name) > 200 or name.startswith(".")
                or any(char in "/\\" or ord(char) < 32 or ord(char) == 127 for char in name)):
            raise BlimpFetchError(f"paradigm name {str(name)[:60]!r} is not a file stem (letters, digits, _ and -, "
                                  "e.g. adjunct_island); a paradigm is <name>.jsonl inside the BLiMP folder")
    return list(names)


def missing_paradigms(directory: str | os.PathLike, paradigms: Sequence[str] = BLIMP_PARADIGMS) -> list[str]:
    """Return the names in ``paradigms`` with no ``<name>.jsonl`` in ``directory`` yet (each name checked
    by :func:`check_paradigm_names` first)."""
    directory = Path(directory)
    return [name for name in check_paradigm_names(paradigms) if not (directory / f"{name}.jsonl").is_file()]


def remove_partial_downloads(directory: Path) -> int:
    """Delete what killed fetches left in ``directory`` (``.<name>.jsonl.download`` files and our temporary
    files); returns how many. Call it holding the folder's lock."""
    removed = remove_stale_temporaries(directory)
    for entry in directory.iterdir() if directory.is_dir() else []:
        if _PARTIAL.match(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def fetch_blimp(
    directory: str | os.PathLike = DEFAULT_BLIMP_DIR,
    base_url: str = UPSTREAM_BASE_URL,
    paradigms: Sequence[str] = BLIMP_PARADIGMS,
    timeout: float = 30.0,
    log=None,
    max_bytes: int = MAX_PARADIGM_BYTES,
) -> Path:
    """Download the paradigm files still missing from ``directory``; returns ``directory`` as a Path.

    ``base_url`` is the folder holding ``<paradigm>.jsonl`` (a setting, so tests use a local server);
    ``log`` is called with a line per downloaded file. Each file must arrive within ``timeout`` seconds in all
    and hold at most ``max_bytes`` bytes (after decompression); it is streamed to disk and checked with the
    BLiMP loader before it replaces anything. One fetch at a time per folder (a lock); the partial files of a
    killed fetch are removed. Raises :class:`BlimpFetchError` with a one-line message when a name is not a
    file stem or a file cannot be fetched.
    """
    directory = Path(directory)
    todo = missing_paradigms(directory, paradigms)
    if not todo:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(directory / LOCK_NAME, f"another BLiMP download is writing to {directory}; wait for it"), \
                open_session(USER_AGENT, trust_env=not is_local(base_url)) as session:
            remove_partial_downloads(directory)
            for number, name in enumerate(missing_paradigms(directory, todo), start=1):
                _fetch_one(session, directory, base_url, name, timeout, max_bytes, f"{number - 1} of {len(todo)}")
                if log is not None:
                    log(f"fetched {name}.jsonl ({number}/{len(todo)})")
    except LockBusy as error:
        raise BlimpFetchError(str(error)) from None
    return directory


def _fetch_one(session, directory: Path, base_url: str, name: str, timeout: float, max_bytes: int, done: str) -> None:
    """Download one paradigm to ``.<name>.jsonl.download``, check it, rename it into place."""

    url = f"{base_url.rstrip('/')}/{quote(name)}.jsonl"
    partial = directory / f".{name}.jsonl.download"
    try:
        with atomic_output(partial, "wb") as handle:
            reply = read_response(session, url, timeout=timeout, max_bytes=max_bytes, sink=handle.write)
            if reply.status != 200:
                raise DownloadError(f"{url}: HTTP {reply.status}", "http")
    except DownloadError as error:
        reason = str(error).removeprefix(f"{url}: ")
        raise BlimpFetchError(
            f"cannot download BLiMP paradigm {name} from {url} ({reason}); check the network, "
            f"or pass --blimp-dir DIR with BLiMP .jsonl files ({done} fetched into {directory})"
        ) from None
    try:
        load_paradigm(partial)
    except BlimpDataError as error:
        partial.unlink()
        raise BlimpFetchError(f"downloaded {url} but it is not a BLiMP file ({error})") from error
    os.replace(partial, directory / f"{name}.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    """Download BLiMP into ``--out`` (default ``data/blimp``); returns an exit code (2 on failure)."""
    parser = CommandParser(
        prog="python -m babylm.evaluation.fetch",
        description="Download the 67 BLiMP paradigms (github.com/alexwarstadt/blimp, CC BY 4.0); "
        "files already present are kept.",
    )
    parser.add_argument("--out", default=str(DEFAULT_BLIMP_DIR),
                        help="folder for the .jsonl files (default: %(default)s)")
    parser.add_argument("--base-url", default=UPSTREAM_BASE_URL,
                        help="folder URL holding <paradigm>.jsonl (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        directory = fetch_blimp(args.out, base_url=args.base_url, log=lambda line: print(line, file=sys.stderr))
    except EvaluationError as error:
        print(f"babylm fetch: error: {error}", file=sys.stderr)
        return 2
    print(f"BLiMP: {len(BLIMP_PARADIGMS)} paradigms in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
