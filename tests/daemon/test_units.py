"""The daemon's small parts: calendars and fetch times, evaluation points, the lock, rule reloads."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobs import calendars
from jobs.evaluate import Point, evaluation_points, tick_rules
from jobs.lock import DaemonLock, DaemonLocked, current_holder
from jobs.scheduler import fetch_trigger, session_of_fetch
from jobs.services import RulesHolder
from metrics.errors import RuleError

UTC = dt.UTC


def close(day: str) -> dt.datetime:
    """The NYSE close of ``day`` in summer time (20:00 UTC)."""
    return dt.datetime.fromisoformat(f"{day}T20:00:00+00:00")


def test_fetch_trigger_fires_after_the_close_in_the_exchange_time_zone() -> None:
    """The NYSE fetch fires at 16:30 New York time, and Friday's is followed by Monday's."""
    trigger, when = fetch_trigger("XNYS", 30)
    assert when == "mon,tue,wed,thu,fri 16:30 America/New_York"
    friday_noon = dt.datetime(2026, 5, 22, 12, 0, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, friday_noon)
    assert fire.astimezone(UTC) == dt.datetime(2026, 5, 22, 20, 30, tzinfo=UTC)
    after = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    assert after.astimezone(UTC) == dt.datetime(2026, 5, 25, 20, 30, tzinfo=UTC)


def test_fetch_trigger_crossing_midnight_shifts_the_weekdays() -> None:
    """A delay that carries the fetch past midnight moves it to the following days (Tue-Sat)."""
    _, when = fetch_trigger("XNYS", 9 * 60)
    assert when == "tue,wed,thu,fri,sat 01:00 America/New_York"


def test_fetch_on_a_holiday_is_not_for_a_session() -> None:
    """Memorial Day 2026 is a weekday but no NYSE session, so its fetch is skipped."""
    fire = dt.datetime(2026, 5, 25, 20, 30, tzinfo=UTC)
    day = session_of_fetch("XNYS", fire, 30)
    assert day == dt.date(2026, 5, 25)
    assert not calendars.is_session("XNYS", day)
    assert calendars.is_session("XNYS", dt.date(2026, 5, 26))


def test_nasdaq_shares_the_nyse_calendar() -> None:
    """XNAS resolves to the XNYS calendar, so both exchanges' tickers are fetched together."""
    assert calendars.canonical("XNAS") == "XNYS"


def ats(points: list[Point]) -> list[dt.datetime]:
    return [p.at for p in points]


def test_evaluation_points_replay_missed_closes_in_order_then_now() -> None:
    """After downtime the points are every close since the last evaluation, oldest first, then now."""
    last = close("2026-05-08")
    now = dt.datetime(2026, 5, 15, 22, 0, tzinfo=UTC)
    points = evaluation_points(last, now, max_closes=30)
    assert ats(points) == [close(d) for d in
                           ("2026-05-11", "2026-05-12", "2026-05-13", "2026-05-14", "2026-05-15")] + [now]
    assert [p.close for p in points] == [True] * 5 + [False]


def test_evaluation_points_skip_holidays_and_are_bounded() -> None:
    """Memorial Day has no close, and at most ``max_closes`` of the latest closes are replayed."""
    now = dt.datetime(2026, 5, 27, 21, 0, tzinfo=UTC)
    points = evaluation_points(None, now, max_closes=3)
    assert ats(points) == [close("2026-05-22"), close("2026-05-26"), close("2026-05-27"), now]


def test_evaluation_points_nothing_when_already_evaluated() -> None:
    """A tick at or before the last evaluation has nothing to do."""
    now = dt.datetime(2026, 5, 15, 22, 0, tzinfo=UTC)
    assert evaluation_points(now, now, max_closes=30) == []


def test_a_close_waits_for_its_bars_and_no_tick_passes_it() -> None:
    """Before the close's fetch had time to run, neither the close nor a tick after it is evaluated;
    once the fetch finished (or the delay passed), the close is evaluated, then the tick."""
    last = close("2026-05-14")
    now = dt.datetime(2026, 5, 15, 20, 40, tzinfo=UTC)
    wait = dt.timedelta(hours=1)
    assert evaluation_points(last, now, max_closes=30, due_after=wait) == []
    fetched = (dt.datetime(2026, 5, 15, 20, 35, tzinfo=UTC), dt.timedelta(minutes=30))
    assert ats(evaluation_points(last, now, max_closes=30, due_after=wait, fetched=fetched)) == [
        close("2026-05-15"), now]
    later = now + wait
    assert ats(evaluation_points(last, later, max_closes=30, due_after=wait)) == [close("2026-05-15"), later]


def test_ticks_between_closes_evaluate_only_fact_rules_without_bar_holds(tmp_path: Path) -> None:
    """Price series and holds counted in bars advance only at closes, as in the backtest."""
    path = tmp_path / "rules.toml"
    fact = RULE.format(name="capex").replace('series = "prices.close"', 'series = "facts.capex"')
    bars = RULE.format(name="capex-bars").replace('series = "prices.close"', 'series = "facts.capex"')
    path.write_text(RULE.format(name="price") + fact + bars.replace('for = "0"', 'for = "2 bars"'),
                    encoding="utf-8")
    rules = RulesHolder(path, ["log"]).load()
    assert [r.name for r in tick_rules(rules)] == ["capex"]


def test_second_lock_on_the_same_store_names_the_holder(tmp_path: Path) -> None:
    """While one daemon holds the store's lock, another is refused with the holder's pid and host."""
    now = dt.datetime(2026, 5, 15, tzinfo=UTC)
    with DaemonLock(tmp_path, now=now):
        assert current_holder(tmp_path) is not None
        with pytest.raises(DaemonLocked) as e, DaemonLock(tmp_path, now=now):
            pass
        assert f"pid {os.getpid()}" in str(e.value)
        assert "2026-05-15" in str(e.value)
    assert current_holder(tmp_path) is None
    with DaemonLock(tmp_path, now=now):  # released: the next daemon may start
        pass


RULE = """
[[rules]]
name = "{name}"
series = "prices.close"
condition = "value > 1"
for = "0"
severity = "info"
channels = ["log"]
summary = "{{entity}}"
"""


def test_rules_reload_with_errors_keeps_the_last_good_rules(tmp_path: Path) -> None:
    """A broken rules file is reported and the last good rules stay in force until it is fixed."""
    path = tmp_path / "rules.toml"
    path.write_text(RULE.format(name="first"), encoding="utf-8")
    holder = RulesHolder(path, ["log"])
    assert [r.name for r in holder.load()] == ["first"]
    path.write_text(RULE.format(name="second").replace('for = "0"', 'for = "soon"'), encoding="utf-8")
    assert holder.refresh() is False
    assert [r.name for r in holder.rules] == ["first"]
    assert holder.error is not None and "second" in holder.error and "for" in holder.error
    path.write_text(RULE.format(name="third"), encoding="utf-8")
    assert holder.refresh() is True
    assert [r.name for r in holder.rules] == ["third"] and holder.error is None


def test_rules_load_with_errors_raises_naming_rule_and_field(tmp_path: Path) -> None:
    """The strict load at start raises a RuleError naming the rule and the field."""
    path = tmp_path / "rules.toml"
    path.write_text(RULE.format(name="broken").replace('channels = ["log"]', 'channels = ["pager"]'),
                    encoding="utf-8")
    with pytest.raises(RuleError) as e:
        RulesHolder(path, ["log"]).load()
    assert e.value.rule == "broken" and e.value.field == "channels"


def test_first_evaluation_replays_the_end_of_the_price_history() -> None:
    """On a fresh store whose prices stop before now, the closes replayed are the last ones with data,
    then the latest close (staleness is evaluated at start), then now."""
    now = dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    end_of_data = dt.datetime(2026, 5, 30, tzinfo=UTC)  # the sample's last bar is 2026-05-29
    points = evaluation_points(None, now, max_closes=3, history_end=end_of_data)
    assert ats(points) == [close("2026-05-27"), close("2026-05-28"), close("2026-05-29"),
                           dt.datetime(2026, 11, 20, 21, 0, tzinfo=UTC), now]  # EST close


def test_a_restart_evaluates_the_closes_a_run_never_killed_would() -> None:
    """Whatever close a killed first run got to, the restart evaluates exactly the rest of its points."""
    now = dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    end_of_data = dt.datetime(2026, 5, 30, tzinfo=UTC)
    full = evaluation_points(None, now, max_closes=30, history_end=end_of_data)
    for i, point in enumerate(full[:-1]):
        rest = evaluation_points(point.at, now, max_closes=30, history_end=end_of_data)
        assert rest == full[i + 1:], point


def test_schedule_has_every_job_coalesced_single_instance_with_grace(tmp_path: Path) -> None:
    """Every job is coalesced, never overlaps itself, has the configured grace; fetches are per exchange."""
    from jobs.scheduler import Schedule
    from jobs.services import build_services
    from metrics.settings import load_settings

    config = tmp_path / "cfg"
    config.mkdir()
    (config / "settings.toml").write_text("[scheduler]\nmisfire_grace_s = 7200\n", encoding="utf-8")
    services = build_services(load_settings(config, root=tmp_path / "store"))
    try:
        schedule = Schedule(services)
        schedule.build({"XNYS": ["NVDA"], "XTAI": ["2330.TW"]})
        schedule.scheduler.start(paused=True)  # job defaults apply once the scheduler starts
        jobs = {j.id: j for j in schedule.scheduler.get_jobs()}
        schedule.shutdown()
        assert set(jobs) == {"ingest", "evaluate", "deliver", "compact", "prices-XNYS", "prices-XTAI"}
        assert all(j.coalesce and j.max_instances == 1 and j.misfire_grace_time == 7200
                   for j in jobs.values())
        assert jobs["prices-XTAI"].executor == "prices" and jobs["prices-XTAI"].kwargs == {"exchange": "XTAI"}
        assert schedule.exchanges["XTAI"] == "mon,tue,wed,thu,fri 14:00 Asia/Taipei"
    finally:
        services.close()


def test_a_channel_that_cannot_be_built_does_not_stop_the_others(tmp_path: Path) -> None:
    """A webhook whose secret is malformed fails its own sends as transient; the log channel still sends."""
    from jobs.services import BrokenChannel, build_services
    from metrics.alerting.notify import Notification
    from metrics.errors import TransientDeliveryError
    from metrics.settings import LogChannel, Settings, WebhookChannel

    bad = WebhookChannel.model_construct(type="webhook", url="http://127.0.0.1:9/x", secret=_secret("%%"),
                                         timeout_s=1.0, headers={})
    settings = Settings(root=tmp_path / "root", config=tmp_path, channels={"log": LogChannel(), "hook": bad})
    services = build_services(settings)
    try:
        notifiers = services.notifiers
        assert isinstance(notifiers["hook"], BrokenChannel) and "hook" in services.channel_errors
        now = dt.datetime(2026, 5, 22, 22, tzinfo=UTC)
        note = Notification(key="k1", rule="r", entity="NVDA", state="firing", channel="log",
                            payload={"summary": "x", "severity": "info"}, now=now)
        notifiers["log"].send(note)
        with pytest.raises(TransientDeliveryError, match="could not be built"):
            notifiers["hook"].send(note)
    finally:
        services.close()


def _secret(text: str) -> SecretStr:
    return SecretStr(text)


def test_a_run_left_running_by_a_killed_daemon_is_stale_then_interrupted(tmp_path: Path) -> None:
    """A run still `running` shows as stale without a live daemon, and a new start records it interrupted."""
    from jobs.daemon import mark_interrupted
    from jobs.services import build_services
    from jobs.status import jobs_status
    from metrics.settings import Settings

    settings = Settings(root=tmp_path / "root", config=tmp_path)
    services = build_services(settings)
    start = dt.datetime(2026, 5, 22, 20, 30, tzinfo=UTC)
    try:
        services.db.start_job("ingest", now=start)
        status = {j["job"]: j for j in jobs_status(services.db, settings, now=start)["jobs"]}
        assert status["ingest"]["status"] == "stale" and "killed" in status["ingest"]["error"]
        with DaemonLock(settings.root, now=start - dt.timedelta(minutes=1)):   # the run's own daemon
            status = {j["job"]: j for j in jobs_status(services.db, settings, now=start)["jobs"]}
            assert status["ingest"]["status"] == "running"
        with DaemonLock(settings.root, now=start + dt.timedelta(minutes=5)):   # a later daemon
            status = {j["job"]: j for j in jobs_status(services.db, settings, now=start)["jobs"]}
            assert status["ingest"]["status"] == "stale"
            assert mark_interrupted(services, now=start + dt.timedelta(minutes=5)) == ["ingest"]
        status = {j["job"]: j for j in jobs_status(services.db, settings, now=start)["jobs"]}
        assert status["ingest"]["status"] == "interrupted"
    finally:
        services.close()


def test_ingest_job_isolates_a_bad_document_and_skips_links_out_of_the_inbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken document fails alone (recorded with its reason), a symlink out of the inbox is skipped."""
    import json
    import shutil

    from jobs import ingest
    from jobs.services import build_services
    from metrics.settings import Settings
    from tests.conftest import PROJECT

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.txt").write_text("Nvidia said revenue rose to $35.1 billion in the quarter.\n",
                                    encoding="utf-8")
    (inbox / "bad.md").write_text("---\ntitle: Quarter\ndate: 2025-13-45\n---\nRevenue rose.\n",
                                  encoding="utf-8")
    secret = tmp_path / "outside.txt"
    secret.write_text("Nvidia revenue was $1 billion, says a file outside the inbox.\n", encoding="utf-8")
    (inbox / "link.txt").symlink_to(secret)
    shutil.copy(PROJECT / "config" / "companies.toml", tmp_path / "companies.toml")
    settings = Settings(root=tmp_path / "root", config=tmp_path, inbox=inbox)
    services = build_services(settings)
    try:
        capsys.readouterr()
        summary = ingest.run(services, now=dt.datetime(2026, 5, 22, 20, 30, tzinfo=UTC))
        assert summary["documents"] == 1 and summary["failed"] == 1 and summary["facts"] >= 1
        assert "bad.md" in summary["failures"][0]
        failed = services.store.failed_documents()
        assert [Path(d.path).name for d in failed] == ["bad.md"] and failed[0].error
        paths = services.store.scan("documents").collect().get_column("path").to_list()
        assert not any("link.txt" in p or "outside" in p for p in paths)
        events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        assert any(e["event"] == "ingest.outside_folder" and e["path"].endswith("link.txt") for e in events)
    finally:
        services.close()
