"""Daily bars from files: Yahoo-style CSV, or CSV/Parquet with a ``ticker`` column.

Accepted layouts (column names are matched case-insensitively; spaces and underscores alike):

* Yahoo CSV ``Date,Open,High,Low,Close[,Adj Close],Volume``: the ticker is the file stem
  (``NVDA.csv`` -> ``NVDA``, ``000660.KS.csv`` -> ``000660.KS``).
* CSV or Parquet with a ``ticker`` column and ``date, open, high, low, close, volume`` (the layout of
  the shared ``data/prices/*.parquet``), optionally ``adj_close`` and ``currency``.

``adj_close`` defaults to ``close``; ``currency`` comes from the file, else from ``currencies`` (the
company registry), else from the ticker's Yahoo suffix, else USD for a symbol without suffix
(``universe.currency_of``); a ticker none of these decides is an error. ``source`` is
``file:<name>``. Empty cells and Yahoo's ``null`` are missing values; a missing ``close`` is an
error. Any defect (missing column, non-numeric, non-finite or non-positive price, high below low, a
bar dated after ``now``, duplicated (ticker, date), empty file, bytes that are not UTF-8) raises
``PriceDataError`` naming the file and the line (CSV, counting the header as line 1) or row
(Parquet) and column: the whole file is rejected.

``import_price_files`` imports a batch into a store as ``metrics prices import`` does: each file's
bytes read once, hashed into the batch's ``source_key`` and parsed; a re-import of byte-identical
files whose partitions nobody touched since is proven unchanged from the table log and not parsed
(``Store.source_unchanged``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics.errors import PriceDataError
from metrics.store.prices.checks import first_problem
from metrics.store.prices.universe import currency_of
from metrics.store.schema import PRICES, conform, strictly_sorted
from metrics.store.tables import Store, WriteResult

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
REQUIRED = ("date", "open", "high", "low", "close", "volume")
_NULLS = ("", "null", "NULL", "NaN", "nan")
# part of every source key: bump it whenever the bars read from the same bytes may differ (parsing,
# checks, defaults, the currency rules of ``universe.currency_of``), so older keys no longer match
READER = "prices-file/1"


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_").removeprefix("\ufeff")


def _decode(path: Path, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        bad = raw[e.start:e.start + 1]
        raise PriceDataError(f"not UTF-8 text (byte {e.start}: {bad!r}); save the file as UTF-8",
                             source=path, line=line) from e
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise PriceDataError("NUL bytes: not a UTF-8 text file (UTF-16?)", source=path, line=line)
    return text


def _read_csv(path: Path, raw: bytes) -> tuple[pl.DataFrame, bool]:
    """The file (its bytes ``raw``) as strings, and whether its line numbers are meaningful (always,
    for CSV)."""
    if not raw.strip():
        raise PriceDataError("empty file", source=path)
    text = _decode(path, raw)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False, null_values=list(_NULLS),
                         raise_if_empty=False, truncate_ragged_lines=False)
    except pl.exceptions.PolarsError as e:
        raise PriceDataError(f"not a readable CSV file: {e}".splitlines()[0], source=path) from e
    return df, True


def _read_parquet(path: Path, raw: bytes | None) -> pl.DataFrame:
    if (len(raw) if raw is not None else path.stat().st_size) == 0:
        raise PriceDataError("empty file", source=path)
    try:
        return pl.read_parquet(path if raw is None else raw)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise PriceDataError(f"not a readable Parquet file: {e}".splitlines()[0], source=path) from e


def _where(df: pl.DataFrame, mask: pl.Series, *, csv: bool) -> tuple[int, int]:
    """Index of the first true row of ``mask`` and its line (CSV) / row (Parquet) number."""
    idx = int(mask.arg_true()[0])
    return idx, idx + 2 if csv else idx + 1


def _fail(path: Path, message: str, df: pl.DataFrame, mask: pl.Series, *, column: str,
          csv: bool) -> PriceDataError:
    _, number = _where(df, mask, csv=csv)
    if csv:
        return PriceDataError(message, source=path, line=number, column=column)
    return PriceDataError(f"row {number}: {message}", source=path, column=column)


def _numbers(path: Path, df: pl.DataFrame, name: str, original: str, dtype: type[pl.DataType], *,
             csv: bool) -> pl.Series:
    col = df.get_column(name)
    if col.dtype == pl.String:
        stripped = col.str.strip_chars()
        as_float = stripped.cast(pl.Float64, strict=False)
        bad = as_float.is_null() & stripped.is_not_null()
        if bad.any():
            value = stripped.filter(bad)[0]
            raise _fail(path, f"not a number: {value!r}", df, bad, column=original, csv=csv)
        col = as_float
    elif not col.dtype.is_numeric():
        raise PriceDataError(f"not numeric ({col.dtype})", source=path, column=original)
    col = col.cast(pl.Float64)
    nan = col.is_nan().fill_null(value=False)
    if nan.any():
        raise _fail(path, "not a number: NaN", df, nan, column=original, csv=csv)
    neg = (col < 0).fill_null(value=False)
    if neg.any():
        raise _fail(path, f"negative value {col.filter(neg)[0]}", df, neg, column=original, csv=csv)
    if dtype == pl.Int64:
        frac = (col != col.floor()).fill_null(value=False)
        if frac.any():
            raise _fail(path, f"not a whole number: {col.filter(frac)[0]}", df, frac, column=original,
                        csv=csv)
    return col.cast(dtype)


def _dates(path: Path, df: pl.DataFrame, original: str, *, csv: bool) -> pl.Series:
    col = df.get_column("date")
    if col.dtype == pl.Date:
        parsed = col
    elif isinstance(col.dtype, pl.Datetime):
        parsed = col.dt.date()
    elif col.dtype == pl.String:
        text = col.str.strip_chars()
        parsed = text.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        bad = parsed.is_null() & text.is_not_null()
        if bad.any():
            raise _fail(path, f"not a date (YYYY-MM-DD): {text.filter(bad)[0]!r}", df, bad,
                        column=original, csv=csv)
    else:
        raise PriceDataError(f"not a date column ({col.dtype})", source=path, column=original)
    missing = parsed.is_null()
    if missing.any():
        raise _fail(path, "missing date", df, missing, column=original, csv=csv)
    return parsed


def _stripped(col: pl.Series) -> pl.Series:
    """``col`` with surrounding blanks removed; checked once per run of equal values (a few hundred
    tickers in a million rows sorted by ticker): not copied at all when no value has any."""
    distinct = col.rle().struct.field("value")
    if distinct.str.strip_chars().eq_missing(distinct).all():
        return col
    return col.str.strip_chars()


def _check_unique(path: Path, bars: pl.DataFrame, df: pl.DataFrame, column: str, *, csv: bool) -> None:
    """Raise naming the first line that repeats an earlier (ticker, date); sort-based, no hashing
    (and no sort for a file already in (ticker, date) order, as most are)."""
    if strictly_sorted(bars, ["ticker", "date"]):
        return
    ordered = bars.select("ticker", "date").with_row_index("__i").sort("ticker", "date", "__i")
    repeats = ordered.filter((pl.col("ticker") == pl.col("ticker").shift(1))
                             & (pl.col("date") == pl.col("date").shift(1)))
    if repeats.height:
        row = repeats.sort("__i").row(0, named=True)
        mask = pl.Series([False] * bars.height).scatter(row["__i"], True)
        raise _fail(path, f"duplicated (ticker, date) ({row['ticker']}, {row['date']})", df, mask,
                    column=column, csv=csv)


def import_price_file(path: Path | str, *, now: dt.datetime, currencies: Mapping[str, str] | None = None,
                      future_ok: bool = False, content: bytes | None = None) -> pl.DataFrame:
    """Read and validate one price file; return its bars conforming to ``schema.PRICES``.

    ``future_ok`` accepts bars dated after ``now`` (the daemon's seed when ``now`` is a replayed past).
    ``content``: the file's bytes, already read: they are what is parsed (``path`` names the file).

    Raises ``PriceDataError`` (file, line or row, column) on the first defect; nothing is returned
    for a defective file. ``currencies`` maps tickers to their currency for files without one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df, csv = _read_parquet(path, content), False
        elif suffix in (".csv", ".txt"):
            df, csv = _read_csv(path, path.read_bytes() if content is None else content)
        else:
            raise PriceDataError(f"unknown file type {suffix!r} (expected .csv or .parquet)", source=path)
    except OSError as e:
        raise PriceDataError(f"cannot read: {e.strerror or e}", source=path) from e
    originals = {_norm(c): c for c in df.columns}
    if len(originals) != len(df.columns):
        raise PriceDataError(f"duplicated column names {df.columns}", source=path)
    if "adjclose" in originals:
        originals["adj_close"] = originals.pop("adjclose")
    df = df.rename({v: k for k, v in originals.items()})
    if df.height == 0:
        raise PriceDataError("empty file: no rows", source=path)
    for name in REQUIRED:
        if name not in df.columns:
            raise PriceDataError(f"missing column (have {list(originals.values())})", source=path,
                                 column=name)
    has_ticker = "ticker" in df.columns
    if has_ticker:
        tickers = _stripped(df.get_column("ticker").cast(pl.String))
        blank = tickers.is_null() | (tickers == "")
        if blank.any():
            raise _fail(path, "missing ticker", df, blank, column=originals["ticker"], csv=csv)
    elif not csv:
        raise PriceDataError("missing column (a Parquet file names its tickers; only a Yahoo CSV takes "
                             "its ticker from the file name)", source=path, column="ticker")
    else:
        tickers = pl.Series("ticker", [path.name.removesuffix(path.suffix)] * df.height, pl.String)
    cols: dict[str, pl.Series] = {"ticker": tickers.alias("ticker"),
                                  "date": _dates(path, df, originals["date"], csv=csv)}
    for name in PRICE_COLUMNS:
        if name in df.columns:
            cols[name] = _numbers(path, df, name, originals[name], pl.Float64, csv=csv)
    if "volume" in df.columns:
        cols["volume"] = _numbers(path, df, "volume", originals["volume"], pl.Int64, csv=csv)
    no_close = cols["close"].is_null()
    if no_close.any():
        raise _fail(path, "missing close", df, no_close, column=originals["close"], csv=csv)
    bars = pl.DataFrame(cols)
    problem = first_problem(bars, now=None if future_ok else now)
    if problem is not None:
        mask = pl.Series([False] * bars.height).scatter(problem.row, True)
        raise _fail(path, problem.message, df, mask, column=originals.get(problem.column, problem.column),
                    csv=csv)
    _check_unique(path, bars, df, originals["date"], csv=csv)
    if "currency" in df.columns:
        currency = df.get_column("currency").cast(pl.String)
    else:
        currency = pl.Series("currency", [None] * bars.height, pl.String)
    registry = dict(currencies or {})
    if currency.null_count():       # the tickers of the rows without a currency decide it
        undecided = bars.get_column("ticker").filter(currency.is_null()).unique().to_list()
        decided = {t: currency_of(t, registry) for t in undecided}
        guess = pl.col("ticker").replace_strict(decided, default=None, return_dtype=pl.String)
    else:
        guess = pl.lit(None, pl.String)
    bars = bars.with_columns(
        pl.col("adj_close").fill_null(pl.col("close")) if "adj_close" in bars.columns
        else pl.col("close").alias("adj_close"),
        currency.alias("currency"),
    ).with_columns(
        pl.coalesce(pl.col("currency"), guess).alias("currency"),
        pl.lit(f"file:{path.name}").alias("source"),
        pl.lit(now).cast(PRICES["fetched_at"]).alias("fetched_at"),
    )
    unknown = bars.get_column("currency").is_null()
    if unknown.any():
        ticker = bars.filter(unknown).get_column("ticker")[0]
        raise _fail(path, f"no currency for {ticker}: add a currency column, or list the company in "
                    "companies.toml", df, unknown, column="currency", csv=csv)
    return conform(bars, "prices")


@dataclass(frozen=True, slots=True)
class PriceImport:
    """What ``import_price_files`` did: the bars of the files read (``files``; when proven unchanged
    unread, the bars recorded for them, one per key), the refused files' errors in the order given,
    and the write (None when no file could be read)."""

    rows: int
    files: int
    failed: tuple[PriceDataError, ...]
    written: WriteResult | None


def source_key(contents: Sequence[tuple[Path, bytes]], currencies: Mapping[str, str]) -> str:
    """The key of a batch of price files (``Store.append``'s ``source``): sha256 over the reader's
    version, the schema, the registry's currencies and each file's name (its bars' ``source``), size
    and sha256, in order (a later file's bar wins over an earlier one's). The same key: the same bars,
    ``fetched_at`` aside."""
    key = hashlib.sha256(json.dumps({"reader": READER, "schema": str(PRICES),
                                     "currencies": sorted(currencies.items())}).encode())
    for path, raw in contents:
        key.update(json.dumps([path.name, len(raw), hashlib.sha256(raw).hexdigest()]).encode())
    return key.hexdigest()


def import_price_files(store: Store, paths: Sequence[Path | str], *, now: dt.datetime,
                       currencies: Mapping[str, str] | None = None, future_ok: bool = False,
                       progress: Callable[[str], None] | None = None) -> PriceImport:
    """Import price files into ``store``'s prices in one write (``metrics prices import``): a file that
    cannot be read or is refused (``PriceDataError``) is left out and its error returned; the others'
    bars are appended together, keyed by ``source_key`` when none failed.

    Each file's bytes are read once: hashed for the key, then parsed (so the key recorded is that of
    the bytes stored). When every file was read and the store proves the key's bars stored as they
    are (``Store.source_unchanged``: the same bytes as an earlier import, and the partitions it wrote
    untouched since), nothing is parsed nor written and ``written.reason`` says so. ``progress`` is
    told what is being done.
    """
    say = progress or (lambda _text: None)
    registry = dict(currencies or {})
    contents: list[tuple[Path, bytes]] = []
    failed: dict[int, PriceDataError] = {}
    for i, path in enumerate(Path(p) for p in paths):
        say(f"reading {path.name}")
        try:
            contents.append((path, path.read_bytes()))
        except OSError as e:
            failed[i] = PriceDataError(f"cannot read: {e.strerror or e}", source=path)
    key = source_key(contents, registry) if contents and not failed else None
    if key is not None:
        proven = store.source_unchanged("prices", key, not_after=None if future_ok else now.date())
        if proven is not None:
            return PriceImport(proven.rows, len(contents), (), proven)
    frames: list[pl.DataFrame] = []
    order = [i for i in range(len(paths)) if i not in failed]
    for i in order:
        path, raw = contents.pop(0)
        say(f"checking {path.name}")
        try:
            frames.append(import_price_file(path, now=now, currencies=registry, future_ok=future_ok,
                                            content=raw))
        except PriceDataError as e:
            failed[i] = e
        del raw                      # the bytes are not needed any more: not held during the write
    rows = sum(f.height for f in frames)
    say("writing")
    written = (store.append("prices", pl.concat(frames), now=now, source=None if failed else key)
               if frames else None)
    return PriceImport(rows, len(frames), tuple(failed[i] for i in sorted(failed)), written)
