"""Text normalization that keeps offsets: ``normalize(text)`` has exactly ``len(text)`` characters.

Three steps, each mapping one character to one character so that an offset into the normalized
text is the same offset into the original:

1. traditional to simplified Chinese with OpenCC ``t2s``. OpenCC converts phrases, and a phrase
   rule may change the length (rare). Each line is converted at once and its length verified; a
   line whose length changed is converted character by character instead (each character alone,
   so the result has one character per input character);
2. full-width ASCII forms (U+FF01..U+FF5E: digits, letters, punctuation) to ASCII;
3. odd spaces (no-break, ideographic, thin, zero-width, BOM) to a plain ``' '``.

Tabs and line breaks are kept. Fast: the converter is built once and cached; typical text runs at
tens of MB/s.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_ODD_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)

_TABLE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_TABLE.update({ord(c): 0x20 for c in _ODD_SPACES})
_TABLE[0xFFE5] = ord("¥")  # full-width yen/yuan sign
_TABLE[0xFFE0] = ord("¢")
_TABLE[0xFFE1] = ord("£")


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc  # noqa: PLC0415 - opencc is heavy; loaded only when used

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def _char_t2s(ch: str) -> str:
    """One character converted alone; itself if the conversion is not exactly one character."""
    out: str = _converter().convert(ch)
    return out if len(out) == 1 else ch


def _t2s_line(line: str) -> str:
    out: str = _converter().convert(line)
    if len(out) == len(line):
        return out
    return "".join(_char_t2s(c) for c in line)


def to_simplified(text: str) -> str:
    """``text`` in simplified characters, one output character per input character."""
    if not text or text.isascii():
        return text
    # an ASCII line is left as it is (no conversion rule holds an ASCII character: ``test_normalize``)
    return "".join(
        line if line.isascii() else _t2s_line(line) for line in text.splitlines(keepends=True)
    )


_FOLD_CHARS = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_TABLE)) + "]+")
_FOLD_STR: dict[int, str] = {cp: chr(to) for cp, to in _TABLE.items()}


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_FOLD_STR)


def fold_width(text: str) -> str:
    """Full-width ASCII forms to ASCII and odd spaces to ``' '`` (length kept)."""
    if text.isascii():
        return text
    # only the runs that change are translated (``str.translate`` is slow over CJK text)
    return _FOLD_CHARS.sub(_fold_run, text)


def normalize(text: str) -> str:
    """Simplified, half-width, plain-spaced form of ``text`` with exactly the same length."""
    out = fold_width(to_simplified(text))
    if len(out) != len(text):  # pragma: no cover - each step is length-preserving by construction
        raise AssertionError("normalize changed the text length")
    return out


def ascii_lower(text: str) -> str:
    """``text`` with only ASCII A-Z lowered (``str.lower`` may change the length of some letters)."""
    if text.isascii():
        return text.lower()
    # bytes.lower() touches only ASCII letters, and UTF-8 never uses ASCII bytes inside a character
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


# the letters that a regex with IGNORECASE matches to ASCII ones (İ ı to i, ſ to s, the Kelvin sign to
# k) but ``ascii_lower`` leaves as they are: where a text has none, a case-sensitive pattern of lower
# case words run over ``ascii_lower(text)`` finds what the IGNORECASE pattern finds in the text
ODD_CASE = ("\u0130", "\u0131", "\u017f", "\u212a")


def has_odd_case(text: str) -> bool:
    """Whether ``text`` holds one of the ``ODD_CASE`` letters."""
    return not text.isascii() and any(c in text for c in ODD_CASE)
