"""The word index (Aho-Corasick adapter) and the lowered-text search it shares with the extractor."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.extraction.normalize import ascii_lower, has_odd_case
from metrics.extraction.wordindex import Found, WordIndex


def _naive(words: dict[str, int], text: str) -> list[tuple[int, int, int]]:
    return sorted(
        (i, i + len(w), v) for w, v in words.items() if w for i in range(len(text)) if text.startswith(w, i)
    )


def test_every_occurrence_with_character_offsets() -> None:
    """Overlapping words are all found, with offsets in characters (not UTF-8 bytes)."""
    idx = WordIndex({"营收": 1, "营收同比": 2, "同比": 3, "rev": 4})
    text = "公司营收同比增长,rev上升"
    assert sorted(idx.find(text)) == [(2, 4, 1), (2, 6, 2), (4, 6, 3), (9, 12, 4)]
    assert text[2:6] == "营收同比"


def test_empty_index_and_empty_text() -> None:
    """No words or no text: nothing found (an empty word is ignored)."""
    assert WordIndex({}).find("营收") == []
    assert WordIndex({"": 1}).find("营收") == []
    assert WordIndex({"营收": 1}).find("") == []


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(alphabet="营收同比ab 亿", min_size=1, max_size=3), st.integers(), max_size=6),
    st.text(alphabet="营收同比ab 亿x", max_size=40),
)
def test_same_as_a_naive_scan(words: dict[str, int], text: str) -> None:
    """The index finds exactly what trying every word at every position finds."""
    assert sorted(WordIndex(words).find(text)) == _naive(words, text)


def test_lowered_text_search_matches_ignorecase() -> None:
    """A case-sensitive lower-case pattern over ``ascii_lower`` finds what IGNORECASE finds in the text,
    unless the text holds a letter only IGNORECASE folds (the Kelvin sign, the long s, dotted/dotless i)."""
    src = r"the company|its|共计"
    rx, rx_any = re.compile(src), re.compile(src, re.IGNORECASE)
    for text in ("The Company said ITS sales 共计 rose", "甲公司与乙公司", "THE COMPANY"):
        assert not has_odd_case(text)
        assert [m.span() for m in rx.finditer(ascii_lower(text))] == [m.span() for m in rx_any.finditer(text)]
    assert has_odd_case("\u0131ts revenue")  # dotless i: IGNORECASE matches 'its', lowering does not
    assert not has_odd_case("plain ascii")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(alphabet="营收同比ab 亿", min_size=1, max_size=3), st.integers(), max_size=6),
    st.text(alphabet="营收同比ab 亿x", max_size=40),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_found_once_read_span_by_span(words: dict[str, int], text: str, lo: int, hi: int) -> None:
    """The occurrences of one pass over a whole text, read inside a span, are those a pass over the
    span finds (none that crosses its edges), with offsets into the span."""
    lo, hi = min(lo, hi, len(text)), min(max(lo, hi), len(text))
    idx = WordIndex(words)
    span = text[lo:hi]
    assert sorted(Found(idx, text).within(lo, hi)) == sorted(idx.find(span)) == _naive(words, span)
