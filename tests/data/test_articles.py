"""The article record and its file: the shared layout, and safe file names — unique, inside their folder,
writable — for arbitrary titles and all real EB1911 titles."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.articles import (
    MAX_STEM_BYTES,
    WINDOWS_DEVICES,
    article_relpath,
    assign_stems,
    clash_key,
    is_safe_stem,
    is_windows_device,
    number_repeats,
    safe_stem,
    sanitize,
    write_article,
)

EB1911_PREFIX = "1911 Encyclopædia Britannica/"

# Any code point, surrogates and control characters included, plus the characters that cause trouble.
any_char = st.characters(codec=None, exclude_categories=())
tricky = st.sampled_from(["/", "\\", "..", ".", "\x00", ":", "*", "?", '"', "<", ">", "|", "~", " ", "CON",
                          "nul", "COM0", "lpt0", "CONIN$", "conout$", "Com¹", "CLOCK$", "Æ", "e\u0301", "é", "İ", "ß",
                          "SS", "\u200b", "\ud800", "a" * 300])
titles = st.lists(st.one_of(st.text(any_char, max_size=40), st.lists(tricky, min_size=1, max_size=6).map("".join)),
                  min_size=1, max_size=25)


def assert_safe_and_unique(stems: dict[str, str], folder: Path) -> None:
    """Every name is one plain component that stays inside ``folder``; no two clash, whatever the disk."""
    keys = [clash_key(stem) for stem in stems.values()]
    assert len(set(keys)) == len(keys)
    for stem in stems.values():
        name = f"{stem}.json"
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not name.startswith(".") and stem not in (".", "..")
        assert len(name.encode("utf-8")) <= 255
        assert os.path.dirname(os.path.normpath(os.path.join(folder, name))) == os.path.normpath(folder)
        assert not is_windows_device(name) and is_safe_stem(stem)


@given(titles)
@settings(max_examples=300, deadline=None)
def test_arbitrary_titles_get_unique_names_inside_their_folder(title_list):
    stems = assign_stems(title_list)
    assert set(stems) == set(title_list)
    assert_safe_and_unique(stems, Path(tempfile.gettempdir()) / "some-folder")


@given(titles)
@settings(max_examples=40, deadline=None)
def test_arbitrary_titles_can_all_be_written_and_read_back(title_list):
    stems = assign_stems(title_list)
    with tempfile.TemporaryDirectory() as folder:
        for title, stem in stems.items():
            (Path(folder) / f"{stem}.json").write_text(title.encode("utf-8", "surrogatepass").hex())
        written = {path.stem: path.read_text() for path in Path(folder).iterdir()}
    assert len(written) == len(stems)
    assert {bytes.fromhex(v).decode("utf-8", "surrogatepass") for v in written.values()} == set(stems)


@given(st.lists(st.text(any_char, max_size=30), min_size=1, max_size=15), st.randoms())
@settings(max_examples=100, deadline=None)
def test_names_do_not_depend_on_the_order_of_titles(title_list, random):
    shuffled = list(title_list)
    random.shuffle(shuffled)
    assert assign_stems(shuffled) == assign_stems(title_list)


def test_titles_that_sanitise_alike_both_survive():
    stems = assign_stems(["A/B", "A:B", "A_B", "a_b", "A?B"])
    assert len({clash_key(s) for s in stems.values()}) == 5
    assert re.fullmatch(r"A_B~[0-9a-f]{8}", stems["A_B"]) and re.fullmatch(r"a_b~[0-9a-f]{8}", stems["a_b"])
    assert stems["A/B"].startswith("A_B~")


def test_plain_titles_keep_their_own_name():
    for title in ["Abacus", "Aaron's Rod", "Bach, Johann Sebastian", "Æolian Harp", "Mercury (planet)", "Béarn"]:
        assert safe_stem(title) == title


@given(st.sampled_from(sorted(WINDOWS_DEVICES)), st.randoms(), st.sampled_from(["", ".txt", " .json", ".tar.gz", "  "]))
@settings(max_examples=200, deadline=None)
def test_windows_device_names_in_any_case_and_with_any_extension_are_prefixed(device, random, extension):
    title = "".join(c.upper() if random.random() < 0.5 else c.lower() for c in device) + extension
    stem = safe_stem(title)
    assert stem.startswith("_") and not is_windows_device(stem) and not is_windows_device(f"{stem}.json")
    assert is_windows_device(title.rstrip(" "))


def test_dangerous_titles_stay_harmless():
    assert sanitize("..") == "_"
    assert sanitize("../../etc/passwd").startswith("_") and "/" not in sanitize("../../etc/passwd")
    assert sanitize("CON") == "_CON" and sanitize("lpt1.txt") == "_lpt1.txt"
    for device in ("COM0", "LPT0", "CONIN$", "CONOUT$", "conout$.log", "COM²", "LPT³", "CLOCK$"):
        assert sanitize(device) == "_" + device
    assert sanitize("COMPASS") == "COMPASS" and sanitize("CONSOLE") == "CONSOLE" and sanitize("COM10") == "COM10"
    assert sanitize("a\x00b") == "a_b"
    assert len(sanitize("é" * 500).encode("utf-8")) <= MAX_STEM_BYTES
    assert safe_stem("x" * 400) != safe_stem("x" * 401)  # cut alike, told apart by the hash


def test_all_real_eb1911_titles_get_unique_names_that_can_be_written(shared_data, tmp_path):
    lines = (shared_data / "wikisource/titles/entries.txt").read_text(encoding="utf-8").splitlines()
    names = [t[len(EB1911_PREFIX):] if t.startswith(EB1911_PREFIX) else t for t in lines if t]
    assert len(names) == 39049
    stems = assign_stems(names)
    assert len(stems) == len(set(names))
    assert_safe_and_unique(stems, tmp_path)
    # The real list has titles differing only in case ("Absorption of light" / "… Light"): both survive.
    assert stems["Absorption of light"] != stems["Absorption of Light"]
    assert stems["Agriculture/Crops and Cropping"].startswith("Agriculture_Crops and Cropping~")
    # Create (exclusively) every file whose name had to be changed: no crash, no two land on one file.
    changed = [stem for title, stem in stems.items() if stem != title]
    assert len(changed) > 1000
    for stem in changed:
        os.close(os.open(tmp_path / f"{stem}.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    assert len(os.listdir(tmp_path)) == len(changed)


def test_relpath_is_the_documented_layout():
    assert article_relpath(4, 12, "Brescia") == "volume_04/part_12/Brescia.json"


def test_repeats_are_numbered_within_their_group_only():
    titles = ["ABBEY", "ABBOT", "ABBEY", "ABBEY", "ABBOT"]
    assert number_repeats(titles) == ["ABBEY", "ABBOT", "ABBEY (2)", "ABBEY (3)", "ABBOT (2)"]
    assert number_repeats(titles, groups=[1, 1, 2, 1, 2]) == ["ABBEY", "ABBOT", "ABBEY", "ABBEY (2)", "ABBOT"]


def test_written_record_has_exactly_the_four_fields(tmp_path):
    path = tmp_path / article_relpath(1, 1, "A")
    write_article(path, url="u", title="A", content="text", timestamp="t")
    assert json.loads(path.read_text(encoding="utf-8")) == {"url": "u", "title": "A", "content": "text",
                                                            "timestamp": "t"}
    assert [p.name for p in path.parent.iterdir()] == ["A.json"]  # no temporary file left behind
