"""Re-importing price files: a byte-identical file whose partitions nobody touched since is proven
unchanged from the table log without being read; anything else is compared row by row, as before.

The first import records, with its commit, the key of the files (names, sizes, sha256) and the rows
and digest each year of them produced (``metrics.digests``). A re-import of the same bytes compares
those with the partitions' recorded files: any commit since that touched one of those years (another
import, a fetch appending bars, compact, a writer without our metadata) leaves files without a record
or other sums there, and the re-import falls back to reading the file and comparing its rows. Every
test runs on a local root and on S3 (SeaweedFS).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import structlog
from deltalake import DeltaTable

from metrics.store.prices.files import PriceImport, import_price_files
from metrics.store.tables import Store
from tests.store.conftest import NOW, bars, days

START = dt.date(2023, 12, 20)           # 30 days: two partitions, 2023 and 2024
FILE_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "adj_close", "volume", "currency"]


def _bars() -> pl.DataFrame:
    return pl.concat([bars(t, days(START, 30), float(i + 1)) for i, t in enumerate(["A", "B", "C"])])


def _write(path: Path, frame: pl.DataFrame) -> Path:
    frame.select(FILE_COLUMNS).write_parquet(path)
    return path


def _import(store: Store, *paths: Path, now: dt.datetime = NOW,
            currencies: dict[str, str] | None = None) -> tuple[PriceImport, list[str]]:
    """Import ``paths`` into a fresh ``Store`` object on the same root (as a new process would);
    the result and the store's log events."""
    fresh = Store(store.root, storage_options=store.storage_options)
    with structlog.testing.capture_logs() as logs:
        done = import_price_files(fresh, list(paths), now=now, currencies=currencies)
    return done, [str(e["event"]) for e in logs]


def _counts(done: PriceImport) -> tuple[int, int, int, int | None]:
    assert done.written is not None
    return done.written.inserted, done.written.updated, done.written.unchanged, done.written.version


def _stored(store: Store) -> pl.DataFrame:
    return store.scan("prices").sort("ticker", "date").collect().drop("fetched_at")


def test_byte_identical_reimport_writes_nothing_unread(tables: Store, tmp_path: Path) -> None:
    """The same file again: proven from the log (no row compared), no commit, and the reason given."""
    path = _write(tmp_path / "prices.parquet", _bars())
    first, _ = _import(tables, path)
    assert _counts(first) == (90, 0, 0, 1)
    before = _stored(tables)
    again, events = _import(tables, path)
    assert _counts(again) == (0, 0, 90, None)
    assert again.rows == 90 and again.files == 1 and again.failed == ()
    assert again.written is not None and "not even read" in (again.written.reason or "")
    assert "store.source_unchanged" in events
    assert "store.partitions_unchanged" not in events and "store.unchanged" not in events   # no row compared
    assert tables.table_version("prices") == 1
    assert _stored(tables).equals(before)


def test_a_write_into_another_year_keeps_the_proof(tables: Store, tmp_path: Path) -> None:
    """A fetch appending bars of a year the file does not touch leaves the file's years alone: still
    proven; one appending into a year of the file breaks the proof (its rows compared: unchanged)."""
    path = _write(tmp_path / "prices.parquet", _bars())
    _import(tables, path)
    tables.append("prices", bars("A", [dt.date(2025, 3, 3)], source="yahoo"), now=NOW)
    again, events = _import(tables, path)
    assert _counts(again) == (0, 0, 90, None) and "store.source_unchanged" in events
    tables.append("prices", bars("D", [dt.date(2024, 1, 3)], source="yahoo"), now=NOW)
    version = tables.table_version("prices")
    again, events = _import(tables, path)
    assert _counts(again) == (0, 0, 90, None)
    assert "store.source_unchanged" not in events
    assert "store.partitions_unchanged" in events          # 2023 still proven by its file's digest
    assert tables.table_version("prices") == version
    assert _stored(tables).height == 92


def test_another_import_changing_a_bar_is_undone_by_the_reimport(tables: Store, tmp_path: Path) -> None:
    """Another file changes one bar of the first file's 2024: the re-import of the first file is not
    taken for unchanged, and puts exactly that bar back."""
    frame = _bars()
    path = _write(tmp_path / "prices.parquet", frame)
    _import(tables, path)
    before = _stored(tables)
    hit = (pl.col("ticker") == "B") & (pl.col("date") == dt.date(2024, 1, 5))
    other = _write(tmp_path / "fix.parquet",
                   frame.filter(hit).with_columns(pl.lit(99.0).alias("close")))
    fixed, _ = _import(tables, other)
    assert _counts(fixed)[:2] == (0, 1)
    again, events = _import(tables, path)
    assert _counts(again)[:3] == (0, 1, 89)
    assert "store.source_unchanged" not in events
    assert _stored(tables).equals(before)


def test_a_foreign_writer_without_our_metadata_is_seen(tables: Store, tmp_path: Path) -> None:
    """delta-rs writing directly (no record of its own) updates one bar and deletes another: the
    re-import of the same bytes restores both."""
    path = _write(tmp_path / "prices.parquet", _bars())
    _import(tables, path)
    before = _stored(tables)
    foreign = DeltaTable(tables.table_uri("prices"), storage_options=tables.storage_options)
    foreign.update(updates={"close": "5.0"}, predicate="ticker = 'C' AND date = '2024-01-10'")
    foreign.delete("ticker = 'A' AND date = '2023-12-25'")
    again, events = _import(tables, path)
    assert _counts(again)[:3] == (1, 1, 88)
    assert "store.source_unchanged" not in events
    assert _stored(tables).equals(before)


def test_after_compact_the_reimport_compares_rows(tables: Store, tmp_path: Path) -> None:
    """Compact rewrites the partitions (here: crowded by a second import) into files without a
    record: the re-import reads the file and compares its rows, and still writes nothing."""
    path = _write(tmp_path / "prices.parquet", _bars())
    _import(tables, path)
    extra = _write(tmp_path / "extra.parquet", pl.concat([bars("D", [dt.date(2023, 12, 22)]),
                                                          bars("D", [dt.date(2024, 1, 3)])]))
    _import(tables, extra)
    results = tables.compact(now=NOW, datasets=["prices"])
    assert results[0].groups == 2
    version = tables.table_version("prices")
    again, events = _import(tables, path)
    assert _counts(again) == (0, 0, 90, None)
    assert "store.source_unchanged" not in events
    assert tables.table_version("prices") == version


def test_a_file_with_one_changed_bar_writes_that_bar(tables: Store, tmp_path: Path) -> None:
    """The same file name with one close changed: other bytes, so it is read; one row updated."""
    frame = _bars()
    path = _write(tmp_path / "prices.parquet", frame)
    _import(tables, path)
    hit = (pl.col("ticker") == "C") & (pl.col("date") == dt.date(2023, 12, 30))
    _write(path, frame.with_columns(pl.when(hit).then(7.5).otherwise(pl.col("close")).alias("close")))
    changed, events = _import(tables, path)
    assert _counts(changed)[:3] == (0, 1, 89)
    assert "store.source_unchanged" not in events
    got = tables.prices_for("C", dt.date(2023, 12, 30), dt.date(2023, 12, 30)).collect()
    assert got["close"].to_list() == [7.5]


def test_truncated_and_renamed_files_are_read(tables: Store, tmp_path: Path) -> None:
    """A truncated copy under the same name is read (nothing to write: writes never delete); the same
    bytes under another name are read too, their bars' ``source`` being the new name."""
    frame = _bars()
    path = _write(tmp_path / "prices.parquet", frame)
    _import(tables, path)
    _write(path, frame.head(40))
    truncated, events = _import(tables, path)
    assert _counts(truncated) == (0, 0, 40, None)
    assert "store.source_unchanged" not in events
    assert _stored(tables).height == 90
    renamed = _write(tmp_path / "renamed.parquet", frame)
    moved, events = _import(tables, renamed)
    assert _counts(moved)[:3] == (0, 90, 0)
    assert "store.source_unchanged" not in events
    assert set(tables.scan("prices").collect()["source"].to_list()) == {"file:renamed.parquet"}


def test_the_key_covers_the_registry_and_the_batch(tables: Store, tmp_path: Path) -> None:
    """Another currency registry (files without a currency column) or another batch of files is
    another key: read, not proven; a batch in which a file failed records no key."""
    yahoo = tmp_path / "NVDA.csv"
    yahoo.write_text("Date,Open,High,Low,Close,Volume\n2025-01-02,1,1,1,1,1\n", encoding="utf-8")
    first, _ = _import(tables, yahoo)
    assert _counts(first)[0] == 1
    again, events = _import(tables, yahoo)
    assert "store.source_unchanged" in events and _counts(again) == (0, 0, 1, None)
    euro, events = _import(tables, yahoo, currencies={"NVDA": "EUR"})
    assert "store.source_unchanged" not in events and _counts(euro)[:2] == (0, 1)
    bad = tmp_path / "BAD.csv"
    bad.write_text("Date,Open,High,Low,Close,Volume\n2025-01-02,1,1,1,oops,1\n", encoding="utf-8")
    other = _write(tmp_path / "other.parquet", bars("E", [dt.date(2025, 1, 2)]))
    mixed, _ = _import(tables, bad, other)
    assert len(mixed.failed) == 1 and mixed.files == 1 and _counts(mixed)[0] == 1
    retried, events = _import(tables, bad, other)
    assert "store.source_unchanged" not in events and len(retried.failed) == 1


def test_a_bar_after_now_is_refused_not_proven(tables: Store, tmp_path: Path) -> None:
    """Re-imported with an earlier ``now``, a file whose last bar is after it is read and refused
    (named), not passed for unchanged."""
    path = _write(tmp_path / "prices.parquet", _bars())
    _import(tables, path)
    early = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
    refused, events = _import(tables, path, now=early)
    assert "store.source_unchanged" not in events
    assert refused.written is None and len(refused.failed) == 1
    assert "after today" in str(refused.failed[0])


def test_a_batch_is_proven_as_a_whole_in_its_order(tables: Store, tmp_path: Path) -> None:
    """Two files imported together: the same two again are proven; in the other order they are another
    key (a later file's bar wins over an earlier one's), so they are read (and change nothing here)."""
    first = _write(tmp_path / "a.parquet", bars("A", days(START, 20)))
    second = _write(tmp_path / "b.parquet", bars("B", days(START, 20), 2.0))
    done, _ = _import(tables, first, second)
    assert _counts(done) == (40, 0, 0, 1) and done.files == 2
    again, events = _import(tables, first, second)
    assert _counts(again) == (0, 0, 40, None) and "store.source_unchanged" in events
    swapped, events = _import(tables, second, first)
    assert _counts(swapped) == (0, 0, 40, None) and "store.source_unchanged" not in events
    alone, events = _import(tables, first)
    assert _counts(alone) == (0, 0, 20, None) and "store.source_unchanged" not in events
