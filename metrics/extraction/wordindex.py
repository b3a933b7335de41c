"""Many words found in one pass over a text: the one adapter of ``ahocorasick_rs`` (Aho-Corasick in Rust).

``WordIndex({word: value, ...}).find(text)`` returns every occurrence of every word, overlapping ones
too, as ``(start, end, value)`` with ``start``/``end`` character offsets into ``text``, in no promised
order (callers sort). Words are matched exactly as given: callers fold the case of both sides.

Why this library: the company registry has thousands of aliases and the cue lexicon hundreds of
words, most of them Chinese. pyahocorasick looks up a character among a node's children one by one, and
the root of a CJK automaton has hundreds of children, so every character of the text paid a few hundred
comparisons (about 0.5 µs a character); ``ahocorasick_rs`` finds the same matches some 15 times faster.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from operator import itemgetter
from typing import Generic, TypeVar

import ahocorasick_rs

__all__ = ["Found", "WordIndex"]

V = TypeVar("V")


class WordIndex(Generic[V]):
    """Every occurrence of a fixed set of non-empty words (see the module docstring)."""

    __slots__ = ("_auto", "_values")

    def __init__(self, words: Mapping[str, V]) -> None:
        items = [(w, v) for w, v in words.items() if w]
        self._values: tuple[V, ...] = tuple(v for _, v in items)
        self._auto = (
            ahocorasick_rs.AhoCorasick(
                [w for w, _ in items],
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA,  # built in milliseconds, searches fastest
            )
            if items
            else None
        )

    def find(self, text: str) -> list[tuple[int, int, V]]:
        """Every occurrence ``(start, end, value)`` of a word in ``text``, overlapping ones included."""
        if self._auto is None or not text:
            return []
        values = self._values
        return [(s, e, values[i]) for i, s, e in self._auto.find_matches_as_indexes(text, overlapping=True)]

    def __len__(self) -> int:
        return len(self._values)


_START = itemgetter(0)


class Found(Generic[V]):
    """The occurrences of an index's words in a whole text, to be read span by span: ``within(lo, hi)``
    gives those inside ``text[lo:hi]`` with offsets into that span, the same occurrences
    ``index.find(text[lo:hi])`` gives (in no promised order either). One pass over a document then
    serves all its articles: the automaton is walked once per document, not once per article."""

    __slots__ = ("_found", "_starts")

    def __init__(self, index: WordIndex[V], text: str) -> None:
        self._found = sorted(index.find(text), key=_START)
        self._starts = [s for s, _e, _v in self._found]

    def within(self, lo: int, hi: int) -> list[tuple[int, int, V]]:
        """The occurrences inside ``text[lo:hi]``, as ``(start - lo, end - lo, value)``."""
        i = bisect.bisect_left(self._starts, lo)
        j = bisect.bisect_left(self._starts, hi, i)
        return [(s - lo, e - lo, v) for s, e, v in self._found[i:j] if e <= hi]
