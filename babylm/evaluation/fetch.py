"""Download the full BLiMP benchmark (67 paradigms) from its upstream repository on first use.

Run: ``python -m babylm evaluate --model DIR`` fetches automatically when ``--blimp-dir`` is not given
(or ``python -m babylm.evaluation.fetch --help`` to fetch only). Reads
``https://raw.githubusercontent.com/alexwarstadt/blimp/master/data/<paradigm>.jsonl`` (CC BY 4.0);
writes ``data/blimp/<paradigm>.jsonl`` (git-ignored), each file atomically and only after it parses, so an
interrupted download resumes with the files still missing. Offline, it fails with one line saying what
to do instead (pass ``--blimp-dir``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import requests

from babylm.core.arguments import CommandParser
from babylm.core.atomic import atomic_output
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


class BlimpFetchError(EvaluationError):
    """BLiMP could not be downloaded (offline, server error, or a malformed download)."""


def missing_paradigms(directory: str | os.PathLike, paradigms: Sequence[str] = BLIMP_PARADIGMS) -> list[str]:
    """Return the names in ``paradigms`` with no ``<name>.jsonl`` in ``directory`` yet."""
    directory = Path(directory)
    return [name for name in paradigms if not (directory / f"{name}.jsonl").is_file()]


def fetch_blimp(
    directory: str | os.PathLike = DEFAULT_BLIMP_DIR,
    base_url: str = UPSTREAM_BASE_URL,
    paradigms: Sequence[str] = BLIMP_PARADIGMS,
    timeout: float = 30.0,
    log=None,
) -> Path:
    """Download the paradigm files still missing from ``directory``; returns ``directory`` as a Path.

    ``base_url`` is the folder holding ``<paradigm>.jsonl`` (a setting, so tests use a local server);
    ``log`` is called with a line per downloaded file. Each download is checked with the BLiMP loader
    before it replaces anything. Raises :class:`BlimpFetchError` with a one-line message when a file
    cannot be fetched.
    """

    directory = Path(directory)
    todo = missing_paradigms(directory, paradigms)
    if not todo:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    for number, name in enumerate(todo, start=1):
        url = f"{base_url.rstrip('/')}/{name}.jsonl"
        try:
            response = session.get(url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as error:
            reason = type(error).__name__ if not isinstance(error, requests.HTTPError) else str(error).split(" for url")[0]
            raise BlimpFetchError(
                f"cannot download BLiMP paradigm {name} from {url} ({reason}); check the network, "
                f"or pass --blimp-dir DIR with BLiMP .jsonl files ({number - 1} of {len(todo)} fetched into {directory})"
            ) from error
        target = directory / f"{name}.jsonl"
        partial = directory / f".{name}.jsonl.download"
        with atomic_output(partial, "wb") as handle:
            handle.write(response.content)
        try:
            load_paradigm(partial)
        except BlimpDataError as error:
            partial.unlink()
            raise BlimpFetchError(f"downloaded {url} but it is not a BLiMP file ({error})") from error
        os.replace(partial, target)
        if log is not None:
            log(f"fetched {name}.jsonl ({number}/{len(todo)})")
    return directory


def main(argv: Sequence[str] | None = None) -> int:
    """Download BLiMP into ``--out`` (default ``data/blimp``); returns an exit code (2 on failure)."""
    parser = CommandParser(
        prog="python -m babylm.evaluation.fetch",
        description="Download the 67 BLiMP paradigms (github.com/alexwarstadt/blimp, CC BY 4.0); "
        "files already present are kept.",
    )
    parser.add_argument("--out", default=str(DEFAULT_BLIMP_DIR), help="folder for the .jsonl files (default: %(default)s)")
    parser.add_argument("--base-url", default=UPSTREAM_BASE_URL, help="folder URL holding <paradigm>.jsonl (default: %(default)s)")
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
