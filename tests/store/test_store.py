"""The Parquet store: atomic parts, dedup at read, compaction, damage, locking, point-in-time reads."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.errors import LockTimeout
from metrics.store.tables import Store, open_store
from tests.store.conftest import NOW, bars, days

D0 = dt.date(2025, 3, 3)
PROJECT = Path(__file__).resolve().parents[2]


def test_append_then_scan_returns_the_rows(store: Store) -> None:
    """Appended bars come back from scan, one part per year, sorted by ticker and date."""
    result = store.append("prices", pl.concat([bars("B", days(D0, 3)), bars("A", [dt.date(2024, 12, 31)])]),
                          now=NOW)
    assert result.rows == 4
    assert sorted(p.parent.name for p in result.files) == ["year=2024", "year=2025"]
    got = store.scan("prices").sort("ticker", "date").collect()
    assert got.height == 4
    assert got.schema == store.scan_raw("prices").collect_schema()
    assert not list(store.root.rglob("*.tmp"))


def test_reimport_never_duplicates_and_latest_version_wins(store: Store) -> None:
    """The same key written twice is seen once, with the values of the later fetched_at."""
    store.append("prices", bars("A", days(D0, 5), 1.0, fetched_at=NOW), now=NOW)
    store.append("prices", bars("A", days(D0, 2), 2.0, fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    store.append("prices", bars("A", days(D0, 1), 3.0, fetched_at=NOW - dt.timedelta(hours=1)), now=NOW)
    got = store.scan("prices").sort("date").collect()
    assert got["close"].to_list() == [2.0, 2.0, 1.0, 1.0, 1.0]
    assert store.scan_raw("prices").collect().height == 8


def test_equal_versions_are_won_by_the_later_part(store: Store) -> None:
    """With equal fetched_at, the part written later wins."""
    store.append("prices", bars("A", [D0], 1.0), now=NOW)
    store.append("prices", bars("A", [D0], 2.0), now=NOW)
    assert store.scan("prices").collect()["close"].to_list() == [2.0]


def test_disjoint_parts_are_read_without_dedup_and_overlap_is_detected(store: Store) -> None:
    """Parts with disjoint key ranges are read as they are; an overlapping part forces dedup."""
    store.append("prices", bars("A", days(D0, 3)), now=NOW)
    store.append("prices", bars("A", days(D0 + dt.timedelta(days=3), 3)), now=NOW)
    plan = store.scan("prices").explain()
    assert "UNIQUE" not in plan.upper()
    store.append("prices", bars("A", [D0], 5.0, fetched_at=NOW + dt.timedelta(days=1)), now=NOW)
    got = store.scan("prices").sort("date").collect()
    assert got.height == 6
    assert got["close"][0] == 5.0


def test_batch_with_repeated_keys_keeps_the_last(store: Store) -> None:
    """Rows of one batch sharing a key are stored once: the last of them."""
    store.append("prices", pl.concat([bars("A", [D0], 1.0), bars("A", [D0], 2.0)]), now=NOW)
    assert store.scan_raw("prices").collect()["close"].to_list() == [2.0]


def test_compact_merges_parts_and_removes_duplicates(store: Store) -> None:
    """Compaction leaves one part per partition, no duplicate rows, the same query results."""
    for i in range(3):
        later = NOW + dt.timedelta(hours=i)
        store.append("prices", bars("A", days(D0, 4), float(i), fetched_at=later), now=NOW)
    store.append("prices", bars("B", [dt.date(2024, 6, 3)]), now=NOW)
    before = store.scan("prices").sort("ticker", "date").collect()
    results = {r.dataset: r for r in store.compact(now=NOW)}
    assert results["prices"].files_before == 3 and results["prices"].files_after == 1
    assert results["prices"].rows_before == 12 and results["prices"].rows_after == 4
    assert len(store.part_files("prices")) == 2
    assert store.scan_raw("prices").collect().height == 5
    assert store.scan("prices").sort("ticker", "date").collect().equals(before)
    assert all(r.groups == 0 for r in store.compact(now=NOW))


def test_readers_during_compaction_never_see_missing_or_doubled_rows(store: Store) -> None:
    """Old and new parts side by side (the moment between publish and removal) still read once each."""
    store.append("prices", bars("A", days(D0, 4), 1.0), now=NOW)
    store.append("prices", bars("A", days(D0, 4), 2.0, fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    old = {p: p.read_bytes() for p in store.part_files("prices")}
    store.compact(now=NOW)
    for path, content in old.items():  # put the old parts back: a reader listing mid-compaction
        path.write_bytes(content)
    got = Store(store.root).scan("prices").collect()
    assert got.height == 4
    assert set(got["close"]) == {2.0}


def test_damaged_part_is_skipped_named_and_reported(store: Store) -> None:
    """A truncated part is skipped by scans, logged as store.corrupt_part and listed by status."""
    store.append("prices", bars("A", [D0]), now=NOW)
    bad = store.append("prices", bars("B", [D0]), now=NOW).files[0]
    bad.write_bytes(bad.read_bytes()[:40])
    with structlog.testing.capture_logs() as logs:
        assert store.scan("prices").collect()["ticker"].to_list() == ["A"]
    assert [(e["event"], e["path"]) for e in logs] == [("store.corrupt_part", str(bad))]
    status = store.status()
    assert [d.path for d in status.damaged] == [bad]
    assert status.datasets[1].name == "prices" and status.datasets[1].rows == 1
    results = store.compact(now=NOW)
    assert bad.exists() and all(r.groups == 0 for r in results)


def test_part_with_wrong_columns_counts_as_damaged(store: Store) -> None:
    """A Parquet file lacking the dataset's columns is skipped and reported."""
    target = store.dataset_dir("prices") / "year=2025" / "part-0000000009-intruder.parquet"
    target.parent.mkdir(parents=True)
    pl.DataFrame({"x": [1]}).write_parquet(target)
    assert store.scan("prices").collect().height == 0
    assert "columns missing" in store.damaged_parts("prices")[0].error


def _hold_lock_script(root: Path, seconds: float) -> str:
    return textwrap.dedent(f"""
        import sys, time, datetime as dt
        import polars as pl
        from metrics.store.tables import Store
        from tests.store.conftest import bars
        s = Store({str(root)!r})
        with s.writer():
            print("locked", flush=True)
            time.sleep({seconds})
            s.append("prices", bars("FIRST", [dt.date(2025, 1, 2)]))
        print("released", flush=True)
    """)


def _start_holder(root: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _hold_lock_script(root, seconds)], cwd=PROJECT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_waits_for_the_lock_and_never_interleaves(store: Store) -> None:
    """A writer blocked by another process's lock writes after it, with a later part sequence."""
    proc = _start_holder(store.root, 1.0)
    try:
        mine = store.append("prices", bars("SECOND", [dt.date(2025, 1, 2)]), now=NOW)
    finally:
        proc.communicate(timeout=30)
    parts = store.part_files("prices")
    assert [p.name.split("-")[1] for p in parts] == ["0000000001", "0000000002"]
    assert parts[-1] == mine.files[0]
    assert sorted(store.scan("prices").collect()["ticker"]) == ["FIRST", "SECOND"]


def test_lock_timeout_names_the_holder(tmp_path: Path) -> None:
    """A writer that cannot get the lock in time gets LockTimeout naming pid, host and since."""
    root = tmp_path / "root"
    proc = _start_holder(root, 3.0)
    try:
        with pytest.raises(LockTimeout) as info:
            Store(root, lock_timeout=0.2).append("prices", bars("X", [D0]), now=NOW)
    finally:
        proc.communicate(timeout=30)
    message = str(info.value)
    assert f"pid {proc.pid}" in message and " on " in message and " since " in message
    assert Store(root).scan("prices").collect()["ticker"].to_list() == ["FIRST"]


def test_writer_lock_is_reentrant_in_one_thread(store: Store) -> None:
    """Appending inside an explicit writer() block does not deadlock."""
    with store.writer():
        store.append("prices", bars("A", [D0]), now=NOW)
    assert store.scan("prices").collect().height == 1


def _fact(fact_id: str, entity: str, published: dt.date, value: float, *, period: str = "FY2025",
          ticker: str | None = "A", ingested: dt.datetime = NOW) -> dict[str, object]:
    return {"fact_id": fact_id, "doc": "d.txt", "entity": entity, "ticker": ticker, "metric": "revenue",
            "value": value, "unit": "USD", "period": period, "kind": "actual", "published": published,
            "ingested_at": ingested}


def test_facts_as_of_returns_the_latest_statement_known_then(store: Store) -> None:
    """As of a date: published on or before it, the latest statement per entity, metric and period."""
    store.append("facts", pl.DataFrame([
        _fact("f1", "Acme", dt.date(2025, 1, 10), 1.0),
        _fact("f2", "Acme", dt.date(2025, 2, 10), 2.0),
        _fact("f3", "Acme", dt.date(2025, 3, 10), 3.0),
        _fact("f4", "Acme", dt.date(2025, 1, 5), 9.0, period="FY2024"),
    ]), now=NOW)
    got = store.facts_as_of(dt.date(2025, 2, 15)).sort("period").collect()
    assert got.select("period", "value").rows() == [("FY2024", 9.0), ("FY2025", 2.0)]
    assert store.facts_as_of(dt.date(2025, 1, 1)).collect().height == 0


def test_prices_as_of_gives_the_latest_bar_per_ticker(store: Store) -> None:
    """Each ticker's latest bar on or before the date, even from an older year's partition."""
    store.append("prices", pl.concat([
        bars("OLD", [dt.date(2023, 5, 1), dt.date(2023, 5, 2)], 1.0),
        bars("NEW", days(dt.date(2024, 12, 30), 5), 2.0),
    ]), now=NOW)
    got = store.prices_as_of(dt.date(2025, 1, 2)).collect()
    assert got.select("ticker", "date").rows() == [("NEW", dt.date(2025, 1, 2)), ("OLD", dt.date(2023, 5, 2))]
    assert store.prices_as_of(dt.date(2020, 1, 1)).collect().height == 0


def test_join_facts_prices_is_backward_asof_on_published(store: Store) -> None:
    """A fact gets its ticker's bar dated on or before its published date, never a later one."""
    store.append("prices", bars("A", [dt.date(2025, 1, 9), dt.date(2025, 1, 13)], 5.0), now=NOW)
    store.append("facts", pl.DataFrame([
        _fact("f1", "Acme", dt.date(2025, 1, 11), 1.0),           # weekend: Thursday's bar
        _fact("f2", "Acme", dt.date(2025, 1, 8), 1.0, period="FY2024"),
        _fact("f3", "Private", dt.date(2025, 1, 11), 1.0, ticker=None, period="Q1"),
    ]), now=NOW)
    got = store.join_facts_prices().sort("fact_id").collect()
    assert got["price_date"].to_list() == [dt.date(2025, 1, 9), None, None]
    assert got["price_close"].to_list() == [5.0, None, None]


def test_open_store_gives_lazy_frames(tmp_path: Path) -> None:
    """metrics.open_store(root) returns a store whose scans are LazyFrames, empty on a new root."""
    import metrics

    s = metrics.open_store(tmp_path)
    assert isinstance(s.scan("facts"), pl.LazyFrame)
    assert s.scan("prices").collect().height == 0
    assert open_store(tmp_path).root == tmp_path


def test_status_counts_rows_files_ranges_and_failed_documents(store: Store) -> None:
    """status() reports rows as seen, stored rows, files, date range and failed documents."""
    store.append("prices", bars("A", days(D0, 3)), now=NOW)
    store.append("prices", bars("A", days(D0, 3)), now=NOW)
    store.append("documents", pl.DataFrame([
        {"doc_hash": "h1", "name": "bad.txt", "path": "/in/bad.txt", "status": "failed", "error": "not text",
         "ingested_at": NOW},
        {"doc_hash": "h2", "name": "ok.txt", "path": "/in/ok.txt", "status": "ok", "ingested_at": NOW},
    ]), now=NOW)
    status = store.status()
    prices = next(d for d in status.datasets if d.name == "prices")
    assert (prices.rows, prices.stored_rows, prices.files, prices.first, prices.last) == (
        3, 6, 2, D0, D0 + dt.timedelta(days=2))
    assert [d.name for d in status.failed_documents] == ["bad.txt"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 800),
              st.floats(0, 1e6, allow_nan=False), st.integers(0, 3)),
    min_size=1, max_size=40))
def test_round_trip_and_idempotent_reimport(tmp_path_factory: pytest.TempPathFactory,
                                           rows: list[tuple[str, int, float, int]]) -> None:
    """Whatever is written, scan returns the latest row per key; importing it again changes nothing."""
    store = Store(tmp_path_factory.mktemp("prop"))
    frame = pl.concat([bars(t, [dt.date(2024, 1, 1) + dt.timedelta(days=d)], c,
                            fetched_at=NOW + dt.timedelta(hours=h)) for t, d, c, h in rows])
    store.append("prices", frame, now=NOW)
    expected = (frame.with_row_index("i").sort("fetched_at", "i").unique(["ticker", "date"], keep="last")
                .drop("i").sort("ticker", "date"))
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)
    store.append("prices", frame, now=NOW)
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)
    store.compact(now=NOW)
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)


def test_prices_for_gives_one_row_per_date_of_a_reimported_ticker(store: Store) -> None:
    """A ticker imported twice (and partly re-fetched) comes back once per date, latest version winning."""
    store.append("prices", pl.concat([bars("A", days(D0, 4), 1.0), bars("B", days(D0, 4), 7.0)]), now=NOW)
    store.append("prices", bars("A", days(D0, 4), 1.0), now=NOW)
    store.append("prices", bars("A", days(D0 + dt.timedelta(days=2), 3), 2.0,
                                fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    got = store.prices_for("A").collect()
    assert got.select("date", "close").rows() == [
        (D0, 1.0), (D0 + dt.timedelta(days=1), 1.0), (D0 + dt.timedelta(days=2), 2.0),
        (D0 + dt.timedelta(days=3), 2.0), (D0 + dt.timedelta(days=4), 2.0)]
    assert got.equals(store.scan("prices").filter(pl.col("ticker") == "A").sort("date").collect())
    assert store.prices_for(["B", "A"]).collect()["ticker"].to_list() == ["A"] * 5 + ["B"] * 4


def test_prices_for_bounds_dates_and_handles_unknown_tickers(store: Store) -> None:
    """start and end bound the dates (both included) across partitions; an unknown ticker gives no rows."""
    store.append("prices", bars("A", days(dt.date(2023, 12, 30), 5)), now=NOW)
    got = store.prices_for("A", start=dt.date(2023, 12, 31), end=dt.date(2024, 1, 2)).collect()
    assert got["date"].to_list() == days(dt.date(2023, 12, 31), 3)
    assert store.prices_for("A", end=dt.date(2023, 12, 30)).collect().height == 1
    assert store.prices_for("ZZZ").collect().height == 0
    assert store.prices_for([]).collect().schema == store.scan("prices").collect_schema()


def test_prices_for_opens_only_parts_that_can_hold_the_tickers_and_dates(store: Store) -> None:
    """Parts of other tickers, or of years outside the dates, are left out of the scan plan."""
    store.append("prices", bars("A", days(D0, 3)), now=NOW)
    store.append("prices", bars("B", days(D0, 3)), now=NOW)
    store.append("prices", bars("A", days(dt.date(2024, 3, 1), 3)), now=NOW)
    wanted = [p.path.name for p in store.parts("prices") if p.year == "2025" and p.may_hold(["A"])]
    plan = store.prices_for("A", start=D0).explain()
    assert len(wanted) == 1
    assert [p.path.name for p in store.parts("prices") if p.path.name in plan] == wanted
    assert "UNIQUE" not in plan.upper()


def test_parts_record_the_ticker_range_of_each_row_group(store: Store) -> None:
    """A part larger than a row group lists one ticker range per row group, which rules tickers in or out."""
    tickers = [f"T{i:02d}" for i in range(20)]
    store.append("prices", pl.concat([bars(t, days(dt.date(2025, 1, 1), 300)) for t in tickers]), now=NOW)
    (part,) = store.parts("prices")
    assert len(part.group_ranges) == 2
    assert part.group_ranges[0] is not None and part.group_ranges[0][0] == "T00"
    assert part.may_hold(["T00"]) and part.may_hold(["T19"]) and not part.may_hold(["A", "U"])
    got = store.prices_for(["T13", "T14"]).collect()
    assert got.height == 600 and got["ticker"].unique().sort().to_list() == ["T13", "T14"]
