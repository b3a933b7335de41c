"""Re-imports skip the partitions whose recorded digests prove them stored as they are, and only those.

Each first write records, in its commit, a digest of every data file it adds (rows and an
order-independent sum of row hashes). A re-import compares the digests of its own partitions with
them; a partition that differs, or that another writer touched since (its files changed), goes
through the row-level comparison. These tests check that nothing changed is missed that way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import structlog
from deltalake import DeltaTable
from hypothesis import given
from hypothesis import strategies as st

from metrics.store.schema import strictly_sorted
from metrics.store.tables import Store, WriteResult
from tests.store.conftest import NOW, bars, days

PROJECT = Path(__file__).resolve().parents[2]
START = dt.date(2023, 12, 20)           # 30 days: two partitions, 2023 and 2024
LATER = NOW + dt.timedelta(days=1)


def _frame() -> pl.DataFrame:
    return pl.concat([bars(t, days(START, 30), float(i + 1)) for i, t in enumerate(["A", "B", "C"])])


def _import(store: Store, frame: pl.DataFrame) -> tuple[WriteResult, list[dict[str, object]]]:
    with structlog.testing.capture_logs() as logs:
        result = store.append("prices", frame.with_columns(pl.lit(LATER).alias("fetched_at")), now=LATER)
    return result, logs


def _skipped(logs: list[dict[str, object]]) -> int:
    return sum(int(str(e["partitions"])) for e in logs if e["event"] == "store.partitions_unchanged")


def _set(frame: pl.DataFrame, ticker: str, date: dt.date, column: str, value: float) -> pl.DataFrame:
    hit = (pl.col("ticker") == ticker) & (pl.col("date") == date)
    return frame.with_columns(pl.when(hit).then(value).otherwise(pl.col(column)).alias(column))


def test_identical_reimport_is_proven_by_digests_and_commits_nothing(tables: Store) -> None:
    """The same file again: both partitions proven unchanged by their digests, no commit, and it says so."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    version = tables.table_version("prices")
    result, logs = _import(Store(tables.root, storage_options=tables.storage_options), frame)
    assert (result.inserted, result.updated, result.unchanged, result.version) == (0, 0, frame.height, None)
    assert _skipped(logs) == 2
    assert any(e["event"] == "store.unchanged" for e in logs)
    assert tables.table_version("prices") == version


def test_one_changed_bar_is_the_only_row_written(tables: Store) -> None:
    """One bar changed: its partition is compared row by row, the other skipped; exactly that row changes."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    before = tables.scan("prices").sort("ticker", "date").collect()
    changed = _set(frame, "B", dt.date(2024, 1, 5), "close", 99.0)
    result, logs = _import(tables, changed)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, frame.height - 1)
    assert _skipped(logs) == 1
    after = tables.scan("prices").sort("ticker", "date").collect()
    mine, theirs = after.drop("fetched_at").with_row_index(), before.drop("fetched_at").with_row_index()
    differ = mine.join(theirs, on=mine.columns, how="anti")
    assert differ.select("ticker", "date", "close").rows() == [("B", dt.date(2024, 1, 5), 99.0)]
    again, _ = _import(tables, changed)                # the MERGE carried the record of the other year
    assert (again.updated, again.version) == (0, None)


def test_values_swapped_between_two_rows_are_found(tables: Store) -> None:
    """Two bars of one partition exchange their closes: every column's multiset of values is the same,
    yet both rows changed (a digest adding up column hashes alone would miss it)."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    day = dt.date(2024, 1, 2)
    swapped = _set(_set(frame, "A", day, "close", 2.0), "B", day, "close", 1.0)
    result, _ = _import(tables, swapped)
    assert (result.inserted, result.updated) == (0, 2)
    got = tables.prices_for(["A", "B"], day, day).collect()
    assert got.get_column("close").to_list() == [2.0, 1.0]


def test_added_and_missing_rows_are_not_taken_for_unchanged(tables: Store) -> None:
    """A file with one bar more is the stored rows plus that bar; a file with one bar less changes
    nothing (writes never delete): neither passes for the stored partition."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    fewer = frame.filter(~((pl.col("ticker") == "A") & (pl.col("date") == dt.date(2023, 12, 21))))
    result, logs = _import(tables, fewer)
    assert (result.inserted, result.updated, result.version) == (0, 0, None)
    assert _skipped(logs) == 1                        # 2024 only
    more = pl.concat([frame, bars("D", [dt.date(2024, 1, 3)])])
    result, logs = _import(tables, more)
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, frame.height)
    assert _skipped(logs) == 1                        # 2023 only
    assert tables.scan("prices").collect().height == frame.height + 1


def test_another_writers_change_since_the_record_is_seen(tables: Store) -> None:
    """Another writer (delta-rs directly: no digest record of its own) changes one bar and deletes
    another after the first import: re-importing the original file restores exactly those two."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    foreign = DeltaTable(tables.table_uri("prices"), storage_options=tables.storage_options)
    foreign.update(updates={"close": "5.0"}, predicate="ticker = 'C' AND date = '2024-01-10'")
    foreign.delete("ticker = 'A' AND date = '2023-12-25'")
    result, logs = _import(tables, frame)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, frame.height - 2)
    assert _skipped(logs) == 0                        # both partitions rewritten by the other writer
    got = tables.scan("prices").sort("ticker", "date").collect()
    assert got.drop("fetched_at").equals(frame.sort("ticker", "date").drop("fetched_at"))


def test_a_concurrent_merge_between_imports_is_seen(tables: Store) -> None:
    """Another process MERGEs a changed bar between two imports: the partition it rewrote is compared
    row by row, so the re-import of the original file puts that bar back (its fetched_at is later)."""
    frame = _frame()
    tables.append("prices", frame, now=NOW)
    script = textwrap.dedent("""
        import datetime as dt, json, sys
        from metrics.store.tables import Store
        from tests.store.conftest import NOW, bars
        store = Store(sys.argv[1], storage_options=json.loads(sys.argv[2]))
        print(store.append("prices", bars("B", [dt.date(2023, 12, 28)], 42.0), now=NOW).updated)
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tables.root), json.dumps(tables.storage_options)],
                         cwd=PROJECT, capture_output=True, text=True, check=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert out.stdout.strip().splitlines()[-1] == "1"
    day = dt.date(2023, 12, 28)
    assert tables.prices_for("B", day, day).collect()["close"].item() == 42
    result, logs = _import(tables, frame)
    assert (result.inserted, result.updated) == (0, 1)
    assert _skipped(logs) == 1                        # 2024, left alone by the other process
    assert tables.prices_for("B", day, day).collect()["close"].item() == 2.0


@given(st.lists(st.tuples(st.sampled_from(["A", "AB", "B", " B", "C"]), st.integers(0, 4)), max_size=12))
def test_strictly_sorted_agrees_with_sorting(rows: list[tuple[str, int]]) -> None:
    """``strictly_sorted`` (runs of the first column, then the rest within runs) is true exactly when
    sorting by the key changes nothing and no key repeats."""
    frame = pl.DataFrame(rows, schema={"ticker": pl.String, "day": pl.Int64}, orient="row")
    expected = frame.equals(frame.sort("ticker", "day")) and frame.n_unique() == frame.height
    assert strictly_sorted(frame, ["ticker", "day"]) == expected
    assert strictly_sorted(frame.select("ticker"), ["ticker"]) == (
        frame.get_column("ticker").to_list() == sorted(set(frame.get_column("ticker").to_list())))
