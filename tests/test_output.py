"""The polars writers of the CLI: CSV and one JSON array give, byte for byte, what the row-by-row
writers gave; JSON lines are written as polars' ``write_ndjson`` writes them (compact separators),
with the same values as the former spaced lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from jobs.cli.output import jsonable, write_csv, write_json, write_jsonl

UTC = dt.UTC


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def row_by_row(df: pl.DataFrame, fmt: str) -> str:
    """The writers as rows of Python: ``json.dumps`` per row (JSON lines with compact separators,
    as ``write_ndjson``), the ``csv`` module."""
    if fmt == "json":
        return json.dumps(_rows(df), ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in _rows(df))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(df.columns)
    for values in df.iter_rows():
        w.writerow(["" if v is None else jsonable(v) for v in values])
    return buf.getvalue()


def through_polars(df: pl.DataFrame, fmt: str) -> str:
    buf = io.StringIO()
    {"json": write_json, "jsonl": write_jsonl, "csv": write_csv}[fmt](df, buf)
    return buf.getvalue()


FRAMES = {
    "mixed": pl.DataFrame({
        "s": ["plain", 'quote " and \\ back', "new\nline\r\ttab", "comma, here", "", None, "ünï 中文 \u2028",
              "bell\x07 esc\x1b"],
        "f": [0.1, 1e20, 1e-05, -0.0, math.nan, None, math.inf, -math.inf],
        "i": [1, -2, None, 4, 5, 6, 7, 2**62],
        "b": [True, False, None, True, False, True, True, False],
        "d": [dt.date(2026, 5, 29), None, dt.date(1999, 1, 4), dt.date(2026, 1, 1)] * 2,
        "t": [dt.datetime(2026, 5, 29, 21, tzinfo=UTC), dt.datetime(2026, 5, 29, 21, 0, 0, 1500, tzinfo=UTC),
              None, dt.datetime(2000, 1, 1, tzinfo=UTC)] * 2,
        "n": [dt.datetime(2026, 5, 29, 21, 30), None] * 4,
        "l": [[1, 2], [], None, [3], [4], [5], [6], [7]],
    }),
    "quotes and colons": pl.DataFrame({"k": ['say "a": 1', 'x":', '\\":', "plain"], "n": [1, 2, 3, 4]}),
    "one column": pl.DataFrame({"s": ["a", "", None, "b,c"]}),
    "empty": pl.DataFrame(schema={"a": pl.String, "b": pl.Float64}),
    "control characters": pl.DataFrame({"s": ["bell\x07 esc\x1b", "del\x7f", "</script>", "\u2028 ü"],
                                         "x": [1.5, 2.0, None, -0.0]}),
    "floats": pl.DataFrame({"x": [float(f"{m}e{e}") for m in (1, -3.25, 7.123456789)
                                  for e in range(-12, 22, 3)]}),
}


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize("name", list(FRAMES))
def test_polars_writers_match_the_row_by_row_ones(name: str, fmt: str) -> None:
    """JSON, JSON lines and CSV through polars are the text the former per-row writers gave."""
    df = FRAMES[name]
    assert through_polars(df, fmt) == row_by_row(df, fmt)


def test_large_frames_are_written_in_slices() -> None:
    """A frame of several slices gives the same text as one written at once."""
    n = 120_001
    df = pl.DataFrame({"i": range(n), "x": [i / 7 for i in range(n)], "s": [f"t{i % 13}" for i in range(n)]})
    for fmt in ("json", "jsonl", "csv"):
        assert through_polars(df, fmt) == row_by_row(df, fmt), fmt


def _former_jsonl(df: pl.DataFrame) -> str:
    """JSON lines as they were written before: ``json.dumps`` with its default spacing."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(df))


def _parsed(text: str) -> list[list[tuple[str, Any]]]:
    return [list(json.loads(line).items()) for line in text.split("\n")[:-1]]


@pytest.mark.parametrize("name", list(FRAMES))
def test_jsonl_has_the_values_of_the_former_spaced_lines(name: str) -> None:
    """Compact JSON lines parse to what the former spaced lines parsed to: the same keys in the same
    order, the same values of the same types (dates and times as the same ISO text, NaN as null)."""
    df = FRAMES[name]
    new, old = through_polars(df, "jsonl"), _former_jsonl(df)
    assert new != old or df.height == 0    # the spacing did change
    a, b = _parsed(new), _parsed(old)
    assert len(a) == len(b) == df.height
    for x, y in zip(a, b, strict=True):
        assert [k for k, _ in x] == [k for k, _ in y]
        assert [type(v) for _, v in x] == [type(v) for _, v in y]
        assert [v for _, v in x] == [v for _, v in y]   # inf == inf; NaN was and is null


def test_jsonl_is_what_write_ndjson_writes() -> None:
    """A frame of the types polars writes as Python does is written exactly as ``write_ndjson``
    writes it."""
    df = pl.DataFrame({"rule": ["a", 'q"x', None], "entity": ["T1", "T2", "ü"], "n": [1, None, 3],
                       "at": [dt.date(2026, 5, 29), None, dt.date(2000, 1, 3)], "value": [0.1, 1e20, None],
                       "ok": [True, None, False]})
    buf = io.BytesIO()
    df.write_ndjson(buf)
    assert through_polars(df, "jsonl") == buf.getvalue().decode()


def test_jsonl_into_a_file_goes_through_its_binary_buffer(tmp_path: Path) -> None:
    """Written into a text file (as into stdout), the lines land after the text written before them."""
    df = pl.concat([FRAMES["quotes and colons"], FRAMES["quotes and colons"]])
    path = tmp_path / "out.jsonl"
    with path.open("w") as f:
        f.write("first line\n")
        write_jsonl(df, f)
        f.write("last line\n")
    assert path.read_text() == "first line\n" + row_by_row(df, "jsonl") + "last line\n"
