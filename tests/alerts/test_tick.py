"""One evaluation tick: transitions, one transaction, the outbox, the alerts dataset, replays, crashes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa

from metrics.alerting.notify import build_notifiers
from metrics.alerting.outbox import deliver_due, idempotency_key
from metrics.alerting.state import StateDB, alert_states, evaluations, notifications, transitions
from metrics.alerting.tick import run_tick
from metrics.settings import EmailChannel, LogChannel
from metrics.store.schema import conform
from metrics.store.tables import Store
from tests.alerts.conftest import Certs, SMTPServer, make_rules, price_frame

LOADED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START = dt.date(2025, 1, 1)
# 120, 118, ... 2 a day: under 100 from 2025-01-12 on
CLOSES = [120.0 - 2 * i for i in range(30)]


def at(day: int) -> dt.datetime:
    return dt.datetime(2025, 1, day, 21, 0, tzinfo=dt.UTC)


def below_100(**over: object) -> dict[str, object]:
    spec: dict[str, object] = {"name": "tst-below-100", "series": "prices.close", "entities": ["TST"],
                               "condition": "value < 100", "for": "0", "repeat_interval": "0",
                               "channels": ["log", "hook"], "summary": "{entity} closed at {value:.2f}"}
    spec.update(over)
    return spec


def loaded(store: Store, closes: list[float] = CLOSES) -> Store:
    store.append("prices", price_frame("TST", START, closes, now=LOADED), now=LOADED)
    return store


def test_firing_enqueues_one_notification_per_channel(store: Store, db: StateDB) -> None:
    """A rule that starts to hold fires: the state, a transition and one notification per channel."""
    rules = make_rules(below_100())
    loaded(store)
    quiet = run_tick(store, db, rules, now=at(5))
    assert quiet.transitions == [] and quiet.notifications == 0 and quiet.stepped == 0
    report = run_tick(store, db, rules, now=at(12))
    assert [(t["state"], t["value"]) for t in report.transitions] == [("firing", 98.0)]
    assert report.notifications == 2
    [state] = db.states()
    assert state["state"] == "firing" and state["fired_at"] == at(12)
    rows = db.notifications()
    assert sorted(n["channel"] for n in rows) == ["hook", "log"]
    assert all(n["status"] == "queued" and n["payload"]["summary"] == "TST closed at 98.00" for n in rows)
    assert rows[0]["payload"]["chart"]["threshold"] == 100.0
    assert rows[0]["payload"]["chart"]["values"][-1] == 98.0
    assert db.last_evaluation() == at(12)
    history = store.scan("alerts").collect()
    assert history.select("rule", "entity", "state", "at").rows() == [
        ("tst-below-100", "TST", "firing", at(12))]


def test_replaying_a_tick_enqueues_nothing(store: Store, db: StateDB) -> None:
    """Running the same tick again, or one older than the last, changes nothing and sends nothing."""
    rules = make_rules(below_100())
    loaded(store)
    run_tick(store, db, rules, now=at(12))
    again = run_tick(store, db, rules, now=at(12))
    older = run_tick(store, db, rules, now=at(11))
    assert again.skipped and older.skipped
    assert len(db.notifications()) == 2
    assert store.scan("alerts").collect().height == 1


def test_keys_are_stable_when_a_tick_is_recomputed(store: Store, db: StateDB) -> None:
    """If a tick is recomputed from the same prior state, the same keys collide and nothing is doubled."""
    rules = make_rules(below_100())
    loaded(store)
    run_tick(store, db, rules, now=at(12))
    with db.write() as conn:  # forget the tick's state changes, as a restored database would
        conn.execute(alert_states.delete())
        conn.execute(evaluations.delete())
    report = run_tick(store, db, rules, now=at(12))
    assert len(report.transitions) == 1 and report.notifications == 0
    assert len(db.notifications()) == 2
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(transitions)).scalar() == 1
    assert store.scan("alerts").collect().height == 1
    key = idempotency_key("tst-below-100", "TST", "firing", fired_at=at(12), statement=None, repeat=0,
                          channel="log")
    assert key in {n["idempotency_key"] for n in db.notifications()}


def test_repeat_and_resolve_have_their_own_keys(store: Store, db: StateDB) -> None:
    """Reminders of a firing alert and its resolve are new notifications with distinct keys."""
    closes = [*CLOSES[:20], 101.0, 102.0]      # back above 100 on 2025-01-21
    rules = make_rules(below_100(repeat_interval="3d", channels=["log"]))
    loaded(store, closes)
    for day in (12, 13, 15, 16, 20, 21):
        run_tick(store, db, rules, now=at(day))
    rows = sorted(db.notifications(), key=lambda n: n["id"])
    assert [(n["state"], n["payload"]["repeat"]) for n in rows] == [
        ("firing", 0), ("firing", 1), ("firing", 2), ("resolved", 0)]
    assert len({n["idempotency_key"] for n in rows}) == 4
    resolved = rows[-1]["payload"]
    assert resolved["started_at"] == "2025-01-12T21:00:00Z"
    assert resolved["ended_at"] == "2025-01-21T21:00:00Z"
    assert [s["state"] for s in db.states()] == ["inactive"]
    history = store.scan("alerts").sort("at").collect()
    assert history.get_column("state").to_list() == ["firing", "resolved"]


def test_each_notification_describes_its_own_state(store: Store, db: StateDB) -> None:
    """Firing, reminder and resolved notifications each carry their own text, with the values of then."""
    closes = [*CLOSES[:20], 101.0, 102.0]      # back above 100 on 2025-01-21
    rules = make_rules(below_100(repeat_interval="3d", channels=["log"]))
    loaded(store, closes)
    for day in (12, 15, 21):
        run_tick(store, db, rules, now=at(day))
    rows = sorted(db.notifications(), key=lambda n: n["id"])
    assert [(n["payload"]["kind"], n["payload"]["summary"]) for n in rows] == [
        ("firing", "TST closed at 98.00"),
        ("reminder", "Reminder, firing since 2025-01-12: TST closed at 98.00 (now value 92.00)"),
        ("resolved",
         "tst-below-100 resolved for TST: value now 101.00, was 98.00 when it fired on 2025-01-12"),
    ]
    assert rows[-1]["payload"]["fired"] == {"value": 98.0}
    history = store.scan("alerts").sort("at").collect()
    texts = [rows[0]["payload"]["summary"], rows[-1]["payload"]["summary"]]
    assert history.get_column("summary").to_list() == texts


def test_unrecorded_transitions_are_appended_after_a_crash(store: Store, db: StateDB) -> None:
    """Transitions committed but not in Parquet (a crash in between) are appended by the next tick, once."""
    rules = make_rules(below_100())
    loaded(store)
    run_tick(store, db, rules, now=at(12))
    from deltalake import DeltaTable

    DeltaTable(store.table_uri("alerts")).restore(0)   # as if the process died before the append
    with db.write() as conn:
        conn.execute(transitions.update().values(recorded=False))
    report = run_tick(store, db, rules, now=at(13))
    assert report.recorded == 1
    assert store.scan("alerts").collect().height == 1
    with db.write() as conn:                        # died after the append but before the mark
        conn.execute(transitions.update().values(recorded=False))
    run_tick(store, db, rules, now=at(14))
    assert store.scan("alerts").collect().height == 1


def test_silenced_alert_transitions_but_sends_nothing(store: Store, db: StateDB) -> None:
    """A silenced instance still fires; its notifications are stored as silenced and never delivered."""
    rules = make_rules(below_100(channels=["log"]))
    loaded(store)
    db.add_silence("tst-below-100", "TST", "maintenance", now=at(10), expires_at=at(20))
    report = run_tick(store, db, rules, now=at(12))
    assert report.silenced == 1 and report.notifications == 0 and len(report.transitions) == 1
    assert db.states()[0]["state"] == "firing"
    assert db.notifications()[0]["status"] == "silenced"
    delivered = deliver_due(db, build_notifiers({"log": LogChannel()}), now=at(12))
    assert delivered.attempted == 0


def test_pending_alert_fires_after_its_hold(store: Store, db: StateDB) -> None:
    """With for = '2 bars' the instance is pending (recorded, not notified) and fires at the 2nd bar after."""
    rules = make_rules(below_100(**{"for": "2 bars", "channels": ["log"]}))
    loaded(store)
    states = []
    for day in (12, 13, 14):
        report = run_tick(store, db, rules, now=at(day))
        states.append([t["state"] for t in report.transitions])
    assert states == [["pending"], [], ["firing"]]
    assert len(db.notifications()) == 1
    assert store.scan("alerts").sort("at").collect().get_column("state").to_list() == ["pending", "firing"]


def facts_frame(entity: str, value: float, *, fact_id: str, published: dt.date,
                ingested: dt.datetime) -> pl.DataFrame:
    return conform(pl.DataFrame({
        "fact_id": [fact_id], "doc": ["note.txt"], "doc_hash": ["h"], "article": ["headline"],
        "published": [published], "entity": [entity], "ticker": [None], "metric": ["capex_guidance"],
        "value": [value], "unit": ["USD"], "period": ["FY2026"], "kind": ["guidance"],
        "quote": ["capex of 80 billion"], "span_start": [0], "span_end": [10], "value_usd": [value],
        "repaired": [False], "ingested_at": [ingested]}), "facts")


def test_reingested_statement_fires_once(store: Store, db: StateDB) -> None:
    """Ingesting the same statement again (same fact_id) does not notify a second time."""
    rules = make_rules({"name": "big-capex", "series": "facts.capex_guidance", "condition": "value > 5e10",
                        "for": "0", "repeat_interval": "0", "channels": ["log"],
                        "summary": "{entity} guides capex {value:.3g}"})
    store.append("facts", facts_frame("Microsoft", 8e10, fact_id="f1", published=dt.date(2025, 1, 10),
                                      ingested=LOADED), now=LOADED)
    run_tick(store, db, rules, now=at(12))
    later = LOADED + dt.timedelta(days=1)
    store.append("facts", facts_frame("Microsoft", 8e10, fact_id="f1", published=dt.date(2025, 1, 10),
                                      ingested=later), now=later)
    run_tick(store, db, rules, now=at(13))
    assert len(db.notifications()) == 1
    store.append("facts", facts_frame("Microsoft", 9e10, fact_id="f2", published=dt.date(2025, 1, 13),
                                      ingested=later), now=later)
    run_tick(store, db, rules, now=at(14))
    rows = sorted(db.notifications(), key=lambda n: n["id"])
    assert [n["payload"]["statement"] for n in rows] == ["f1", "f2"]


def test_document_text_cannot_inject_into_the_alert_mail(store: Store, db: StateDB,
                                                         smtp_server: Callable[..., SMTPServer],
                                                         tls_certs: Certs) -> None:
    """An entity name with markup and CR/LF from a document reaches the mail escaped and header-safe."""
    evil = "Acme<script>alert(1)</script>\r\nBcc: thief@example.net"
    rules = make_rules({"name": "big-capex", "series": "facts.capex_guidance", "condition": "value > 5e10",
                        "for": "0", "channels": ["mail"], "summary": "{entity} guides capex {value:.3g}"})
    store.append("facts", facts_frame(evil, 8e10, fact_id="f1", published=dt.date(2025, 1, 10),
                                      ingested=LOADED), now=LOADED)
    run_tick(store, db, rules, now=at(12))
    server = smtp_server("starttls")
    mail = EmailChannel(host="localhost", port=server.port, to=["desk@example.com"], ca_file=tls_certs.cert)
    report = deliver_due(db, build_notifiers({"mail": mail}), now=at(12))
    assert report.delivered == 1
    [(_, rcpts, _)] = server.handler.envelopes
    [msg] = server.messages
    assert rcpts == ["desk@example.com"] and msg["Bcc"] is None
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html and "Acme&lt;script&gt;alert(1)&lt;/script&gt;" in html
    with db.read() as conn:
        assert conn.execute(sa.select(notifications.c.entity)).scalar() == evil


def test_busy_store_postpones_recording_not_the_tick(store: Store, db: StateDB) -> None:
    """While the store refuses the write, the tick still commits; its transitions are recorded later."""
    rules = make_rules(below_100(channels=["log"]))
    loaded(store)
    busy = store.pinned(as_of=dt.datetime.now(dt.UTC))   # the same tables, read-only: every write fails
    report = run_tick(busy, db, rules, now=at(12))
    assert len(report.transitions) == 1 and report.recorded == 0 and report.notifications == 1
    assert store.scan("alerts").collect().height == 0
    later = run_tick(store, db, rules, now=at(13))
    assert later.recorded == 1 and store.scan("alerts").collect().height == 1


def test_keep_firing_for_in_bars_survives_the_state_database(store: Store, db: StateDB) -> None:
    """A ``keep_firing_for`` of 2 bars resolves at the 3rd failing tick, counting through the database."""
    closes = [*CLOSES[:12], 101.0, 102.0, 103.0, 104.0]   # under 100 on the 12th, above from the 13th
    rules = make_rules(below_100(keep_firing_for="2 bars", channels=["log"]))
    loaded(store, closes)
    changes = [(day, t["state"]) for day in (12, 13, 14, 15, 16)
               for t in run_tick(store, db, rules, now=at(day)).transitions]
    assert changes == [(12, "firing"), (15, "resolved")]


def test_a_firing_alert_from_before_the_upgrade_is_not_announced_again(store: Store, db: StateDB) -> None:
    """A firing state written before the notified_* columns existed counts as already notified."""
    rules = make_rules(below_100(channels=["log"]))
    loaded(store)
    run_tick(store, db, rules, now=at(12))
    with db.write() as conn:                      # as an older version left it
        conn.execute(alert_states.update().values(notified_state=None, notified_fired_at=None))
        conn.execute(notifications.delete())
    run_tick(store, db, rules, now=at(13))
    assert db.notifications() == []


def test_the_kept_window_of_bars_is_read_again_after_a_write(store: Store) -> None:
    """``recent_bars`` keeps the window it read while the table stays the same, and reads it again
    once a write changed it: a corrected bar and a new one are seen by the next tick."""
    from metrics.alerting.tick import recent_bars

    loaded(store)
    since = START + dt.timedelta(days=3)
    bars = recent_bars(store)
    first = bars(since).collect()
    want = store.scan("prices", since=since).collect()
    assert first.sort("ticker", "date").equals(want.sort("ticker", "date"))
    assert recent_bars(store)(since).collect().equals(first)       # kept: the same rows again
    later = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    fixed = price_frame("TST", START + dt.timedelta(days=10), [55.5], now=later)
    added = price_frame("TST", START + dt.timedelta(days=30), [77.0], now=later)
    store.append("prices", pl.concat([fixed, added]), now=later)
    again = bars(since).collect().sort("date")
    assert again.height == first.height + 1
    day = again.filter(pl.col("date") == START + dt.timedelta(days=10))
    assert day["close"].to_list() == [55.5]
    assert again["close"][-1] == 77.0
    assert again.equals(store.scan("prices", since=since).collect().sort("date"))
    assert bars(None).collect().height == store.scan("prices").collect().height
