"""Faster scans of patterns that do not open with a character the regex engine can skip to.

A pattern whose matches can begin only with some characters (``[0-9]``, ``今``, a space) but that opens
with an optional group or an assertion is tried by the engine at every position of the text. ``skipping``
derives from the pattern the class of characters its matches can begin with (``first_class``) and
returns a scan that opens with that class, so that the engine skips in C to the next candidate; the
scan holds the whole pattern in a lookahead, so it hits exactly the positions where the pattern matches.
``finditer`` then gives the pattern's own matches, those ``pattern.finditer`` gives.

The class is found from the parsed pattern: literals, ranges and the categories ``\\d \\s \\w`` (and their
negations) of the first item that must consume a character, through groups, alternatives and repeats
(assertions consume nothing and are checked by the lookahead). Anything else (``.``, a negated class, a
back reference, a pattern that may match the empty string) gives None: the pattern is then run as it is.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["engine_skips", "finditer", "first_class", "skipping"]

_P: Any = importlib.import_module("re._parser")  # the parser and compiler of ``re`` (no type stubs)
_C: Any = importlib.import_module("re._constants")
_COMPILER: Any = importlib.import_module("re._compiler")

_CATEGORIES = {
    _C.CATEGORY_DIGIT: r"\d",
    _C.CATEGORY_NOT_DIGIT: r"\D",
    _C.CATEGORY_SPACE: r"\s",
    _C.CATEGORY_NOT_SPACE: r"\S",
    _C.CATEGORY_WORD: r"\w",
    _C.CATEGORY_NOT_WORD: r"\W",
}
_ZERO_WIDTH = (_C.ASSERT, _C.ASSERT_NOT, _C.AT)
_REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT)


class _Unknown(Exception):
    """The first characters cannot be told (or any character may begin a match)."""


def _char(c: int) -> str:
    return re.escape(chr(c))


def _items(items: list[tuple[Any, Any]]) -> list[str]:
    """The class items of an ``IN`` node."""
    out = []
    for op, av in items:
        if op is _C.LITERAL:
            out.append(_char(av))
        elif op is _C.RANGE:
            out.append(_char(av[0]) + "-" + _char(av[1]))
        elif op is _C.CATEGORY and av in _CATEGORIES:
            out.append(_CATEGORIES[av])
        else:  # a negated class, a class of a locale ...
            raise _Unknown
    return out


def _first(seq: Any, flags: int) -> tuple[list[str], bool]:
    """(the class items a match of ``seq`` can begin with, whether ``seq`` can match the empty string)."""
    out: list[str] = []
    for op, av in seq:
        if op is _C.LITERAL:
            return [*out, _char(av)], False
        if op is _C.IN:
            return out + _items(av), False
        if op in _ZERO_WIDTH:
            continue  # consumes nothing; the lookahead of the scan checks it
        if op is _C.SUBPATTERN:
            _group, add, remove, sub = av
            if add & ~flags & re.IGNORECASE or remove & flags & re.IGNORECASE:
                raise _Unknown  # a group with its own case rule: the class would not match alike
            got, empty = _first(sub, flags)
        elif op is _C.ATOMIC_GROUP:
            got, empty = _first(av, flags)
        elif op is _C.BRANCH:
            got, empty = [], False
            for alt in av[1]:
                a, e = _first(alt, flags)
                got += a
                empty = empty or e
        elif op in _REPEATS:
            lo, _hi, sub = av
            got, empty = _first(sub, flags)
            empty = empty or lo == 0
        else:  # ANY, NOT_LITERAL, GROUPREF, ...
            raise _Unknown
        out += got
        if not empty:
            return out, False
    return out, True


def first_class(rx: re.Pattern[str]) -> str | None:
    """A character class (``[...]``) holding every character a match of ``rx`` can begin with, or None
    when it cannot be told or ``rx`` may match the empty string."""
    if not isinstance(rx.pattern, str):
        return None
    try:
        items, empty = _first(_P.parse(rx.pattern, rx.flags), rx.flags)
    except (_Unknown, re.error, RecursionError):
        return None
    if empty or not items:
        return None
    return "[" + "".join(dict.fromkeys(items)) + "]"


def engine_skips(rx: re.Pattern[str]) -> bool:
    """Whether the regex engine itself skips to the candidates of ``rx`` (a literal prefix, or a class of
    first characters it can use: none with a cased letter under IGNORECASE), as ``re`` compiles it."""
    try:
        parsed = _P.parse(rx.pattern, rx.flags)
        prefix, _skip, _all = _COMPILER._get_literal_prefix(parsed, rx.flags)
        return bool(prefix) or _COMPILER._get_charset_prefix(parsed, rx.flags) is not None
    except Exception:  # another version of ``re``: take the scan (the same matches)
        return False


def skipping(rx: re.Pattern[str]) -> re.Pattern[str] | None:
    """A scan hitting the positions where ``rx`` matches, opening with ``first_class(rx)`` (a match of the
    scan consumes the first character only), or None when there is no such class or the engine already
    skips to the candidates of ``rx``."""
    cls = first_class(rx)
    if cls is None or engine_skips(rx) or rx.flags & re.VERBOSE:  # (a comment would swallow what follows)
        return None
    # the lookbehind steps back over the character consumed and checks the whole pattern from there
    try:
        return re.compile(cls + "(?<=(?=" + rx.pattern + ")(?s:.))", rx.flags)
    except re.error:  # e.g. global flags written inside the pattern
        return None


def finditer(
    rx: re.Pattern[str], scan: re.Pattern[str] | None, text: str, start: int, end: int
) -> Iterator[re.Match[str]]:
    """``rx.finditer(text, start, end)`` (``rx`` never matches the empty string when ``scan`` is given):
    with ``scan``, each match of ``rx`` is taken where the scan hits, after the end of the match before."""
    if scan is None:
        yield from rx.finditer(text, start, end)
        return
    last = start
    for hit in scan.finditer(text, start, end):
        pos = hit.start()
        if pos < last:
            continue
        m = rx.match(text, pos, end)
        if m is None:  # pragma: no cover - the scan hit only where rx matches
            continue
        last = m.end()
        yield m
