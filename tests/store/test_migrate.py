"""Converting a store of the former layout (hive Parquet parts, dedup at read) into Delta tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from metrics.errors import StoreError
from metrics.store.migrate import OLD_LAYOUT, checksum, migrate, read_old
from metrics.store.tables import Store
from tests.store.conftest import NOW, bars, days

D0 = dt.date(2025, 3, 3)


def _part(root: Path, dataset: str, year: int, seq: int, frame: pl.DataFrame) -> Path:
    path = root / dataset / f"year={year}" / f"part-{seq:010d}-{seq:08x}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


def old_store(root: Path) -> pl.DataFrame:
    """A store of the former layout with repeated keys across parts and a damaged part; returns what
    its queries saw (one row per key: largest fetched_at, then the later part)."""
    _part(root, "prices", 2025, 1, bars("A", days(D0, 4), 1.0))
    _part(root, "prices", 2025, 2, bars("A", days(D0, 2), 2.0))           # same version: the later part wins
    _part(root, "prices", 2025, 3, bars("A", [D0], 9.0, fetched_at=NOW - dt.timedelta(days=1)))  # older
    _part(root, "prices", 2024, 4, bars("B", days(dt.date(2024, 6, 3), 3), 5.0))
    (root / "prices" / "year=2024" / "part-0000000005-deadbeef.parquet").write_bytes(b"garbage")
    (root / ".lock").write_text("{}", encoding="utf-8")
    return pl.concat([bars("A", days(D0, 2), 2.0), bars("A", days(D0 + dt.timedelta(days=2), 2), 1.0),
                      bars("B", days(dt.date(2024, 6, 3), 3), 5.0)]).sort("ticker", "date")


def test_read_old_sees_what_the_former_queries_saw(tmp_path: Path) -> None:
    """The former layout is read as its queries saw it; the damaged part is named and skipped."""
    expected = old_store(tmp_path)
    rows, read, skipped = read_old(tmp_path, "prices")
    assert rows.sort("ticker", "date").equals(expected)
    assert len(read) == 4 and len(skipped) == 1 and "part-0000000005" in skipped[0]


def test_migrate_in_place_verifies_then_moves_the_old_parts_aside(tmp_path: Path) -> None:
    """In place: the Delta table holds the same rows and checksum, the old parts are kept aside."""
    expected = old_store(tmp_path)
    (result,) = migrate(tmp_path, Store(tmp_path))
    assert (result.dataset, result.rows, result.table_rows) == ("prices", 7, 7)
    assert result.checksum == result.table_checksum == checksum(expected, "prices")
    store = Store(tmp_path)
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)
    aside = tmp_path / OLD_LAYOUT / "prices"
    assert len(list(aside.glob("year=*/*.parquet"))) == 5      # nothing deleted
    assert not (tmp_path / ".migrate").exists() or not any((tmp_path / ".migrate").iterdir())
    assert migrate(tmp_path, Store(tmp_path)) == []             # a second run finds nothing to do


def test_init_refuses_a_store_of_the_former_layout(tmp_path: Path) -> None:
    """store init (or a first write) over former-layout parts fails naming `metrics store migrate`."""
    old_store(tmp_path)
    with pytest.raises(StoreError, match="metrics store migrate"):
        Store(tmp_path).init()
    with pytest.raises(StoreError, match="metrics store migrate"):
        Store(tmp_path).append("prices", bars("Z", [D0]), now=NOW)
    assert [r.dataset for r in migrate(tmp_path, Store(tmp_path))] == ["prices"]
    assert "prices" not in Store(tmp_path).init()


def test_migrate_to_another_root(tmp_path: Path, tables: Store) -> None:
    """From a local store of the former layout into another root (local or S3): same rows, source kept."""
    old = tmp_path / "old"
    expected = old_store(old)
    (result,) = migrate(old, tables)
    assert result.moved_to is None and result.table_checksum == result.checksum
    assert tables.scan("prices").collect().sort("ticker", "date").equals(expected)
    assert len(list((old / "prices").glob("year=*/*.parquet"))) == 5
    with pytest.raises(StoreError, match="holds rows already"):
        migrate(old, tables)


def test_checksum_tells_a_changed_value(tmp_path: Path) -> None:
    """The checksum ignores row order but not a changed value."""
    frame = pl.concat([bars("A", days(D0, 3), 1.0), bars("B", days(D0, 3), 2.0)])
    assert checksum(frame, "prices") == checksum(frame.reverse(), "prices")
    changed = frame.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(2.5).otherwise(pl.col("close"))
                                 .alias("close"))
    assert checksum(changed, "prices") != checksum(frame, "prices")
