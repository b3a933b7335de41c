"""The scans that skip to the first characters of a pattern (``firstchar``) give the pattern's matches."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.extraction.firstchar import engine_skips, finditer, first_class, skipping
from metrics.extraction.periods import _RULES, _SCANS


def test_first_class_of_optional_prefixes_and_assertions() -> None:
    cls = first_class(re.compile(r"(?:(?P<y>20\d\d)\s*年)?\s*(?<!\d)(?P<m>1[0-2]|[1-9])月"))
    assert cls is not None
    assert [c for c in "20 \n19a年月" if re.fullmatch(cls, c)] == ["2", " ", "\n", "1", "9"]
    assert first_class(re.compile(r"(?<![A-Za-z])(?:ab|c[de])")) == "[ac]"
    assert first_class(re.compile(r"x*y+")) == "[xy]"


def test_no_class_when_unknown_or_empty() -> None:
    assert first_class(re.compile(r".a")) is None  # any character
    assert first_class(re.compile(r"[^a]b")) is None  # a negated class
    assert first_class(re.compile(r"a?")) is None  # may match the empty string
    assert first_class(re.compile(r"(a)\1")) == "[a]"
    assert first_class(re.compile(r"(?:x|(?i:y))z")) is None  # a group with its own case rule


def test_no_scan_where_the_engine_skips_itself() -> None:
    assert engine_skips(re.compile(r"abc"))
    assert engine_skips(re.compile(r"[0-9]\d*"))
    assert not engine_skips(re.compile(r"[0-9]+"))  # the engine looks at the first item only
    assert not engine_skips(re.compile(r"(?<!\d)20\d\d"))
    assert not engine_skips(re.compile(r"(?:Q[1-4])", re.IGNORECASE))  # a cased letter under IGNORECASE
    assert skipping(re.compile(r"abc")) is None
    assert skipping(re.compile(r"(?<!\d)20\d\d")) is not None
    assert skipping(re.compile(r"(?<!\d)20\d\d  # a year", re.VERBOSE)) is None


def test_the_period_rules_have_scans() -> None:
    assert sum(s is not None for s in _SCANS) >= len(_RULES) // 2


_PATTERNS = [
    re.compile(r"(?:(?P<y>20\d\d)\s*年)?\s*(?<![\d.])(?P<m>1[0-2]|[1-9])\s*月"),
    re.compile(r"(?:the\s+)?(?P<mon>jan|feb|sept?)\w*\s+\d{1,2}", re.IGNORECASE),
    re.compile(r"(?<!\d)(?:19|20)\d{2}[-/.]\d{1,2}"),
    re.compile(r"(?:a|b\s)?\s*c+"),
]
_TEXT = st.text(alphabet="20251年月 \n\t-./abcABCjanfebseptSEPTtheſ9", max_size=40)


@settings(max_examples=120, deadline=None)
@given(_TEXT, st.integers(0, 40), st.integers(0, 40))
def test_scan_gives_the_same_matches(text: str, a: int, b: int) -> None:
    start, end = min(a, b, len(text)), min(max(a, b), len(text))
    for rx in [*_PATTERNS, *(r for r, *_ in _RULES)]:
        scan = skipping(rx)
        want = [(m.span(), m.groupdict()) for m in rx.finditer(text, start, end)]
        got = [(m.span(), m.groupdict()) for m in finditer(rx, scan, text, start, end)]
        assert got == want, rx.pattern
