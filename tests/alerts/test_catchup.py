"""Catch-up after downtime: every transition recorded, only what is still current notified, as digests."""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.alerting.rules import Rule
from metrics.alerting.state import StateDB
from metrics.alerting.tick import run_tick
from metrics.store.tables import Store
from tests.alerts.conftest import make_rules, price_frame

LOADED = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START = dt.date(2025, 1, 1)
STALE = [f"T{i}" for i in range(10)]


def close(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(21, 0), tzinfo=dt.UTC)


def weekdays(first: dt.date, count: int) -> list[dt.datetime]:
    out, day = [], first
    while len(out) < count:
        if day.weekday() < 5:
            out.append(close(day))
        day += dt.timedelta(days=1)
    return out


def series(*spans: tuple[int, float]) -> list[float]:
    """Daily closes from ``START``: (number of days, close) spans one after the other."""
    return [v for days, v in spans for _ in range(days)]


def rules() -> list[Rule]:
    return make_rules(
        {"name": "below-100", "series": "prices.close", "entities": ["A", "B", "C"],
         "condition": "value < 100", "for": "0", "repeat_interval": "1d", "channels": ["log", "hook"],
         "summary": "{entity} closed at {value:.2f}"},
        {"name": "stale", "series": "prices.close", "entities": STALE, "condition": "stale_bars >= 3",
         "for": "0", "repeat_interval": "1d", "severity": "critical", "channels": ["log", "hook"],
         "summary": "no new price for {entity} for {stale_bars} sessions"},
    )


def setup(store: Store) -> None:
    frames = [
        # A: fires Jan 21, resolves Jan 27, fires again Feb 3 and is still firing at the end
        price_frame("A", START, series((20, 120.0), (5, 90.0), (7, 120.0), (40, 90.0)), now=LOADED),
        # B: firing (and told) before the downtime, back above 100 from Jan 15
        price_frame("B", START, series((14, 90.0), (58, 120.0)), now=LOADED),
        # C: firing (and told) before the downtime and all through it
        price_frame("C", START, series((72, 90.0)), now=LOADED),
        # T0..T9: no bar after Jan 10 (the feed stopped)
        *(price_frame(t, START, series((10, 50.0)), now=LOADED) for t in STALE),
    ]
    store.append("prices", pl.concat(frames), now=LOADED)


def catch_up(store: Store, db: StateDB, points: list[dt.datetime], *, now: dt.datetime) -> None:
    """What the evaluate job does after downtime: every missed close quiet but the last."""
    for at in points:
        run_tick(store, db, rules(), now=now, at=at, quiet=at != points[-1])


def test_catch_up_notifies_only_what_is_still_current_as_one_digest_per_channel(
        store: Store, db: StateDB) -> None:
    """30 missed closes: every transition is recorded, and each channel gets one digest naming the
    alerts firing now, the one resolved since it was announced and one reminder, nothing else."""
    setup(store)
    for at in weekdays(dt.date(2025, 1, 6), 5):           # the daemon runs Jan 6-10
        run_tick(store, db, rules(), now=at)
    before = {n["idempotency_key"] for n in db.notifications()}
    first = min((n for n in db.notifications() if n["channel"] == "log"), key=lambda n: n["id"])
    told = [(a["entity"], a["kind"]) for a in first["payload"]["alerts"]]
    assert told == [("B", "firing"), ("C", "firing")]
    missed = weekdays(dt.date(2025, 1, 13), 30)             # down until Feb 21
    catch_up(store, db, missed, now=missed[-1] + dt.timedelta(hours=1))
    new = [n for n in db.notifications() if n["idempotency_key"] not in before]
    assert sorted(n["channel"] for n in new) == ["hook", "log"]
    digest = new[0]["payload"]
    assert digest["kind"] == "digest" and digest["counts"] == {"firing": 11, "reminder": 1, "resolved": 1}
    assert digest["summary"] == "11 alerts firing, 1 resolved, 1 still firing (reminder)"
    kinds = {(a["rule"], a["entity"]): a["kind"] for a in digest["alerts"]}
    assert kinds == {("below-100", "A"): "firing", ("below-100", "B"): "resolved",
                     ("below-100", "C"): "reminder", **{("stale", t): "firing" for t in STALE}}
    a = next(p for p in digest["alerts"] if p["entity"] == "A")
    assert a["started_at"] == "2025-02-03T21:00:00Z" and a["summary"] == "A closed at 90.00"
    history = store.scan("alerts").filter(pl.col("entity") == "A").sort("at").collect()
    assert history.select("state").to_series().to_list() == ["firing", "resolved", "firing"]
    stale = store.scan("alerts").filter(pl.col("rule") == "stale").collect()
    assert stale.height == 10 and set(stale["state"]) == {"firing"}


def test_a_replayed_catch_up_sends_nothing_again(store: Store, db: StateDB) -> None:
    """Evaluating the catch-up's closes again (a restart) adds no notification and no transition."""
    setup(store)
    missed = weekdays(dt.date(2025, 1, 13), 10)
    now = missed[-1] + dt.timedelta(hours=1)
    catch_up(store, db, missed, now=now)
    sent = {n["idempotency_key"] for n in db.notifications()}
    catch_up(store, db, missed, now=now)
    assert {n["idempotency_key"] for n in db.notifications()} == sent


def test_an_alert_that_fired_and_resolved_during_the_downtime_is_not_notified(
        store: Store, db: StateDB) -> None:
    """A whole episode inside the catch-up is recorded in the history but sent to nobody."""
    setup(store)
    missed = weekdays(dt.date(2025, 1, 20), 6)               # Jan 20-27: A fires and resolves
    catch_up(store, db, missed, now=missed[-1] + dt.timedelta(hours=1))
    a = store.scan("alerts").filter(pl.col("entity") == "A").sort("at").collect()
    assert a["state"].to_list() == ["firing", "resolved"]
    told = [n for n in db.notifications() if n["rule"] != "digest"]
    digests = [p for n in db.notifications() if n["rule"] == "digest" for p in n["payload"]["alerts"]]
    assert all(n["entity"] != "A" for n in told) and all(p["entity"] != "A" for p in digests)
