"""TOML for rules files: ``rtoml`` (Rust, several times faster than ``tomllib``), ``tomllib``'s result.

``parse_toml(text)`` returns what ``tomllib.loads(text)`` returns, value for value and type for
type (offset date-times carry ``datetime.timezone``, as ``tomllib``'s do). ``tomllib`` parses the
text instead whenever rtoml could disagree with it:

- rtoml rejects the text or fails in any way (invalid TOML, a float that overflows to ``inf``):
  ``tomllib`` parses it, so a bad file raises ``tomllib.TOMLDecodeError`` with ``tomllib``'s
  message, line and column, as before;
- the text may use a construct of TOML 1.1 that rtoml accepts and a ``tomllib`` of TOML 1.0 (the
  one of Python 3.11) rejects: a byte order mark, ``\\e`` and ``\\xHH`` escapes, a time without
  seconds, an inline table (it may span lines or end with a comma);
- rtoml would read it otherwise: a carriage return (rtoml keeps the CRLF of a multi-line
  string, ``tomllib`` makes it LF; a file read as text has none), a dotted table header
  (``[a.b]``: rtoml places ``a`` among its siblings where a later ``[a]`` is, ``tomllib`` where it
  first appears).

The checks are made on the text, and err on the side of ``tomllib``: a string that merely looks
like such a construct costs speed, never a different result.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from typing import Any

import rtoml

# ``07:32`` or ``1979-05-27T07:32Z`` (no seconds), not the offset of ``07:32:00+05:30``.
_NO_SECONDS = re.compile(r":\d\d(?![:\d])(?<=(?<![\d:+-])\d\d:\d\d)")
# ``{`` where an inline table may start: after ``=``, ``[`` or ``,`` (blanks, newlines and comments
# between); one pattern each, as a pattern that starts with a character is found fastest.
_MAYBE_INLINE = tuple(re.compile(rf"{c}(?:[ \t\r\n]++|#[^\n]*+)*+\{{") for c in ("=", r"\[", ","))
# A line that opens ``{`` outside strings and comments (a line starts outside a string when the
# text has no multi-line string); searched after a newline, as ``_DOTTED_HEADER``.
_INLINE = re.compile(r"""\n(?:[^\n"'{#]++|"(?:[^"\\\n]++|\\.)*+"|'[^'\n]*+')*+\{""")
# A table header with a dotted name (``[a.b]``, ``[[a.b]]``): it creates its super-tables, whose
# place among their siblings rtoml takes from a later ``[a]`` and ``tomllib`` from the first header.
_DOTTED_HEADER = re.compile(r"\n[ \t]*\[[^\n]*\.")  # searched in the text after a newline
# An offset date-time (``...:00Z``, ``...:00.5-07:00``): the result holds rtoml's tzinfo.
_OFFSET = re.compile(r":\d\d(?:\.\d+)?(?:[zZ]|[+-]\d\d:)")


def _may_differ(text: str) -> bool:
    """Whether ``text`` may hold a construct rtoml reads otherwise than ``tomllib`` (TOML 1.0)."""
    if text.startswith("\ufeff") or "\r" in text or "\\e" in text or "\\x" in text:
        return True
    first_line = "\n" + text.partition("\n")[0]
    if _NO_SECONDS.search(text) or _DOTTED_HEADER.search(text) or _DOTTED_HEADER.match(first_line):
        return True
    if not any(p.search(text) for p in _MAYBE_INLINE):
        return False
    return '"""' in text or "'''" in text or bool(_INLINE.search(text) or _INLINE.match(first_line))


_ZONES: dict[dt.timedelta | None, dt.timezone] = {}


def _zone(offset: dt.timedelta | None) -> dt.timezone:
    """``tomllib``'s zone of an offset (``timezone.utc`` for ``Z`` and ``+00:00``)."""
    zone = _ZONES.get(offset)
    if zone is None:
        if offset is None:  # pragma: no cover - rtoml gives every offset date-time an offset
            raise ValueError("offset date-time without an offset")
        zone = _ZONES[offset] = dt.timezone(offset)
    return zone


def _with_zones(value: Any) -> Any:
    """``value`` with each aware ``datetime`` on a ``datetime.timezone`` (in place for containers)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list | dt.datetime):
                value[k] = _with_zones(v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict | list | dt.datetime):
                value[i] = _with_zones(v)
    elif isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=_zone(value.utcoffset()))
    return value


def _rtoml(text: str) -> dict[str, Any] | None:
    """rtoml's reading of ``text`` in ``tomllib``'s types, or None where ``tomllib`` must read it."""
    if _may_differ(text):
        return None
    try:
        data = rtoml.loads(text)
        if _OFFSET.search(text):
            _with_zones(data)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # rtoml's parse error, a Rust panic (a BaseException), a deep recursion
        return None
    return data if type(data) is dict else None


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, read by rtoml where it gives the same result; ``TOMLDecodeError``
    (``tomllib``'s message, line and column) for a text that is not TOML."""
    data = _rtoml(text)
    return data if data is not None else tomllib.loads(text)
