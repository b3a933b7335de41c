"""The Delta store on a local folder and on S3: MERGE writes, snapshots, time travel, compaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.errors import StoreError
from metrics.store.tables import Store, open_store
from tests.store.conftest import NOW, bars, days

D0 = dt.date(2025, 3, 3)


def test_append_then_scan_returns_the_rows(tables: Store) -> None:
    """Appended bars come back from scan with the declared schema, one data file per year."""
    result = tables.append("prices", pl.concat([bars("B", days(D0, 3)), bars("A", [dt.date(2024, 12, 31)])]),
                           now=NOW)
    assert (result.rows, result.inserted, result.unchanged) == (4, 4, 0)
    got = tables.scan("prices").sort("ticker", "date").collect()
    assert got.height == 4 and got.columns == list(bars("A", []).columns)
    assert sorted(u.split("/")[-2] for u in tables.part_files("prices")) == ["year=2024", "year=2025"]


def test_reimport_changes_nothing_and_says_so(tables: Store) -> None:
    """Writing the same rows again (later fetched_at) commits nothing and reports them unchanged."""
    tables.append("prices", bars("A", days(D0, 5)), now=NOW)
    version = tables.table_version("prices")
    again = tables.append("prices", bars("A", days(D0, 5), fetched_at=NOW + dt.timedelta(days=1)), now=NOW)
    assert (again.inserted, again.updated, again.unchanged, again.version) == (0, 0, 5, None)
    assert tables.table_version("prices") == version
    assert tables.scan("prices").select(pl.col("fetched_at").max()).collect().item() == NOW


def test_latest_version_wins(tables: Store) -> None:
    """The same key written twice is stored once, with the values of the larger fetched_at."""
    tables.append("prices", bars("A", days(D0, 5), 1.0, fetched_at=NOW), now=NOW)
    tables.append("prices", bars("A", days(D0, 2), 2.0, fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    older = tables.append("prices", bars("A", days(D0, 1), 3.0, fetched_at=NOW - dt.timedelta(hours=1)),
                          now=NOW)
    assert older.updated == 0
    got = tables.scan("prices").sort("date").collect()
    assert got["close"].to_list() == [2.0, 2.0, 1.0, 1.0, 1.0]


def test_equal_versions_are_won_by_the_later_write(tables: Store) -> None:
    """With equal fetched_at, the row written later wins."""
    tables.append("prices", bars("A", [D0], 1.0), now=NOW)
    tables.append("prices", bars("A", [D0], 2.0), now=NOW)
    assert tables.scan("prices").collect()["close"].to_list() == [2.0]


def test_batch_with_repeated_keys_keeps_the_last(tables: Store) -> None:
    """Rows of one batch sharing a key are stored once: the last of them."""
    tables.append("prices", pl.concat([bars("A", [D0], 1.0), bars("A", [D0], 2.0)]), now=NOW)
    assert tables.scan("prices").collect()["close"].to_list() == [2.0]


def test_documents_move_partition_when_reingested_later(tables: Store) -> None:
    """A document whose key is not its partition column is still one row when re-registered another year."""
    first = {"doc_hash": "h1", "name": "a.txt", "path": "/in/a.txt", "status": "failed", "ingested_at": NOW}
    later = first | {"status": "ok", "ingested_at": NOW.replace(year=NOW.year + 1)}
    tables.append("documents", pl.DataFrame([first]), now=NOW)
    tables.append("documents", pl.DataFrame([later]), now=NOW)
    got = tables.scan("documents").collect()
    assert got.select("doc_hash", "status").rows() == [("h1", "ok")]


def test_compact_merges_files_and_keeps_every_row(tables: Store) -> None:
    """OPTIMIZE leaves one file per partition and the same rows; a second run has nothing to do."""
    for i in range(3):
        tables.append("prices", bars(f"T{i}", days(D0, 4), float(i)), now=NOW)
    tables.append("prices", bars("B", [dt.date(2024, 6, 3)]), now=NOW)
    before = tables.scan("prices").sort("ticker", "date").collect()
    results = {r.dataset: r for r in tables.compact(now=NOW)}
    assert (results["prices"].files_before, results["prices"].files_after) == (4, 2)
    assert results["prices"].rows_before == results["prices"].rows_after == 13
    assert tables.scan("prices").sort("ticker", "date").collect().equals(before)
    again = {r.dataset: r for r in tables.compact(now=NOW)}
    assert again["prices"].files_before == again["prices"].files_after == 2


def test_compact_refuses_a_retention_below_seven_days(tables: Store) -> None:
    """VACUUM never removes files younger than 7 days: a shorter retention is an error."""
    with pytest.raises(StoreError, match="below the minimum"):
        tables.compact(now=NOW, retention=dt.timedelta(days=1))


def test_time_travel_reads_a_table_as_it_was(tables: Store) -> None:
    """A store pinned to a version, or to a commit time, reads the rows committed then."""
    tables.append("prices", bars("A", [D0], 1.0), now=NOW)
    v1 = tables.table_version("prices")
    t1 = dt.datetime.fromtimestamp(tables.history("prices", 1)[0]["timestamp"] / 1000, dt.UTC)
    tables.append("prices", bars("A", [D0], 2.0, fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    tables.append("prices", bars("B", [D0], 3.0), now=NOW)
    assert tables.scan("prices").collect().height == 2
    old = tables.pinned(version=v1)
    assert old.scan("prices").collect()["close"].to_list() == [1.0]
    assert tables.pinned(as_of=t1).scan("prices").collect()["close"].to_list() == [1.0]
    with pytest.raises(StoreError, match="pinned"):
        old.append("prices", bars("C", [D0]), now=NOW)
    with pytest.raises(StoreError, match="no version"):
        tables.pinned(version=99).scan("prices")


def test_writer_on_s3_never_creates_a_table(root_url: tuple[str, dict[str, str]]) -> None:
    """On S3 a write to a missing table fails naming `metrics store init`; locally it is created empty."""
    url, options = root_url
    store = Store(url, storage_options=options)
    if store.remote:
        with pytest.raises(StoreError, match="metrics store init"):
            store.append("prices", bars("A", [D0]), now=NOW)
        assert store.scan("prices").collect().height == 0
    else:
        assert store.append("prices", bars("A", [D0]), now=NOW).inserted == 1
    created = ["facts", "prices", "alerts", "documents"] if store.remote else ["facts", "alerts", "documents"]
    assert store.init() == created
    assert store.init() == []


def _fact(fact_id: str, entity: str, published: dt.date, value: float, *, period: str = "FY2025",
          ticker: str | None = "A", ingested: dt.datetime = NOW) -> dict[str, object]:
    return {"fact_id": fact_id, "doc": "d.txt", "entity": entity, "ticker": ticker, "metric": "revenue",
            "value": value, "unit": "USD", "period": period, "kind": "actual", "published": published,
            "ingested_at": ingested}


def test_facts_as_of_returns_the_latest_statement_known_then(tables: Store) -> None:
    """As of a date: published on or before it, the latest statement per entity, metric and period."""
    tables.append("facts", pl.DataFrame([
        _fact("f1", "Acme", dt.date(2025, 1, 10), 1.0),
        _fact("f2", "Acme", dt.date(2025, 2, 10), 2.0),
        _fact("f3", "Acme", dt.date(2025, 3, 10), 3.0),
        _fact("f4", "Acme", dt.date(2025, 1, 5), 9.0, period="FY2024"),
    ]), now=NOW)
    got = tables.facts_as_of(dt.date(2025, 2, 15)).sort("period").collect()
    assert got.select("period", "value").rows() == [("FY2024", 9.0), ("FY2025", 2.0)]
    assert tables.facts_as_of(dt.date(2025, 1, 1)).collect().height == 0


def test_prices_as_of_gives_the_latest_bar_per_ticker(tables: Store) -> None:
    """Each ticker's latest bar on or before the date, even from an older year's partition."""
    tables.append("prices", pl.concat([
        bars("OLD", [dt.date(2023, 5, 1), dt.date(2023, 5, 2)], 1.0),
        bars("NEW", days(dt.date(2024, 12, 30), 5), 2.0),
    ]), now=NOW)
    got = tables.prices_as_of(dt.date(2025, 1, 2)).collect()
    assert got.select("ticker", "date").rows() == [("NEW", dt.date(2025, 1, 2)), ("OLD", dt.date(2023, 5, 2))]
    assert tables.prices_as_of(dt.date(2020, 1, 1)).collect().height == 0


def test_open_store_gives_lazy_frames(tmp_path: Path) -> None:
    """metrics.open_store(root) returns a store whose scans are LazyFrames, empty on a new root."""
    import metrics

    s = metrics.open_store(tmp_path)
    assert isinstance(s.scan("facts"), pl.LazyFrame)
    assert s.scan("prices").collect().height == 0
    assert open_store(tmp_path).root == tmp_path


def test_status_counts_rows_files_ranges_and_failed_documents(tables: Store) -> None:
    """status() reports rows, files, date range, version and failed documents."""
    tables.append("prices", bars("A", days(D0, 3)), now=NOW)
    tables.append("prices", bars("A", days(D0, 3)), now=NOW)
    tables.append("documents", pl.DataFrame([
        {"doc_hash": "h1", "name": "bad.txt", "path": "/in/bad.txt", "status": "failed", "error": "not text",
         "ingested_at": NOW},
        {"doc_hash": "h2", "name": "ok.txt", "path": "/in/ok.txt", "status": "ok", "ingested_at": NOW},
    ]), now=NOW)
    status = tables.status()
    prices = next(d for d in status.datasets if d.name == "prices")
    assert (prices.rows, prices.stored_rows, prices.files, prices.first, prices.last, prices.version) == (
        3, 3, 1, D0, D0 + dt.timedelta(days=2), 1)
    assert [d.name for d in status.failed_documents] == ["bad.txt"]


def test_prices_for_gives_one_row_per_date_of_a_reimported_ticker(tables: Store) -> None:
    """A ticker imported twice (and partly re-fetched) comes back once per date, latest version winning."""
    tables.append("prices", pl.concat([bars("A", days(D0, 4), 1.0), bars("B", days(D0, 4), 7.0)]), now=NOW)
    tables.append("prices", bars("A", days(D0, 4), 1.0), now=NOW)
    tables.append("prices", bars("A", days(D0 + dt.timedelta(days=2), 3), 2.0,
                                 fetched_at=NOW + dt.timedelta(hours=1)), now=NOW)
    got = tables.prices_for("A").collect()
    assert got.select("date", "close").rows() == [
        (D0, 1.0), (D0 + dt.timedelta(days=1), 1.0), (D0 + dt.timedelta(days=2), 2.0),
        (D0 + dt.timedelta(days=3), 2.0), (D0 + dt.timedelta(days=4), 2.0)]
    assert got.equals(tables.scan("prices").filter(pl.col("ticker") == "A").sort("date").collect())
    assert tables.prices_for(["B", "A"]).collect()["ticker"].to_list() == ["A"] * 5 + ["B"] * 4


def test_prices_for_bounds_dates_and_handles_unknown_tickers(tables: Store) -> None:
    """start and end bound the dates (both included) across partitions; an unknown ticker gives no rows."""
    tables.append("prices", bars("A", days(dt.date(2023, 12, 30), 5)), now=NOW)
    got = tables.prices_for("A", start=dt.date(2023, 12, 31), end=dt.date(2024, 1, 2)).collect()
    assert got["date"].to_list() == days(dt.date(2023, 12, 31), 3)
    assert tables.prices_for("A", end=dt.date(2023, 12, 30)).collect().height == 1
    assert tables.prices_for("ZZZ").collect().height == 0
    assert tables.prices_for([]).collect().schema == tables.scan("prices").collect_schema()


def test_prices_for_opens_only_files_that_can_hold_the_tickers_and_dates(tables: Store) -> None:
    """Files of other tickers, or of years outside the dates, are left out of the scan plan."""
    tables.append("prices", bars("A", days(D0, 3)), now=NOW)
    tables.append("prices", bars("B", days(D0, 3)), now=NOW)
    tables.append("prices", bars("A", days(dt.date(2024, 3, 1), 3)), now=NOW)
    files = tables.part_files("prices")
    assert len(files) == 3
    plan = tables.prices_for("A", start=D0).explain()
    assert sum(f.split("/")[-1] in plan for f in files) == 1


def test_scan_since_reads_only_the_files_that_can_hold_later_rows(tables: Store) -> None:
    """``scan(since=D)`` gives the rows dated D or later, as a filter of the whole scan would, from
    the files of those years and dates only."""
    tables.append("prices", bars("A", days(dt.date(2022, 12, 28), 10)), now=NOW)
    tables.append("prices", bars("B", days(dt.date(2023, 12, 28), 10)), now=NOW)
    since = dt.date(2023, 12, 30)
    got = tables.scan("prices", since=since).sort("ticker", "date").collect()
    want = tables.scan("prices").filter(pl.col("date") >= since).sort("ticker", "date").collect()
    assert got.equals(want) and got.height == 8
    plan = tables.scan("prices", since=since).explain()
    assert sum(f.split("/")[-1] in plan for f in tables.part_files("prices")) == 2   # year 2022 left out


def test_polars_writes_what_duckdb_filters_by_string(tables: Store) -> None:
    """Frames read from the tables go to DuckDB and string filters find the rows (no string_view break)."""
    import duckdb

    tables.append("prices", pl.concat([bars("NVDA", days(D0, 3), 5.0), bars("AMD", days(D0, 2))]), now=NOW)
    frame = tables.scan("prices").collect()
    con = duckdb.connect()
    con.register("prices", frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
    assert con.sql("select count(*) from prices where ticker = 'NVDA'").fetchall() == [(3,)]
    amd = "select count(*) from frame where ticker = 'AMD' and currency = 'USD'"
    assert con.sql(amd).fetchall() == [(2,)]
    if not tables.remote:   # DuckDB reading the table's own Parquet files
        files = ", ".join(f"'{f}'" for f in tables.part_files("prices"))
        nvda = f"select count(*) from read_parquet([{files}]) where ticker = 'NVDA'"
        assert con.sql(nvda).fetchall() == [(3,)]


def test_scan_delta_reads_the_same_rows(tables: Store) -> None:
    """polars' own scan_delta reads the tables the store writes (plus the partition column)."""
    tables.append("prices", bars("A", days(D0, 3)), now=NOW)
    got = pl.scan_delta(tables.table_uri("prices"), storage_options=tables.storage_options or None).collect()
    assert got.drop("year").sort("date").equals(tables.scan("prices").sort("date").collect())
    assert set(got["year"]) == {D0.year}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
    assert store.append("prices", frame, now=NOW).version is None
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)
    store.compact(now=NOW)
    assert store.scan("prices").collect().sort("ticker", "date").equals(expected)


def test_damaged_file_is_skipped_named_and_reported(store: Store) -> None:
    """On a local root a truncated data file is skipped by scans, logged as store.corrupt_part, listed."""
    store.append("prices", bars("A", [D0]), now=NOW)
    store.append("prices", bars("B", [dt.date(2024, 1, 2)]), now=NOW)
    bad = Path(next(f for f in store.part_files("prices") if "year=2024" in f))
    bad.write_bytes(bad.read_bytes()[:40])
    with structlog.testing.capture_logs() as logs:
        assert store.scan("prices").collect()["ticker"].to_list() == ["A"]
    assert [(e["event"], e["path"]) for e in logs] == [("store.corrupt_part", str(bad))]
    status = store.status()
    assert [d.path for d in status.damaged] == [bad]
    assert next(d for d in status.datasets if d.name == "prices").rows == 1


def test_s3_settings_reach_delta_rs_and_the_secret_is_never_shown(tmp_path: Path) -> None:
    """store.* settings become delta-rs storage options; the secret stays out of reprs and settings dumps."""
    from metrics.settings import load_settings

    settings = load_settings(tmp_path, env={}, root=tmp_path, store={
        "url": "s3://bucket/prefix", "endpoint_url": "http://127.0.0.1:9", "region": "eu-west-1",
        "access_key_id": "AKID", "secret_access_key": "very-secret", "allow_http": True})
    store = Store.from_settings(settings)
    assert store.remote and store.root == "s3://bucket/prefix"
    assert store.storage_options["AWS_SECRET_ACCESS_KEY"] == "very-secret"
    assert store.storage_options["AWS_ALLOW_HTTP"] == "true"
    assert store.storage_options["conditional_put"] == "etag"
    assert "very-secret" not in repr(store) + repr(settings) + str(settings.model_dump())
    assert Store.from_settings(load_settings(tmp_path, env={}, root=tmp_path)).root == tmp_path


def test_a_commit_that_lost_the_race_is_recognised_as_a_conflict(store: Store) -> None:
    """A MERGE planned on a stale snapshot raises delta-rs's conflict, which the writers retry."""
    from deltalake import DeltaTable

    from metrics.store.tables import _is_conflict

    store.append("prices", bars("A", [D0]), now=NOW)
    stale = DeltaTable(store.table_uri("prices"))
    store.append("prices", bars("A", [D0], 2.0), now=NOW)            # a concurrent writer wins
    source = bars("A", [D0], 3.0).with_columns(pl.lit(D0.year, pl.Int32).alias("year"))
    with pytest.raises(Exception) as info:
        (stale.merge(source, "t.ticker = s.ticker AND t.date = s.date AND t.year = s.year",
                     source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())
    assert _is_conflict(info.value)
    assert store.scan("prices").collect()["close"].to_list() == [2.0]


def test_two_first_writes_from_one_empty_snapshot_conflict(store: Store) -> None:
    """The first write into an empty table is a plain append carrying an application transaction: a
    second writer that also found the table empty conflicts (and its retry MERGEs), never doubles."""
    from deltalake import DeltaTable

    from metrics.store.tables import _is_conflict

    store.init(["prices"])
    stale = DeltaTable(store.table_uri("prices"))                      # empty, like the loser's snapshot
    assert store.append("prices", bars("A", [D0]), now=NOW).inserted == 1
    source = bars("A", [D0], 3.0).with_columns(pl.lit(D0.year, pl.Int32).alias("year"))
    with pytest.raises(Exception) as info:
        store._first_write("prices", stale, source, {})
    assert _is_conflict(info.value)
    assert store.append("prices", bars("A", [D0], 3.0), now=NOW).updated == 1     # the retry: a MERGE
    assert store.scan("prices").collect()["close"].to_list() == [3.0]


@pytest.mark.parametrize("compacted", [False, True])
def test_reimport_of_many_tickers_and_years_writes_only_what_changed(tables: Store, compacted: bool) -> None:
    """Re-importing a file over several years and tickers compares it with the stored rows (row hashes
    in place in the first write's order, looked up once compaction reordered them): the same file
    commits nothing; one changed bar and one new bar are all that the next import writes."""
    start = dt.date(2023, 12, 20)
    frame = pl.concat([bars(t, days(start, 30), float(i + 1)) for i, t in enumerate(["A", "B", "C"])])
    tables.append("prices", frame, now=NOW)
    if compacted:
        tables.append("prices", bars("D", [start]), now=NOW)
        tables.compact(now=NOW, datasets=["prices"])
        frame = pl.concat([frame, bars("D", [start])]).sort("ticker", "date")
    version = tables.table_version("prices")
    later = NOW + dt.timedelta(days=1)
    again = tables.append("prices", frame.with_columns(pl.lit(later).alias("fetched_at")), now=later)
    assert (again.inserted, again.updated, again.unchanged, again.version) == (0, 0, frame.height, None)
    assert tables.table_version("prices") == version
    changed = frame.with_columns(pl.when((pl.col("ticker") == "B") & (pl.col("date") == start))
                                 .then(99.0).otherwise(pl.col("close")).alias("close"),
                                 pl.lit(later).alias("fetched_at"))
    new = bars("B", [start + dt.timedelta(days=30)], 2.0, fetched_at=later)
    result = tables.append("prices", pl.concat([changed, new]), now=later)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, frame.height - 1)
    got = tables.scan("prices").collect()
    assert got.height == frame.height + 1
    assert got.filter(pl.col("close") == 99.0).select("ticker", "date").rows() == [("B", start)]
