"""Cue occurrences in normalized text: every lexicon word (``metrics.extraction.lexicon``) found in one
Aho-Corasick pass, each with its role.

Roles (``Cue.role`` / ``Cue.name``):

- ``metric`` / the metric (``share_price`` for the noun of a share move); ``other`` / its meaning (a
  quantity outside the closed list: gross profit, EPS, cash flow ...); ``scope`` / the word (a figure
  outside one company's accounts);
- ``change`` / up, down or none, and ``base`` / yoy or qoq (a word may carry both);
- ``guidance``, ``estimate``, ``actual``, ``commit`` / the word (kind of a statement);
- ``cmp`` / estimate, guidance, prior_year, prior_quarter or link (a comparison marker);
- ``supply`` / the word (a verb that makes a count of products units); ``segment`` / the word.

Latin cues match only on word boundaries. Where a cue lies strictly inside a longer one (毛利 in 毛利率,
现金 in 现金流, 上季 in 较上季), only the longer one is kept; cues with the same span are all kept.
"""

from __future__ import annotations

from functools import cache
from operator import itemgetter
from typing import NamedTuple

from metrics.extraction.lexicon import lexicon
from metrics.extraction.normalize import ascii_lower
from metrics.extraction.wordindex import WordIndex

__all__ = ["MONEY_METRICS", "Cue", "CueIndex", "cue_index"]

# the metrics whose figure is an amount of money (a bare amount may take its currency from context)
MONEY_METRICS = frozenset(
    (
        "revenue",
        "net_income",
        "net_loss",
        "operating_loss",
        "ebitda",
        "capex",
        "capex_guidance",
        "investment_commitment",
        "deal_value",
        "valuation",
        "market_cap",
        "funding_raised",
        "buyback",
        "cash",
        "corporate_costs",
        "unit_price",
    )
)


class Cue(NamedTuple):
    """One cue occurrence: [start, end) in the text, its role and name (see the module docstring)."""

    start: int
    end: int
    role: str
    name: str


def _entries() -> dict[str, list[tuple[str, str]]]:
    lex = lexicon()
    out: dict[str, list[tuple[str, str]]] = {}

    def add(word: str, role: str, name: str) -> None:
        roles = out.setdefault(word, [])
        if (role, name) not in roles:
            roles.append((role, name))

    for m in lex.metrics:
        for w in m.words:
            add(w, "metric", m.name)
    for o in lex.others:
        for w in o.words:
            add(w, "other", o.meaning)
    for w in lex.scope:
        add(w, "scope", w)
    for c in lex.changes:
        for w in c.words:
            add(w, "change", c.direction)
            if c.base is not None:
                add(w, "base", c.base)
    for kind, words in lex.kinds.items():
        for w in words:
            add(w, "commit" if kind == "commitment" else kind, w)
    for cmp in lex.comparisons:
        for w in cmp.words:
            add(w, "cmp", cmp.role)
    for w in lex.units_verbs:
        add(w, "supply", w)
    for w in lex.segments:
        add(w, "segment", w)
    return out


# a cue word: whether it opens and ends with a Latin letter or digit (matched on word boundaries there),
# and its (role, name) pairs
_Word = tuple[bool, bool, tuple[tuple[str, str], ...]]
_START = itemgetter(0)  # sort keys of (start, end, roles) occurrences
_END = itemgetter(1)


class CueIndex:
    """All cue words in one automaton; ``find`` returns every occurrence (see the module docstring)."""

    def __init__(self) -> None:
        words: dict[str, _Word] = {}
        for word, roles in _entries().items():
            latin = word[0].isascii() and word[0].isalnum()
            latin_end = word[-1].isascii() and word[-1].isalnum()
            words[word] = (latin, latin_end, tuple(roles))
        self._index = WordIndex(words)

    @property
    def word_index(self) -> WordIndex[_Word]:
        """The index of the cue words (for ``Found``: one pass over a whole document)."""
        return self._index

    def find(
        self, text: str, *, low: str | None = None, found: list[tuple[int, int, _Word]] | None = None
    ) -> list[Cue]:
        """Every cue occurrence in ``text`` (matched lower-cased), sorted by start, longest first;
        ``low`` is ``ascii_lower(text)`` when the caller has it, ``found`` what ``word_index`` finds
        in it."""
        if low is None:
            low = ascii_lower(text)
        n = len(low)
        spans: list[tuple[int, int, tuple[tuple[str, str], ...]]] = []
        for start, end, (latin, latin_end, roles) in self._index.find(low) if found is None else found:
            if latin and start > 0 and low[start - 1].isascii() and low[start - 1].isalnum():
                continue
            if latin_end and end < n and low[end].isascii() and low[end].isalnum():
                continue
            spans.append((start, end, roles))
        spans.sort(key=_END, reverse=True)  # by start, then longest first (two stable sorts)
        spans.sort(key=_START)
        out: list[Cue] = []
        new = tuple.__new__  # a named tuple built without its Python-level __new__ (hot loop)
        best_end = -1
        best_start = -1
        for start, end, roles in spans:
            if end <= best_end and (start, end) != (best_start, best_end):
                continue  # inside a longer cue
            if end > best_end:
                best_start, best_end = start, end
            for role, name in roles:
                out.append(new(Cue, (start, end, role, name)))
        return out


@cache
def cue_index() -> CueIndex:
    """The one cue index of the process (built on first use)."""
    return CueIndex()
