"""Known on day D, at the boundary day, for each user: `metrics facts --as-of`, rule evaluation, backtest.

One store holds three statements of one fact published the day before D, on D and the day after, and
three bars dated likewise. On D every user must see the statement and the bar of D itself, and
nothing of the day after (``metrics.store.pit.known_on`` is the one definition they share).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from jobs.cli import app
from metrics import backtest, evaluate
from metrics.alerting.rules import Rule, parse_rules
from metrics.store.pit import known, latest_bars, latest_facts
from metrics.store.tables import Store

DAY = dt.date(2025, 3, 5)  # a Wednesday
BEFORE, AFTER = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)
INGESTED = dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
REVENUE = {BEFORE: 100.0, DAY: 120.0, AFTER: 150.0}  # statements of Acme's FY2024 revenue
CLOSE = {BEFORE: 10.0, DAY: 20.0, AFTER: 30.0}  # ACME's bars


def facts_rows() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"fact_id": f"f{i}", "published": day, "entity": "Acme", "ticker": "ACME", "metric": "revenue",
             "value": value, "value_usd": value, "unit": "USD", "period": "FY2024", "kind": "actual",
             "ingested_at": INGESTED}
            for i, (day, value) in enumerate(REVENUE.items())
        ]
    )


def price_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {"ticker": ["ACME"] * 3, "date": list(CLOSE), "close": list(CLOSE.values()), "currency": ["USD"] * 3}
    )


@pytest.fixture
def filled(store: Store) -> Store:
    """The store with the three statements and the three bars."""
    store.append("facts", facts_rows())
    store.append("prices", price_rows())
    return store


def rules(*specs: dict[str, Any]) -> list[Rule]:
    parsed, errors = parse_rules({"rules": [{"for": "0", "channels": ["log"], **s} for s in specs]})
    assert not errors, errors
    return parsed


def test_pit_functions_include_the_day_itself() -> None:
    """known, latest_facts and latest_bars keep rows dated on the day and drop the day after."""
    facts, prices = facts_rows().lazy(), price_rows().lazy()
    assert sorted(known(facts, "facts", DAY).collect()["value"]) == [100.0, 120.0]
    assert latest_facts(facts, DAY).collect()["value"].to_list() == [120.0]
    assert latest_bars(prices, DAY).collect()["close"].to_list() == [20.0]
    assert latest_bars(prices, BEFORE - dt.timedelta(days=1)).collect().height == 0


def test_facts_as_of_cli_sees_the_statement_of_the_day(filled: Store, config_dir: Path) -> None:
    """`metrics facts --as-of D` shows the statement published on D, not the one of the day after."""
    def as_of(day: dt.date) -> list[float]:
        args = ["facts", "--metric", "revenue", "--as-of", day.isoformat(), "--format", "jsonl"]
        result = CliRunner().invoke(app, ["--root", str(filled.root), "--config", str(config_dir), *args])
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["value"] for line in result.stdout.splitlines()]

    assert as_of(DAY) == [120.0]
    assert as_of(BEFORE) == [100.0]
    assert as_of(BEFORE - dt.timedelta(days=1)) == []


def test_store_prices_as_of_sees_the_bar_of_the_day(filled: Store) -> None:
    """The store's latest bar as of D is the bar dated D."""
    assert filled.prices_as_of(DAY).collect()["close"].to_list() == [20.0]
    assert filled.facts_as_of(DAY).collect()["value"].to_list() == [120.0]


def test_rule_evaluation_on_the_day_sees_that_day_and_not_the_next(filled: Store) -> None:
    """Evaluated at D (after the close), rules see D's statement and bar and nothing published after."""
    at = dt.datetime(DAY.year, DAY.month, DAY.day, 22, 0, tzinfo=dt.UTC)
    rs = rules(
        {"name": "revised", "series": "facts.revenue", "condition": "revision_pct > 10"},
        {"name": "close", "series": "prices.close", "condition": "value >= 20"},
    )
    df = evaluate(rs, filled.scan("prices"), filled.scan("facts"), at=at)
    got = {r["rule"]: (r["holds"], r["value"], r["data_at"]) for r in df.to_dicts()}
    assert got == {"revised": (True, 120.0, DAY), "close": (True, 20.0, DAY)}


def test_backtest_fires_on_the_day_the_data_is_known(filled: Store) -> None:
    """A backtest fires on the day a statement is published and the day a bar is dated, not a day late
    and not a day early."""
    rs = rules(
        {"name": "rev-120", "series": "facts.revenue", "condition": "value >= 120"},
        {"name": "rev-150", "series": "facts.revenue", "condition": "value >= 150"},
        {"name": "close-20", "series": "prices.close", "condition": "value >= 20"},
    )
    df = backtest(rs, filled.scan("prices"), filled.scan("facts"), start=BEFORE, end=AFTER)
    first = df.filter(pl.col("state") == "firing").group_by("rule").agg(pl.col("at").min())
    assert dict(first.iter_rows()) == {"rev-120": DAY, "rev-150": AFTER, "close-20": DAY}
