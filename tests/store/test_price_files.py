"""Price file import: the accepted layouts, and every kind of bad file named with its line or column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from metrics.errors import PriceDataError
from metrics.store.prices.files import import_price_file
from metrics.store.schema import PRICES
from tests.store.conftest import NOW, PRICE_SAMPLES

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
GOOD = "2025-01-02,10,11,9,10.5,10.4,1000\n2025-01-03,10.5,12,10,11.5,11.4,2000\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_yahoo_csv_takes_the_ticker_from_the_file_name(tmp_path: Path) -> None:
    """NVDA.csv gives NVDA bars with raw close, adjusted close, USD and source file:NVDA.csv."""
    df = import_price_file(write(tmp_path, "NVDA.csv", HEADER + GOOD), now=NOW)
    assert df.schema == PRICES
    row = df.row(0, named=True)
    assert (row["ticker"], row["date"], row["close"], row["adj_close"], row["volume"]) == (
        "NVDA", dt.date(2025, 1, 2), 10.5, 10.4, 1000)
    assert (row["currency"], row["source"], row["fetched_at"]) == ("USD", "file:NVDA.csv", NOW)


def test_yahoo_csv_without_adj_close_uses_close_and_registry_currency(tmp_path: Path) -> None:
    """Without Adj Close, adj_close = close; the currency comes from the registry mapping."""
    path = write(tmp_path, "000660.KS.csv", "Date,Open,High,Low,Close,Volume\n2025-01-02,1,2,1,2,5\n")
    df = import_price_file(path, now=NOW, currencies={"000660.KS": "KRW"})
    assert df.select("ticker", "close", "adj_close", "currency").row(0) == ("000660.KS", 2.0, 2.0, "KRW")


def test_shipped_samples_import(tmp_path: Path) -> None:
    """The Parquet sample (ticker column, currency column) and the Yahoo CSV sample both import."""
    parquet = import_price_file(PRICE_SAMPLES / "sample_2025q4.parquet", now=NOW)
    assert parquet.height == 490
    assert set(parquet.filter(pl.col("ticker") == "000660.KS")["currency"]) == {"KRW"}
    nvda = parquet.filter(pl.col("ticker") == "NVDA", pl.col("date") == dt.date(2025, 11, 28))
    assert nvda["close"].to_list() == [177.0]
    csv = import_price_file(PRICE_SAMPLES / "AMD.csv", now=NOW)
    assert csv.height == 42 and set(csv["ticker"]) == {"AMD"}


def test_csv_with_ticker_column(tmp_path: Path) -> None:
    """A CSV with a ticker column holds several tickers; Yahoo's 'null' cells are missing values."""
    text = "ticker,date,open,high,low,close,volume\nA,2025-01-02,1,1,1,1,null\nB,2025-01-02,2,2,2,2,7\n"
    df = import_price_file(write(tmp_path, "mixed.csv", text), now=NOW)
    assert df.select("ticker", "volume").rows() == [("A", None), ("B", 7)]


@pytest.mark.parametrize(("name", "content", "line", "column", "words"), [
    ("A.csv", "Date,Open,High,Low,Volume\n2025-01-02,1,1,1,1\n", None, "close", "missing column"),
    ("A.csv", HEADER + "2025-01-02,1,1,1,abc,1,1\n", 2, "Close", "not a number: 'abc'"),
    ("A.csv", HEADER + GOOD + "2025-01-06,1,1,-1,1,1,1\n", 4, "Low", "negative"),
    ("A.csv", HEADER + GOOD + "2025-01-02,1,1,1,1,1,1\n", 4, "Date", "duplicated"),
    ("A.csv", HEADER + "02/01/2025,1,1,1,1,1,1\n", 2, "Date", "not a date"),
    ("A.csv", HEADER + "2025-01-02,1,1,1,,1,1\n", 2, "Close", "missing close"),
    ("A.csv", HEADER + "2025-01-02,1,1,1,1,1,1.5\n", 2, "Volume", "whole number"),
    ("A.csv", "", None, None, "empty file"),
    ("A.csv", HEADER, None, None, "empty file"),
    ("A.csv", (HEADER + "2025-01-02,1,1,1,1,1,1\n2025-01-03,1,1,1,\xe9,1,1\n").encode("latin-1"), 3, None,
     "not UTF-8"),
    ("A.csv", (HEADER + GOOD).encode("utf-16"), 1, None, "not UTF-8"),
    ("A.parquet", b"PAR1 not really", None, None, "not a readable Parquet"),
    ("A.json", "{}", None, None, "unknown file type"),
])
def test_bad_files_are_rejected_naming_file_line_and_column(
        tmp_path: Path, name: str, content: str | bytes, line: int | None, column: str | None,
        words: str) -> None:
    """Each defect raises PriceDataError naming the file and, where it applies, the line and column."""
    path = write(tmp_path, name, content)
    with pytest.raises(PriceDataError) as info:
        import_price_file(path, now=NOW)
    e = info.value
    assert e.source == str(path)
    assert (e.line, e.column) == (line, column)
    assert words in str(e)
    assert str(path) in str(e)


@pytest.mark.parametrize(("frame", "row", "column", "words"), [
    (pl.DataFrame({"ticker": ["A"], "date": [dt.date(2025, 1, 2)], "open": [1.0], "high": [1.0],
                   "low": [1.0], "close": [1.0]}), None, "volume", "missing column"),
    (pl.DataFrame({"ticker": ["A", "A"], "date": [dt.date(2025, 1, 2)] * 2, "open": [1.0] * 2,
                   "high": [1.0] * 2, "low": [1.0] * 2, "close": [1.0] * 2, "volume": [1, 1]}),
     2, "date", "duplicated"),
    (pl.DataFrame({"ticker": ["A", "B"], "date": [dt.date(2025, 1, 2)] * 2, "open": [1.0] * 2,
                   "high": [1.0] * 2, "low": [1.0] * 2, "close": [1.0, -3.0], "volume": [1, 1]}),
     2, "close", "negative"),
    (pl.DataFrame({"ticker": ["A"], "date": [dt.date(2025, 1, 2)], "open": ["x"], "high": [1.0],
                   "low": [1.0], "close": [1.0], "volume": [1]}), 1, "open", "not a number"),
    (pl.DataFrame(schema={"ticker": pl.String, "date": pl.Date, "open": pl.Float64, "high": pl.Float64,
                          "low": pl.Float64, "close": pl.Float64, "volume": pl.Int64}), None, None, "empty"),
])
def test_bad_parquet_files_name_row_and_column(tmp_path: Path, frame: pl.DataFrame, row: int | None,
                                               column: str | None, words: str) -> None:
    """Parquet defects name the file, the row (1-based) and the column."""
    path = tmp_path / "bad.parquet"
    frame.write_parquet(path)
    with pytest.raises(PriceDataError) as info:
        import_price_file(path, now=NOW)
    assert info.value.column == column
    assert words in str(info.value)
    if row is not None:
        assert f"row {row}" in str(info.value)


@pytest.mark.parametrize(("body", "line", "column", "words"), [
    ("2025-01-02,10,11,9,10.5,10.4,1000\n2025-01-03,10,11,9,inf,10.4,1000\n", 3, "Close", "not a finite"),
    ("2025-01-02,10,11,9,0,10.4,1000\n", 2, "Close", "not a positive price: 0"),
    ("2025-01-02,10,11,9,-2,10.4,1000\n", 2, "Close", "negative"),
    ("2025-01-02,10,8,9,8.5,8.5,1000\n", 2, "High", "high 8.0 is below low 9.0"),
    ("2025-01-02,10,11,9,10.5,10.4,1000\n2099-01-02,10,11,9,10.5,10.4,1000\n", 3, "Date", "after today"),
])
def test_suspicious_bars_are_refused_never_stored(tmp_path: Path, body: str, line: int, column: str,
                                                  words: str) -> None:
    """Non-finite or non-positive prices, high below low and bars from the future reject the file."""
    path = write(tmp_path, "SUS.csv", HEADER + body)
    with pytest.raises(PriceDataError) as info:
        import_price_file(path, now=NOW)
    assert (info.value.line, info.value.column) == (line, column)
    assert words in str(info.value)


def test_parquet_without_ticker_column_is_refused(tmp_path: Path) -> None:
    """A Parquet file must name its tickers: its file name is no ticker (only a Yahoo CSV's is)."""
    path = tmp_path / "NVDA.parquet"
    pl.DataFrame({"date": [dt.date(2025, 1, 2)], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0],
                  "volume": [1]}).write_parquet(path)
    with pytest.raises(PriceDataError, match="missing column") as info:
        import_price_file(path, now=NOW)
    assert info.value.column == "ticker"


@pytest.mark.parametrize(("name", "registry", "currency"), [
    ("000660.KS.csv", {}, "KRW"),                  # from the Yahoo suffix
    ("000660.KS.csv", {"000660.KS": "USD"}, "USD"),  # the registry wins
    ("NVDA.csv", {}, "USD"),                       # a symbol without suffix
])
def test_currency_is_decided_once_registry_then_suffix(tmp_path: Path, name: str, registry: dict[str, str],
                                                       currency: str) -> None:
    """A file without a currency column gets the registry's currency, else its suffix's, else USD."""
    bars = import_price_file(write(tmp_path, name, HEADER + GOOD), now=NOW, currencies=registry)
    assert bars.get_column("currency").unique().to_list() == [currency]


def test_unknown_suffix_without_currency_is_refused(tmp_path: Path) -> None:
    """A symbol whose suffix says no currency, unknown to the registry, is an error, not USD."""
    with pytest.raises(PriceDataError, match=r"no currency for ABC\.XX"):
        import_price_file(write(tmp_path, "ABC.XX.csv", HEADER + GOOD), now=NOW)
