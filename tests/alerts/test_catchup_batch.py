"""A catch-up's quiet closes stepped as one batch (``run_catch_up``) write what one ``run_tick`` per
close writes: the same states, transitions, evaluations, log lines, and after the last close the
same notifications and ``alerts`` rows, over a real store (the bundled sample's bars, statements
published during the catch-up, the shipped rules and a few of our own)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import structlog

from metrics.alerting.evaluate import Evaluator
from metrics.alerting.rules import Rule, load_rules
from metrics.alerting.state import StateDB, open_db
from metrics.alerting.state_schema import evaluations, transitions
from metrics.alerting.tick import recent_bars, run_catch_up, run_tick
from metrics.store.prices.files import import_price_file
from metrics.store.tables import Store
from tests.alerts.conftest import facts_frame, make_rules

PROJECT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
LOADED = dt.datetime(2026, 6, 1, tzinfo=UTC)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

OWN_RULES: list[dict[str, Any]] = [
    {"name": "pending-two-bars", "series": "prices.close", "condition": "change_pct < -1", "for": "2 bars",
     "keep_firing_for": "2 bars", "repeat_interval": "2d", "channels": ["log"],
     "summary": "{entity} {change_pct:+.2f} %"},
    {"name": "over-sma-20", "series": "prices.close", "entities": ["NVDA", "MSFT", "AAPL", "000660.KS"],
     "condition": "value > sma_20", "for": "1d", "keep_firing_for": "1d", "repeat_interval": "1d",
     "channels": ["log"], "summary": "{entity} at {value:.2f} over {sma_20:.2f}"},
    {"name": "revenue-up", "series": "facts.revenue", "condition": "revision_pct > 0", "for": "0",
     "repeat_interval": "0", "channels": ["log"],
     "summary": "{entity} revenue revised {revision_pct:+.1f} %"},
]


def _statement(i: int, entity: str, ticker: str, metric: str, value: float, period: str,
               published: dt.date) -> dict[str, Any]:
    return {"fact_id": f"s{i}", "entity": entity, "ticker": ticker, "metric": metric, "value": value,
            "period": period, "published": published, "kind": "actual", "unit": "USD"}


def _facts() -> pl.DataFrame:
    """Statements before the catch-up and during it (new ones mid-way: the known set changes)."""
    rows = [
        _statement(0, "NVIDIA", "NVDA", "revenue", 100.0, "FY2026", dt.date(2026, 2, 25)),
        _statement(1, "NVIDIA", "NVDA", "net_income", 50.0, "FY2026", dt.date(2026, 2, 25)),
        _statement(2, "Microsoft", "MSFT", "revenue", 200.0, "FY2026", dt.date(2026, 3, 2)),
        _statement(3, "Microsoft", "MSFT", "net_income", 20.0, "FY2026", dt.date(2026, 3, 2)),
        _statement(4, "NVIDIA", "NVDA", "revenue", 110.0, "FY2026", dt.date(2026, 4, 8)),      # revised up
        _statement(5, "Microsoft", "MSFT", "net_income", 40.0, "FY2026", dt.date(2026, 4, 15)),  # margin up
        _statement(6, "Microsoft", "MSFT", "revenue", 190.0, "FY2026", dt.date(2026, 4, 29)),   # revised down
        _statement(7, "Amazon", "AMZN", "capex_guidance", 100.0, "FY2026", dt.date(2026, 3, 10)),
        _statement(8, "Amazon", "AMZN", "capex_guidance", 125.0, "FY2026", dt.date(2026, 4, 22)),
    ]
    return facts_frame(rows).collect()


def _rules() -> list[Rule]:
    return [*load_rules(PROJECT / "config" / "rules.toml"), *make_rules(*OWN_RULES)]


def _closes(first: dt.date, last: dt.date) -> list[dt.datetime]:
    out, day = [], first
    while day <= last:
        if day.weekday() < 5:
            out.append(dt.datetime.combine(day, dt.time(20, 0), tzinfo=UTC))
        day += dt.timedelta(days=1)
    return out


def _world(root: Path) -> tuple[Store, StateDB]:
    store = Store(root / "store")
    store.init()
    sample = import_price_file(PROJECT / "examples" / "prices" / "daily_sample.parquet", now=LOADED,
                               future_ok=True)
    store.append("prices", sample, now=LOADED)
    store.append("facts", _facts(), now=LOADED)
    return store, open_db(f"sqlite:///{(root / 'state.db').as_posix()}")


def _contents(store: Store, db: StateDB) -> dict[str, Any]:
    with db.engine.connect() as conn:
        moved = [dict(r._mapping)
                 for r in conn.execute(sa.select(transitions).order_by(transitions.c.alert_id))]
        evals = [dict(r._mapping) for r in conn.execute(sa.select(evaluations).order_by(evaluations.c.at))]
    notes = [{k: v for k, v in n.items() if k != "id"} for n in db.notifications(limit=10_000)]
    alerts = store.scan("alerts").collect().sort("alert_id").to_dicts()
    return {"states": db.states(), "transitions": moved, "evaluations": evals, "notifications": notes,
            "alerts": alerts}


def _events(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] in ("alert.transition", "tick.done", "tick.skipped")]


@pytest.mark.parametrize("before", [0, 3])
def test_batched_catch_up_writes_what_one_tick_per_close_writes(tmp_path: Path, before: int) -> None:
    """``before`` closes evaluated live first (states, firing and told, carried into the catch-up);
    then 30 missed closes: the batch equals one quiet tick per close, and so does the last close;
    also with the last close evaluated in the batch (``frames`` and ``frame``, as the evaluate job
    does)."""
    rules = _rules()
    closes = _closes(dt.date(2026, 3, 27), dt.date(2026, 5, 20))
    live, missed, last = closes[:before], closes[before:-1], closes[-1]
    assert len(missed) >= 30
    results = []
    for mode in ("ticks", "batch", "with-last"):
        store, db = _world(tmp_path / mode)
        evaluator = Evaluator(rules)
        for at in live:
            run_tick(store, db, rules, now=at, evaluator=evaluator)
        frames = (evaluator.evaluate_many(recent_bars(store), store.scan("facts"), [*missed, last],
                                          with_features=True) if mode == "with-last" else None)
        with structlog.testing.capture_logs() as logs:
            if mode == "ticks":
                reports = [run_tick(store, db, rules, now=NOW, at=at, evaluator=evaluator, quiet=True,
                                    record=False) for at in missed]
            else:
                reports = run_catch_up(store, db, rules, now=NOW, ats=missed, evaluator=evaluator,
                                       frames=frames[:-1] if frames is not None else None)
        seen = _events(logs)
        with structlog.testing.capture_logs() as logs:
            run_tick(store, db, rules, now=NOW, at=last, evaluator=evaluator,
                     frame=frames[-1] if frames is not None else None)
        results.append((_contents(store, db), [r.as_dict() for r in reports],
                        [r.transitions for r in reports], seen + _events(logs)))
        db.close()
    (ticks, ticks_reports, ticks_moved, ticks_logs), *batches = results
    assert sum(len(m) for m in ticks_moved) > 10        # the catch-up has something to compare
    assert {t["state"] for m in ticks_moved for t in m} == {"pending", "firing", "resolved"}
    assert len(ticks["evaluations"]) == len(closes)
    assert ticks["notifications"]
    for batch, batch_reports, batch_moved, batch_logs in batches:
        assert batch_reports == ticks_reports
        assert batch_moved == ticks_moved
        assert batch_logs == ticks_logs
        for name in ("states", "transitions", "evaluations", "notifications", "alerts"):
            assert batch[name] == ticks[name], name


def test_a_batch_already_evaluated_or_stopped_writes_nothing(tmp_path: Path) -> None:
    """Closes not after the last evaluation are skipped (reported, nothing written); a stop set
    before the batch leaves every close out."""
    rules = _rules()
    store, db = _world(tmp_path)
    closes = _closes(dt.date(2026, 5, 4), dt.date(2026, 5, 15))
    run_tick(store, db, rules, now=closes[4], at=closes[4])
    with structlog.testing.capture_logs() as logs:
        reports = run_catch_up(store, db, rules, now=NOW, ats=closes[:5])
    assert [r.skipped for r in reports] == [True] * 5
    assert [e["event"] for e in logs] == ["tick.skipped"] * 5
    assert db.last_evaluation() == closes[4]
    stop = threading.Event()
    stop.set()
    assert run_catch_up(store, db, rules, now=NOW, ats=closes[5:], stop=stop) == []
    assert db.last_evaluation() == closes[4]
    done = run_catch_up(store, db, rules, now=NOW, ats=closes[5:])
    assert [r.skipped for r in done] == [False] * 5
    assert db.last_evaluation() == closes[-1]
    db.close()


def test_evaluate_many_gives_each_points_evaluation(real_prices: pl.LazyFrame) -> None:
    """``Evaluator.evaluate_many`` over 30 closes equals one ``evaluate`` per close, frame for frame,
    also when the entities change between closes (a ticker listed mid-way: new pairs) and for rules
    naming entities by company name (the name map)."""
    start = dt.date(2026, 4, 6)
    listed = pl.DataFrame({"ticker": "NEWCO", "date": [start + dt.timedelta(days=i) for i in range(60)],
                           "close": [float(100 + i % 7) for i in range(60)], "currency": "USD"})
    prices = pl.concat([real_prices.collect(), listed], how="diagonal_relaxed").lazy()
    facts = facts_frame([
        {"entity": "NVIDIA", "ticker": "NVDA", "metric": "revenue", "value": 100.0, "period": "FY2026",
         "published": dt.date(2026, 2, 25)},
        {"entity": "NVIDIA", "ticker": "NVDA", "metric": "revenue", "value": 120.0, "period": "FY2026",
         "published": dt.date(2026, 4, 2)},
    ])
    rules = [*_rules(), *make_rules(
        {"name": "by-name", "series": "prices.close", "entities": ["NVIDIA", "MSFT"],
         "condition": "value > 1", "for": "0", "channels": ["log"], "summary": "{entity}"})]
    evaluator = Evaluator(rules)
    closes = _closes(dt.date(2026, 3, 20), dt.date(2026, 5, 1))
    batch = evaluator.evaluate_many(prices, facts, closes, with_features=True)
    each = [Evaluator(rules).evaluate(prices, facts, at=at, with_features=True) for at in closes]
    assert len(batch) == len(each) == len(closes)
    heights = {df.height for df in each}
    assert len(heights) > 1                          # NEWCO joins mid-way
    for at, got, expected in zip(closes, batch, each, strict=True):
        assert got.equals(expected), at
        assert got.columns == expected.columns
