"""The Delta store's commands end to end: store init, store migrate, time travel on query/facts/backtest."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import polars as pl
import pytest

from metrics.store.tables import Store
from tests.store.conftest import NOW, PRICE_SAMPLES, bars, days
from tests.store.test_cli_store import Cli
from tests.store.test_migrate import old_store

SAMPLE = PRICE_SAMPLES / "sample_2025q4.parquet"


@pytest.fixture
def cli(tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "root", config_dir, capsys, monkeypatch)


def test_store_init_creates_the_tables_once(cli: Cli) -> None:
    """store init creates the four tables, then reports that nothing was left to create."""
    code, _, err = cli("store", "init")
    assert code == 0 and "created facts, prices, alerts, documents" in err
    names = ("facts", "prices", "alerts", "documents")
    assert all((cli.root / name / "_delta_log").is_dir() for name in names)
    code, _, err = cli("store", "init")
    assert code == 0 and "nothing" in err


def test_reimport_says_nothing_changed(cli: Cli) -> None:
    """Importing the same file twice leaves the table version unchanged and the rows once."""
    cli("store", "init")
    cli("prices", "import", str(SAMPLE))
    version = Store(cli.root).table_version("prices")
    code, _, err = cli("prices", "import", str(SAMPLE))
    assert code == 0 and "(0 new, 0 changed, 490 unchanged)" in err
    assert "nothing written: the same source as an earlier import" in err
    assert Store(cli.root).table_version("prices") == version
    _, out, _ = cli("query", "select count(*) as n from prices", "--format", "json")
    assert json.loads(out) == [{"n": 490}]


def test_query_and_facts_travel_in_time(cli: Cli) -> None:
    """query --version and facts --as-of-commit read the tables as they were then."""
    cli("store", "init")
    store = Store(cli.root)
    store.append("prices", bars("A", days(dt.date(2025, 1, 2), 3), 1.0), now=NOW)      # prices v1
    store.append("facts", pl.DataFrame([{"fact_id": "f1", "entity": "Acme", "metric": "revenue", "value": 1.0,
                                         "published": dt.date(2025, 1, 2), "ingested_at": NOW}]), now=NOW)
    time.sleep(0.01)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    store.append("prices", bars("B", days(dt.date(2025, 1, 2), 2), 1.0), now=NOW)      # prices v2
    store.append("facts", pl.DataFrame([{"fact_id": "f2", "entity": "Acme", "metric": "revenue", "value": 2.0,
                                         "published": dt.date(2025, 1, 3), "ingested_at": NOW}]), now=NOW)
    sql = "select count(*) as n from prices"
    assert json.loads(cli("query", sql, "--format", "json")[1]) == [{"n": 5}]
    assert json.loads(cli("query", sql, "--format", "json", "--version", "1")[1]) == [{"n": 3}]
    code, out, _ = cli("facts", "--format", "json", "--as-of-commit", between.isoformat())
    assert code == 0 and [f["fact_id"] for f in json.loads(out)] == ["f1"]
    code, _, err = cli("query", sql, "--version", "1", "--as-of-commit", between.isoformat())
    assert code == 2 and "not both" in err
    code, _, err = cli("query", sql, "--version", "9")
    assert code == 1 and "prices" in err and "no version" in err


def test_backtest_accepts_a_table_version(cli: Cli) -> None:
    """rules backtest --version reads the prices of that version: no bars then, no transitions."""
    cli("store", "init")
    cli("prices", "import", str(SAMPLE))
    args = ("rules", "backtest", "--from", "2025-10-01", "--to", "2026-05-29", "--format", "jsonl")
    code, now_out, _ = cli(*args)
    assert code == 0
    code, then_out, _ = cli(*args, "--version", "0")
    assert code == 0 and then_out.strip() == "" and now_out.strip() != ""


def test_store_migrate_converts_the_former_layout(cli: Cli) -> None:
    """store migrate converts a store of the former layout in place, verified, old parts kept aside."""
    expected = old_store(cli.root)
    code, out, err = cli("store", "migrate")
    assert code == 0, err
    assert "prices,4,1,7,7," in out and ",True," in out
    assert "part-0000000005" in err                      # the damaged part is named
    assert Store(cli.root).scan("prices").collect().sort("ticker", "date").equals(expected)
    assert (cli.root / ".old-layout" / "prices").is_dir()
    code, _, err = cli("store", "migrate")
    assert code == 0 and "nothing to migrate" in err
