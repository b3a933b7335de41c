"""Executors: a backtest split by entity (serially, and over a real local Ray instance) equals the local one.

The store is real (Delta tables in tmp_path) with the real bars of tests/alerts/data, whose
000660.KS trades on other days than the US tickers: a rule over all tickers is evaluated on the
union of their dates, so a shard must see those dates too. Ray tests are marked ``slow`` and run
in ``make test``; without Ray installed they skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import facts_frame, make_rules
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from jobs.cli import app
from metrics.alerting.backtest import Window
from metrics.alerting.executors import LocalExecutor, combine, get_executor, plan_shards, run_shard
from metrics.alerting.rules import Rule
from metrics.store.tables import Store

D = dt.date
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
START, END = D(2024, 1, 1), D(2025, 12, 31)
DATA = Path(__file__).resolve().parent / "data"

RULES: list[dict[str, Any]] = [
    {"name": "fall", "series": "prices.close", "condition": "change_pct_5 <= -5", "keep_firing_for": "3d"},
    {"name": "under-sma", "series": "prices.close", "condition": "value < sma_50", "for": "3d"},
    {"name": "near-high", "series": "prices.close", "entities": ["NVDA", "000660.KS"],
     "condition": "value >= high_52w * 0.97", "for": "2 bars"},
    {"name": "quiet", "series": "prices.close", "condition": "age_days >= 3"},
    {"name": "revenue", "series": "facts.revenue", "condition": "value > 1e9"},
    {"name": "margin", "series": "derived.net_margin", "condition": "value > 20"},
    {"name": "mcap", "series": "derived.market_cap", "condition": "value > 2e12", "for": "2 bars"},
    {"name": "mcap-nvidia", "series": "derived.market_cap", "entities": ["Nvidia"],
     "condition": "value > 3e12"},
    {"name": "revenue-named", "series": "facts.revenue", "entities": ["Apple", "XYZ", "Acme Robotics"],
     "condition": "value > 0"},
]

FACTS = [
    {"entity": "Nvidia", "ticker": "NVDA", "metric": "revenue", "value": 60.9e9, "period": "FY2024",
     "published": D(2024, 2, 21)},
    {"entity": "Nvidia", "ticker": "NVDA", "metric": "revenue", "value": 130.5e9, "period": "FY2025",
     "published": D(2025, 2, 26)},
    {"entity": "Nvidia", "ticker": "NVDA", "metric": "net_income", "value": 29.76e9, "period": "FY2024",
     "published": D(2024, 2, 21)},
    {"entity": "Nvidia", "ticker": "NVDA", "metric": "net_income", "value": 72.88e9, "period": "FY2025",
     "published": D(2025, 2, 26)},
    {"entity": "Nvidia", "ticker": "NVDA", "metric": "shares_outstanding", "value": 24.5e9, "unit": "count",
     "published": D(2024, 6, 10)},
    {"entity": "Apple", "ticker": "AAPL", "metric": "revenue", "value": 391e9, "period": "FY2024",
     "published": D(2024, 10, 31)},
    {"entity": "Apple", "ticker": "AAPL", "metric": "net_income", "value": 93.7e9, "period": "FY2024",
     "published": D(2024, 10, 31)},
    {"entity": "Apple", "ticker": "AAPL", "metric": "shares_outstanding", "value": 15.1e9, "unit": "count",
     "published": D(2024, 1, 15)},
    {"entity": "SK hynix", "ticker": "000660.KS", "metric": "revenue", "value": 66.19e12, "unit": "KRW",
     "value_usd": 48e9, "period": "FY2024", "published": D(2025, 1, 23)},
    {"entity": "SK hynix", "ticker": "000660.KS", "metric": "shares_outstanding", "value": 728e6,
     "unit": "count", "published": D(2024, 3, 4)},
    {"entity": "Acme Robotics", "metric": "revenue", "value": 1.2e9, "period": "FY2024",
     "published": D(2024, 5, 2)},
    {"entity": "Acme Robotics", "metric": "revenue", "value": 0.9e9, "period": "FY2025",
     "published": D(2025, 5, 1)},
    {"entity": "Acme Robotics", "metric": "net_income", "value": 0.3e9, "period": "FY2024",
     "published": D(2024, 5, 2)},
    {"entity": "Xyz Corp", "ticker": "XYZ", "metric": "revenue", "value": 5e8, "period": "FY2024",
     "published": D(2024, 7, 1)},
]


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    """Rules over all entities and over named ones, on bars, statements and derived series."""
    return make_rules(*RULES)


@pytest.fixture(scope="module")
def data_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A real store with the real bars of five tickers and statements of five entities (one has no ticker)."""
    store = Store(tmp_path_factory.mktemp("executors") / "root")
    store.init()
    bars = pl.read_parquet(DATA / "prices_2023_2026.parquet")
    store.append("prices", bars.with_columns(source=pl.lit("file:test"), fetched_at=pl.lit(NOW)), now=NOW)
    store.append("facts", facts_frame(FACTS).collect(), now=NOW)
    return store


def local(rules: list[Rule], store: Store, **options: Any) -> pl.DataFrame:
    return LocalExecutor().backtest(rules, store, Window(START, END, **options))


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
@pytest.mark.parametrize("calendar", [None, "XNYS"])
def test_sharded_backtest_equals_the_local_one(
    rules: list[Rule], data_store: Store, shards: int, calendar: str | None
) -> None:
    """Split into shards run one after the other, the backtest gives the local result row for row."""
    expected = local(rules, data_store, calendar=calendar)
    assert set(expected["rule"]) == {r["name"] for r in RULES}  # every kind of rule has changes
    prices, facts = data_store.scan("prices"), data_store.scan("facts")
    plan = plan_shards(rules, prices, facts, shards=shards, window=Window(START, END, calendar=calendar))
    assert len(plan) == min(shards, 7)  # 6 tickers and one entity without a ticker
    parts = [run_shard(s, rules, prices, facts, Window(START, END, calendar=calendar)) for s in plan]
    assert_frame_equal(combine(parts), expected)


def test_every_entity_has_one_owner(rules: list[Rule], data_store: Store) -> None:
    """Each ticker and each entity without a ticker is owned by exactly one shard; context is extra."""
    prices, facts = data_store.scan("prices"), data_store.scan("facts")
    plan = plan_shards(rules, prices, facts, shards=3, window=Window(START, END))
    tickers = [t for s in plan for t in s.tickers]
    assert sorted(tickers) == ["000660.KS", "AAPL", "AMZN", "MSFT", "NVDA", "XYZ"]
    assert sorted(n for s in plan for n in s.names if n == "Acme Robotics") == ["Acme Robotics"]
    assert all(s.tickers <= s.load_tickers for s in plan)
    # the Korean and a US ticker give every shard all dates with bars
    assert all({"000660.KS"} < s.load_tickers for s in plan)


def test_shards_without_the_date_context_would_differ(rules: list[Rule], data_store: Store) -> None:
    """The context tickers matter: shards holding only their own tickers evaluate on other dates."""
    from metrics.alerting.executors import Shard

    prices, facts = data_store.scan("prices"), data_store.scan("facts")
    plan = plan_shards(rules, prices, facts, shards=5, window=Window(START, END))
    bare = [Shard(s.tickers, s.names, s.tickers, s.names) for s in plan]
    parts = [run_shard(s, rules, prices, facts, Window(START, END)) for s in bare]
    assert not combine(parts).equals(local(rules, data_store))


def test_unknown_executor_is_refused() -> None:
    """An unknown executor name, or an address for the local one, is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="local or ray"):
        get_executor("dask")
    with pytest.raises(ValueError, match="ray executor only"):
        get_executor("local", address="auto")


# ------------------------------------------------------------------------------------------ Ray


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """A local Ray instance with 2 CPUs for this module, shut down at its end."""
    try:
        import ray
    except ImportError:
        message = "ray is not installed: pip install -e '.[ray]' (the dev extra installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_backtest_equals_the_local_one(ray_instance: Any, rules: list[Rule], data_store: Store) -> None:
    """Over Ray tasks, the backtest gives the local executor's result row for row."""
    expected = local(rules, data_store)
    for shards in (None, 3):
        got = get_executor("ray").backtest(rules, data_store, Window(START, END)) if shards is None else (
            _ray(shards).backtest(rules, data_store, Window(START, END)))
        assert_frame_equal(got, expected)


def _ray(shards: int) -> Any:
    from metrics.alerting.ray_executor import RayExecutor

    return RayExecutor(shards=shards)


@pytest.mark.slow
def test_ray_tasks_read_the_pinned_version(ray_instance: Any, rules: list[Rule], tmp_path: Path) -> None:
    """A store pinned to an old version is read at that version by every task, not at the latest."""
    store = Store(tmp_path / "root")
    store.init()
    bars = pl.read_parquet(DATA / "prices_2023_2026.parquet").with_columns(
        source=pl.lit("file:test"), fetched_at=pl.lit(NOW))
    store.append("prices", bars.filter(pl.col("date") < D(2025, 1, 1)), now=NOW)
    store.append("facts", facts_frame(FACTS).collect(), now=NOW)
    old = store.pinned(version=store.table_version("prices"))
    store.append("prices", bars.filter(pl.col("date") >= D(2025, 1, 1)), now=NOW)
    expected = local(rules, old)
    assert expected["at"].max() < D(2025, 1, 1) <= local(rules, store)["at"].max()
    assert_frame_equal(_ray(2).backtest(rules, old, Window(START, END)), expected)


@pytest.mark.slow
def test_cli_backtest_on_ray_prints_what_local_prints(
    ray_instance: Any, data_store: Store, config_dir: Path
) -> None:
    """``rules backtest --executor ray`` prints the same jsonl lines as ``--executor local``."""
    (config_dir / "rules.toml").write_text(
        "\n".join(
            f'[[rules]]\nname = "{r["name"]}"\nseries = "{r["series"]}"\ncondition = "{r["condition"]}"\n'
            + (f"entities = {json.dumps(r['entities'])}\n" if "entities" in r else "")
            for r in RULES
        ),
        encoding="utf-8",
    )
    args = ["--root", str(data_store.root), "--config", str(config_dir), "rules", "backtest",
            "--from", START.isoformat(), "--to", END.isoformat(), "--format", "jsonl"]
    outs = {}
    for executor in ("local", "ray"):
        res = CliRunner().invoke(app, [*args, "--executor", executor])
        assert res.exit_code == 0, res.output
        outs[executor] = res.stdout.splitlines()
    assert outs["ray"] == outs["local"] and len(outs["local"]) > 50


def test_cli_refuses_an_unknown_executor(tmp_path: Path, config_dir: Path) -> None:
    """``--executor dask``, or ``--address`` with the local executor, exits with status 2."""
    import sys

    from jobs.cli import main

    args = ["metrics", "--root", str(tmp_path / "root"), "--config", str(config_dir), "rules", "backtest",
            "--from", "2025-01-01", "--to", "2025-12-31"]
    for extra in (["--executor", "dask"], ["--address", "auto"]):
        old = sys.argv
        sys.argv = [*args, *extra]
        try:
            main()
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError("expected exit 2")
        finally:
            sys.argv = old
