"""The lexicon as data (metrics/extraction/lexicon/*.toml): every entry's own example sentences give
what the entry says, and a malformed entry is refused."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_text
from metrics.extraction.lexicon import Example, lexicon

NOV = date(2025, 11, 20)


def _stated() -> list[tuple[str, Example]]:
    lex = lexicon()
    out: list[tuple[str, Example]] = []
    for m in lex.metrics:
        out += [(f"metric {m.name}", Example(e.text, e.metric or m.name, e.value)) for e in m.examples]
    for c in lex.changes:
        out += [(f"change {c.direction}/{c.base}", e) for e in c.examples]
    for cmp in lex.comparisons:
        out += [(f"comparison {cmp.role}", e) for e in cmp.examples]
    return out


def _silent() -> list[tuple[str, str]]:
    lex = lexicon()
    out = [(f"other: {o.meaning}", e.text) for o in lex.others for e in o.examples]
    out += [("cumulative share move", e.text) for e in lex.cumulative_examples]
    return out


STATED = _stated()
SILENT = _silent()


@pytest.mark.parametrize(("entry", "example"), STATED, ids=[f"{e}: {x.text[:30]}" for e, x in STATED])
def test_examples_state_their_metric(registry: Registry, entry: str, example: Example) -> None:
    """Each example of a metric, change or comparison entry gives that metric with that value (and,
    for a comparison, that kind and period); a quarter-on-quarter change gives no fact."""
    facts = extract_text(example.text, registry, published=NOV)
    if not example.metric:
        assert not [f for f in facts if f.unit == "pct"], facts
        return
    hits = [f for f in facts if f.metric == example.metric and f.value == pytest.approx(example.value)]
    assert hits, facts
    if example.kind is not None:
        assert (hits[0].kind, hits[0].period) == (example.kind, example.period)


@pytest.mark.parametrize(("entry", "text"), SILENT, ids=[f"{e}: {t[:30]}" for e, t in SILENT])
def test_out_of_scope_examples_give_nothing(registry: Registry, entry: str, text: str) -> None:
    """A figure named by an 'other' noun (gross profit, EPS, cash flow, R&D ...) or a share move over
    more than a day is not stored under any metric."""
    assert extract_text(text, registry, published=NOV) == []


def test_scope_examples_give_nothing(registry: Registry) -> None:
    """Market sizes and index moves are not company figures."""
    for e in lexicon().scope_examples:
        assert extract_text(e.text, registry, published=NOV) == [], e.text


def test_every_entry_has_an_example() -> None:
    """Each metric (but the share-price noun), other, change and comparison entry carries an example."""
    lex = lexicon()
    assert all(m.examples for m in lex.metrics if m.name != "share_price")
    assert all(o.examples for o in lex.others)
    assert all(c.examples for c in lex.changes)
    assert all(c.examples for c in lex.comparisons if c.role != "link")


def test_words_are_normalized_once() -> None:
    """Traditional words are stored simplified and English ones lower-cased, so one entry covers both
    scripts; the lexicon is read once per process."""
    lex = lexicon()
    words = {w for m in lex.metrics for w in m.words}
    assert "税后纯益" in words and "net income" in words
    assert all(w == w.lower() for w in words if w.isascii())
    assert lexicon() is lex
