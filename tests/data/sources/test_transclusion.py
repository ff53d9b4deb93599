"""ProofreadPage ``<pages>`` and LST ``<section>`` semantics, as read in ``babylm.data.sources.transclusion``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from babylm.data.sources.transclusion import PagesTag, join_pages, lst, parse_pages_tags, sections_at, tokenize

PAGE = (
    "<noinclude>{{rh|12|ABBEY}}</noinclude>tail of the last one. "
    '<section begin="Blane, Sir Gilbert" />BLANE text<section end="Blane, Sir Gilbert" />\n'
    "between sections\n"
    "<section begin=Bolus />BOLUS text<section end=Bolus />"
    "<section begin='Bömb' />BOMB part one<section end='Bömb' /> outside "
    '<section begin="Bömb" />BOMB part two'
)


def texts(tokens, indices) -> list[str]:
    return [tokens[i].value for i in indices]


def test_sections_with_spaces_commas_accents_and_any_quoting_are_matched():
    tokens = tokenize(PAGE)
    assert [t.value for t in tokens if t.kind == "begin"] == ["Blane, Sir Gilbert", "Bolus", "Bömb", "Bömb"]
    assert texts(tokens, lst(tokens, "Blane, Sir Gilbert")) == ["BLANE text"]
    assert texts(tokens, lst(tokens, "Bolus")) == ["BOLUS text"]
    # a section that occurs twice is taken twice; one never closed runs to the end of the page
    assert texts(tokens, lst(tokens, "Bömb")) == ["BOMB part one", "BOMB part two"]
    # from the top of the page to the end of a section, once; text outside sections included
    assert texts(tokens, lst(tokens, "", "Bolus")) == ["tail of the last one. ", "BLANE text", "\nbetween sections\n",
                                                      "BOLUS text"]
    # from one section to another: everything between them
    assert texts(tokens, lst(tokens, "Blane, Sir Gilbert", "Bolus")) == ["BLANE text", "\nbetween sections\n",
                                                                        "BOLUS text"]
    assert lst(tokens, "Nowhere") == []
    assert "rh|12" not in "".join(t.value for t in tokens)  # <noinclude> is never transcluded
    assert sections_at(tokens)[1] == "Blane, Sir Gilbert" and sections_at(tokens)[0] is None


def test_pages_attributes_select_pages_and_sections():
    [(_, tag)] = parse_pages_tags('<pages index="EB1911 - Volume 04.djvu" from=120 to=121 '
                                  'fromsection="Bomb" tosection="Bomb" />')
    assert (tag.volume, tag.pages(), tag.fromsection, tag.tosection) == (4, [120, 121], "Bomb", "Bomb")
    first = tokenize('<section begin="Bolus" />BOLUS<section end="Bolus" />'
                     '<section begin="Bomb" />BOMB, a<section end="Bomb" /> tail')
    last = tokenize('top <section begin="Bomb" />reign of<section end="Bomb" />'
                    '<section begin="Bombay" />BOMBAY<section end="Bombay" />')
    assert texts(first, tag.select(120, first)) == ["BOMB, a"]  # the from page: only that section
    assert texts(last, tag.select(121, last)) == ["top ", "reign of"]  # the to page: top of the page to its end
    [(_, only)] = parse_pages_tags("<pages index='EB1911 - Volume 01.djvu' include='3-5,9' exclude=4 "
                                   "onlysection=Bolus></pages>")
    assert only.pages() == [3, 5, 9] and texts(first, only.select(5, first)) == ["BOLUS"]
    [(_, stepped)] = parse_pages_tags('<pages index="EB1911 - Volume 01.djvu" from=2 to=8 step=3 include="20" />')
    assert stepped.pages() == [2, 5, 8, 20]
    whole = PagesTag("EB1911 - Volume 01.djvu", 2, 3)
    assert texts(last, whole.select(2, last)) == ["top ", "reign of", "BOMBAY"]  # no section asked: the whole page
    assert PagesTag("EB1911 - Volume 01.djvu", 7).pages(last_page=9) == [7, 8, 9]  # no `to`: to the last page
    assert PagesTag("EB1911 - Volume 01.djvu").pages() == []  # no pages asked: nothing (the index's contents)
    [(_, other)] = parse_pages_tags('<pages index="Some Plates.djvu" from=1 to=2 />')
    assert other.volume is None
    [(_, broken)] = parse_pages_tags('<pages index="EB1911 - Volume 01.djvu" from=x to=3 include="a-b" />')
    assert sorted(broken.errors) == ["from=x", "include a-b"]


def test_pages_are_joined_as_proofreadpage_joins_them():
    assert join_pages(["a sentence that runs \n", "on across the page."]) == "a sentence that runs on across the page."
    assert (join_pages(["end of a paragraph.\n", "\nA new one at the top."])
            == "end of a paragraph.\n\nA new one at the top.")
    assert join_pages(["the north-", "west passage", "  ", ""]) == "the north-west passage"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<section begin=a />", "<section end=a />", '<section begin="b c" />',
                                 "<section end='b c' />", "x", " ", "\n", "<noinclude>", "</noinclude>",
                                 "<pages index=x from=1 />", "é"]), max_size=30).map("".join),
       st.sampled_from(["", "a", "b c", "zz"]), st.sampled_from(["", "a", "b c"]))
def test_section_selection_never_crashes_and_takes_text_in_order(page, begin, end):
    tokens = tokenize(page)
    taken = lst(tokens, begin, end)
    assert taken == sorted(set(taken)) and all(tokens[i].kind == "text" for i in taken)
    parse_pages_tags(page)
