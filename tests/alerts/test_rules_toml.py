"""``parse_toml``: rtoml's speed, ``tomllib``'s result and errors (types, zones, key order, messages)."""

from __future__ import annotations

import datetime as dt
import math
import struct
import tomllib
from typing import Any

import pytest

from metrics.alerting.rules_toml import _rtoml, parse_toml


def strict(v: Any) -> Any:
    """A form of a parsed value that tells apart what ``==`` does not: types, key order, float bits,
    the sign of NaN, the class of a zone."""
    if isinstance(v, dict):
        return ("dict", type(v), [(k, strict(x)) for k, x in v.items()])
    if isinstance(v, list):
        return ("list", type(v), [strict(x) for x in v])
    if isinstance(v, float):
        return ("float", type(v), math.copysign(1, v) if math.isnan(v) else struct.pack("<d", v))
    if isinstance(v, dt.datetime | dt.time):
        return (type(v), v.replace(tzinfo=None).isoformat(), type(v.tzinfo), v.utcoffset())
    return (type(v), v)


# Read by rtoml: the same result as tomllib's.
SAME = {
    "rules": """
[[rules]]
name = "a"
series = "prices.close"
entities = ["NVDA", "AMD"]
condition = "value < 100 and period like 'FY%'"
for = "2 bars"
summary = "{entity}: {value:.2f}"

[[rules]]
name = "b"
series = "facts.revenue"
condition = "revision_pct > 5"
""",
    "offsets": """
utc = 1979-05-27T07:32:00Z
lower_z = 1979-05-27t07:32:00z
minus = 1979-05-27T00:32:00-07:00
plus = 1979-05-27T00:32:00.999999+05:30
zero = 1979-05-27T07:32:00+00:00
minus_zero = 1979-05-27T07:32:00-00:00
space = 1979-05-27 07:32:00.5+01:00
nanos = 1979-05-27T00:32:00.999999999-07:00
in_array = [1979-05-27T07:32:00Z, 2000-01-01T00:00:00+09:00]
[t]
at = 1979-05-27T07:32:00Z
""",
    "local": """
date = 1979-05-27
datetime = 1979-05-27T07:32:00
datetime_frac = 1979-05-27T07:32:00.1234567
time = 07:32:00
time_frac = 00:32:00.999999999
leap = 2000-02-29
""",
    "arrays of tables": """
[[fruits]]
name = "apple"
colors = ["red", "green"]
[[fruits]]
name = "banana"
[[vegetables]]
[[fruits]]
""",
    "strings": r'''
basic = "tab\there \"quoted\" \\ back"
unicode4 = "caf\u00e9"
unicode8 = "\U0001F600 \U0010FFFF"
literal = 'C:\Users\{x}'
cjk = "營收年增 52.7%"
empty = ""
key_order = 1
"quoted key" = 2
a.b.c = 3
''',
    "numbers": """
max = 9223372036854775807
min = -9223372036854775808
hex = 0xDEADbeef
oct = 0o755
bin = 0b1101
under = 1_000_000
inf = inf
pinf = +inf
ninf = -inf
nan = nan
pnan = +nan
nnan = -nan
zero = -0.0
exp = 6.626e-34
big = 1.7976931348623157e308
tiny = 5e-324
round = 0.1
bools = [true, false]
""",
    "big ints": "a = 92233720368547758070\nb = -9223372036854775809\nc = 0xFFFFFFFFFFFFFFFFFFFF\n",
    "empty": "",
    "comments only": "# nothing\n\n# here\n",
}


@pytest.mark.parametrize("name", SAME)
def test_rtoml_reads_what_tomllib_reads(name: str) -> None:
    text = SAME[name]
    assert _rtoml(text) is not None  # rtoml read it
    assert strict(parse_toml(text)) == strict(tomllib.loads(text))


def test_offsets_are_datetime_timezones() -> None:
    data = parse_toml(SAME["offsets"])
    assert data["utc"].tzinfo is dt.UTC
    assert data["zero"].tzinfo is dt.UTC and data["minus_zero"].tzinfo is dt.UTC
    assert data["minus"].tzinfo == dt.timezone(dt.timedelta(hours=-7))
    assert type(data["in_array"][1].tzinfo) is dt.timezone
    assert data["t"]["at"] == dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC)


# Left to tomllib: beyond rtoml (a float that overflows to inf) or TOML 1.1 that rtoml accepts and
# the tomllib of TOML 1.0 would reject; the result is tomllib's whichever it is.
TOMLLIB = {
    "float overflow": "a = 1e400\n",
    "inline table": 'point = { x = 1, y = "2" }\n',
    "inline tables in an array": "a = [\n  # first\n  {x = 1},\n  {x = 2},\n]\n",
    "multi-line inline table": "t = {a = 1,\n  b = 2}\n",
    "inline trailing comma": "t = {a = 1, }\n",
    "time without seconds": "t = 07:32\n",
    "datetime without seconds": "t = 1979-05-27T07:32Z\n",
    "escape e": 'a = "\\e[0m"\n',
    "escape x": 'a = "\\x41"\n',
    "byte order mark": "\ufeffa = 1\n",
    "multi-line string and inline table": 'a = """\nx\n"""\nb = {c = 1}\n',
    "crlf": "a = 1\r\nb = 'x'\r\n",
    "crlf in a multi-line string": 'a = """x\r\ny"""\r\n',  # tomllib: "x\ny"; rtoml: "x\r\ny"
    # rtoml puts "a" after "c" (where [a] is), tomllib before (where [a.b] made it)
    "a super-table defined after its sub-table": "[a.b]\nx = 1\n[c]\ny = 2\n[a]\nz = 3\n",
    "the same, a comment first": "# c\n[ a . b ]\nx = 1\n[c]\ny = 2\n[a]\nz = 3\n",
    "nested arrays of tables": """
[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"
[[fruits.varieties]]
name = "granny smith"
[[fruits]]
name = "banana"
[[fruits.varieties]]
name = "plantain"
""",
}


@pytest.mark.parametrize("name", TOMLLIB)
def test_tomllib_reads_what_rtoml_may_read_otherwise(name: str) -> None:
    text = TOMLLIB[name]
    assert _rtoml(text) is None
    try:
        expected = strict(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        with pytest.raises(tomllib.TOMLDecodeError) as got:
            parse_toml(text)
        assert str(got.value) == str(e)
    else:
        assert strict(parse_toml(text)) == expected


def test_strings_that_only_look_like_inline_tables_stay_with_rtoml() -> None:
    text = 'summary = "{entity}, {value}: = {x}"\nlit = \'[{a}]\'\n# = {comment}\n'
    assert _rtoml(text) is not None
    assert parse_toml(text) == tomllib.loads(text)


INVALID = [
    "a = 1\na = 2\n",  # duplicate key
    "[t]\nx = 1\n[t]\ny = 2\n",  # table defined twice
    "a = \n",
    'a = "unterminated\n',
    "a = 1979-13-01\n",
    "a = 07:60:00\n",
    "a = 1__0\n",
    "a = 01\n",
    "a = [1, 2\n",
    "[[rules]]\nname = 'x'\n[rules]\n",  # a table over an array of tables
    "x = 1 y = 2\n",
    "a = 'x' # \x00\n",
    '"a" = 1\n"a" = 2\n',
    "a.b = 1\na = 2\n",
    "a = true\nb = TRUE\n",
    "\na = nan1\n",
    'a = "\\q"\n',
    "a = {b = 1}\na.c = 2\n",
    "a = [ {b = 1}, ]\n[[a]]\n",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_files_give_tomllib_s_error(text: str) -> None:
    with pytest.raises(tomllib.TOMLDecodeError) as expected:
        tomllib.loads(text)
    with pytest.raises(tomllib.TOMLDecodeError) as got:
        parse_toml(text)
    assert str(got.value) == str(expected.value)  # message, line and column
