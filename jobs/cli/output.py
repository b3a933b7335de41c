"""Rows to stdout through polars: JSON lines, one JSON array and CSV, without a Python loop over
the rows.

JSON lines are written as polars' ``write_ndjson`` writes them: compact separators
(``{"a":1,"b":"x"}``), one object a line, keys in column order. Each value has the text
``json.dumps(jsonable(v), ensure_ascii=False)`` gives it, so a line is
``json.dumps(row, ensure_ascii=False, separators=(",", ":"))``: floats as Python's ``repr``
(polars' shortest round-trip text is the same but for magnitudes below 1e-4, which Python writes in
exponent form: those few are formatted in Python), NaN as null, dates ISO, UTC times ISO with
``Z``. One JSON array (``write_json``, ``query --format json``) keeps ``json.dumps``' spacing
(``[{"a": 1, "b": "x"}]``). CSV is the text of the ``csv`` module. Values of other types (lists,
structs, zoned times other than UTC) and strings with rare control characters are formatted in
Python, per column. Output is written in slices of ``CHUNK_ROWS`` rows, so the text of a large
frame is never held at once.

Fast paths: a slice whose columns polars already writes as Python would (strings, integers,
booleans, dates, floats without NaN, infinities or magnitudes below 1e-4) goes through
``write_ndjson`` (JSON lines: as is, straight into the output stream; the JSON array: its separators
``,"`` and ``":`` then spaced as ``json.dumps`` spaces them: inside a JSON string a quote is
escaped, so ``,"`` never occurs there, nor ``":`` unless after a backslash, which sends the slice
to per-key replacements) or ``write_csv`` (CSV: booleans as ``True``/``False``, UTC times as
``jsonable`` writes them, empty strings as empty fields). Other slices are built value by value as
text columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable
from typing import Any, TextIO

import polars as pl

CHUNK_ROWS = 200_000
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"   # control characters other than \t \n \r


def jsonable(v: Any) -> Any:
    """A scalar as JSON and tables show it: dates ISO, datetimes ISO with ``Z``, NaN as null."""
    if isinstance(v, dt.datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _in_python(s: pl.Series, fmt: Callable[[Any], str | None]) -> pl.Series:
    return pl.Series(s.name, [fmt(v) for v in s.to_list()], dtype=pl.String)


def _float_text(s: pl.Series, *, nan: str | None, inf: tuple[str, str]) -> pl.Series:
    """Python's ``repr`` of each float (NaN as ``nan``, infinities as ``inf``), null for null."""
    text = s.cast(pl.String)
    odd = (s.is_nan() | s.is_infinite() | ((s.abs() < 1e-4) & (s != 0))).fill_null(False)
    if odd.any():
        idx = odd.arg_true()
        values = s.gather(idx).to_list()
        fixed = [nan if math.isnan(v) else (inf[0] if v > 0 else inf[1]) if math.isinf(v) else repr(v)
                 for v in values]
        text = text.scatter(idx, pl.Series(fixed, dtype=pl.String))
    return text


def _time_text(s: pl.Series) -> pl.Series | None:
    """ISO text of dates and (naive or UTC) times as ``jsonable`` gives it; None for other types."""
    dtype = s.dtype
    if dtype == pl.Date:
        return s.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone in (None, "UTC"):
        zone = "Z" if dtype.time_zone == "UTC" else ""
        whole = s.dt.to_string("%Y-%m-%dT%H:%M:%S")
        micro = s.dt.microsecond()
        frac = pl.Series([""] * s.len(), dtype=pl.String) if not (micro != 0).any() else (
            pl.select(pl.when(micro != 0).then(pl.lit(".") + micro.cast(pl.String).str.zfill(6))
                      .otherwise(pl.lit(""))).to_series())
        return pl.select(pl.concat_str([whole, frac, pl.lit(zone)])).to_series()
    return None


def _json_text(s: pl.Series, *, compact: bool) -> pl.Series:
    """``json.dumps(jsonable(v), ensure_ascii=False)`` of each value of ``s`` (nested values with
    ``separators=(",", ":")`` when ``compact``)."""
    seps = (",", ":") if compact else (", ", ": ")
    dtype = s.dtype
    if dtype == pl.String:
        if s.str.contains(_CONTROL).any():
            text = _in_python(s, lambda v: json.dumps(v, ensure_ascii=False))
        else:
            esc = (s.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
                   .str.replace_all("\n", "\\n", literal=True).str.replace_all("\r", "\\r", literal=True)
                   .str.replace_all("\t", "\\t", literal=True))
            text = pl.select(pl.lit('"') + esc + pl.lit('"')).to_series()
    elif dtype.is_float():
        text = _float_text(s, nan="null", inf=("Infinity", "-Infinity"))
    elif dtype.is_integer():
        text = s.cast(pl.String)
    elif dtype == pl.Boolean:
        text = s.replace_strict({True: "true", False: "false"}, return_dtype=pl.String)
    elif dtype == pl.Null:
        text = pl.Series([None] * s.len(), dtype=pl.String)
    elif (iso := _time_text(s)) is not None:
        text = pl.select(pl.lit('"') + iso + pl.lit('"')).to_series()
    else:
        text = _in_python(s, lambda v: json.dumps(jsonable(v), ensure_ascii=False, separators=seps))
    return text.fill_null("null")


def _csv_text(s: pl.Series, *, alone: bool) -> pl.Series:
    """The ``csv`` module's field for ``"" if v is None else jsonable(v)`` (quoting left to polars).

    Empty fields are null, as Python leaves them unquoted; a frame of one column (``alone``) has
    them as empty strings, which polars quotes as Python does (``""``)."""
    dtype = s.dtype
    if dtype == pl.String:
        text = s
    elif dtype.is_float():
        text = _float_text(s, nan=None, inf=("inf", "-inf"))
    elif dtype.is_integer():
        text = s.cast(pl.String)
    elif dtype == pl.Boolean:
        text = s.replace_strict({True: "True", False: "False"}, return_dtype=pl.String)
    elif dtype == pl.Null:
        text = pl.Series([None] * s.len(), dtype=pl.String)
    elif (iso := _time_text(s)) is not None:
        text = iso
    else:
        text = _in_python(s, lambda v: None if v is None else str(jsonable(v)))
    if alone:
        return text.fill_null("")
    return pl.select(pl.when(text != "").then(text)).to_series()


def _plain_floats(s: pl.Series) -> bool:
    """True when polars writes every float of ``s`` as Python's ``repr`` does."""
    odd = s.is_nan() | s.is_infinite() | ((s.abs() < 1e-4) & (s != 0))
    return not bool(odd.any())


def _native_json(df: pl.DataFrame) -> pl.DataFrame | None:
    """``df`` with UTC times as ``jsonable`` text, if ``write_ndjson`` then writes every value as
    ``json.dumps`` does; None otherwise."""
    fixed = []
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        if dtype.is_float():
            if not _plain_floats(s):
                return None
        elif isinstance(dtype, pl.Datetime):
            iso = _time_text(s)
            if iso is None:
                return None
            fixed.append(iso)
        elif not (dtype == pl.String or dtype.is_integer() or dtype in (pl.Boolean, pl.Date, pl.Null)):
            return None
    return df.with_columns(fixed) if fixed else df


def _spaced_json_bytes(df: pl.DataFrame) -> bytes:
    """The rows of ``df`` as JSON objects, one a line (each ending with a newline), as ``json.dumps``
    spaces them (``{"a": 1, "b": 2}``)."""
    native = _native_json(df)
    if native is None:
        lines = json_lines(df, compact=False)
        return (lines.str.join("\n").item() + "\n").encode() if lines.len() else b""
    buf = io.BytesIO()
    native.write_ndjson(buf)
    data = buf.getvalue()
    texts = [df.get_column(c) for c, t in df.schema.items() if t == pl.String]
    if data and not any(t.str.contains('":', literal=True).any() for t in texts):
        # every ": ends a key (no value holds one): both separators spaced by polars, line by line
        # (no raw control character is left in JSON text, so \x01 separates no line)
        rows = pl.read_csv(io.BytesIO(data), has_header=False, separator="\x01", quote_char=None,
                         new_columns=["line"], schema={"line": pl.String})
        spaced = rows.select(pl.col("line").str.replace_all(',"', ', "', literal=True)
                              .str.replace_all('":', '": ', literal=True))
        out = io.BytesIO()
        spaced.write_csv(out, include_header=False, quote_style="never", line_terminator="\n")
        return out.getvalue()
    data = data.replace(b',"', b', "')
    for name in df.columns:
        key = json.dumps(name, ensure_ascii=False).encode()
        data = data.replace(b'{' + key + b":", b'{' + key + b": ")
        data = data.replace(b', ' + key + b":", b', ' + key + b": ")
    return data


def json_lines(df: pl.DataFrame, *, compact: bool = True) -> pl.Series:
    """One JSON object per row, as ``json.dumps(row_dict, ensure_ascii=False)`` writes it: with
    ``separators=(",", ":")`` (as ``write_ndjson``) when ``compact``, else with its default spacing."""
    if df.width == 0:
        return pl.Series(["{}"] * df.height, dtype=pl.String)
    comma, colon = (",", ":") if compact else (", ", ": ")
    parts: list[pl.Series | pl.Expr] = []
    for i, name in enumerate(df.columns):
        key = ("{" if i == 0 else comma) + json.dumps(name, ensure_ascii=False) + colon
        parts += [pl.lit(key), _json_text(df.get_column(name), compact=compact)]
    parts.append(pl.lit("}"))
    return pl.select(pl.concat_str(parts).alias("line")).to_series()


def _out(out: TextIO) -> Callable[[bytes], Any]:
    """A writer of UTF-8 bytes to ``out`` (its binary buffer when it has one)."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
        return buffer.write  # type: ignore[no-any-return]
    return lambda data: out.write(data.decode())


def write_jsonl(df: pl.DataFrame, out: TextIO) -> None:
    """``df`` as JSON lines on ``out``, as ``write_ndjson`` writes them (compact separators)."""
    write = _out(out)
    buffer = getattr(out, "buffer", None)
    for chunk in df.iter_slices(CHUNK_ROWS):
        if chunk.height == 0:
            continue
        native = _native_json(chunk)
        if native is None:
            write((json_lines(chunk).str.join("\n").item() + "\n").encode())
        elif buffer is not None:   # straight into the binary stream (``_out`` flushed the text layer)
            native.write_ndjson(buffer)
        else:
            data = io.BytesIO()
            native.write_ndjson(data)
            write(data.getvalue())


def write_json(df: pl.DataFrame, out: TextIO) -> None:
    """``df`` as one JSON array of row objects on ``out`` (``json.dumps(rows)`` and a newline)."""
    write = _out(out)
    write(b"[")
    first = True
    for chunk in df.iter_slices(CHUNK_ROWS):
        data = _spaced_json_bytes(chunk)
        if data:
            write((b"" if first else b", ") + data[:-1].replace(b"}\n{", b"}, {"))
            first = False
    write(b"]\n")


def _native_csv(df: pl.DataFrame, *, alone: bool) -> pl.DataFrame:
    """``df`` with the columns ``write_csv`` would write otherwise than the ``csv`` module made text."""
    fixed = []
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        if alone and s.null_count():   # the csv module quotes a lone empty field: ""
            fixed.append(_csv_text(s, alone=alone))
            continue
        if dtype.is_integer() or dtype in (pl.Date, pl.Null):
            continue
        if dtype == pl.String and (alone or not bool((s == "").any())):
            continue
        if dtype.is_float() and _plain_floats(s):
            continue
        fixed.append(_csv_text(s, alone=alone))
    return df.with_columns(fixed) if fixed else df


def write_csv(df: pl.DataFrame, out: TextIO) -> None:
    """``df`` as CSV on ``out`` (a header line, then the rows), as ``csv.writer`` writes it."""
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(df.columns)
    write = _out(out)
    write(head.getvalue().encode())
    alone = df.width == 1
    buffer = getattr(out, "buffer", None)
    for chunk in df.iter_slices(CHUNK_ROWS):
        if chunk.height == 0:
            continue
        text = _native_csv(chunk, alone=alone)
        if buffer is not None:   # straight into the binary stream (``_out`` flushed the text layer)
            text.write_csv(buffer, include_header=False, null_value="", line_terminator="\n")
        else:
            write(text.write_csv(include_header=False, null_value="", line_terminator="\n").encode())
