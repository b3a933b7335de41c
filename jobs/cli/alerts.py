"""``metrics alerts`` (alert instances and their history) and ``metrics silence add|list|expire``.

Both read and write the state database (``settings.database_url``); ``alerts --history`` reads the
``alerts`` table (every transition). The ``deliveries`` part of ``metrics status`` lives in ``status.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import polars as pl
import typer

from jobs.cli.common import (
    OutputFormat,
    app_context,
    emit,
    err,
    parse_utc,
    unknown_entities,
    warn,
)
from metrics.alerting.outbox import requeue_dead
from metrics.alerting.rules import load_rules, parse_duration
from metrics.alerting.state import NOTIFICATION_STATUSES, StateDB
from metrics.errors import ConfigError, UsageError

STATES = ("inactive", "pending", "firing")
ALERT_COLUMNS: dict[str, pl.DataType] = {
    "rule": pl.String(), "entity": pl.String(), "state": pl.String(), "value": pl.Float64(),
    "active_since": pl.Datetime("us", "UTC"), "fired_at": pl.Datetime("us", "UTC"),
    "last_notified_at": pl.Datetime("us", "UTC"), "statement": pl.String(), "silenced": pl.Boolean(),
    "updated_at": pl.Datetime("us", "UTC"),
}
SILENCE_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.Int64(), "rule": pl.String(), "entity": pl.String(), "reason": pl.String(),
    "created_at": pl.Datetime("us", "UTC"), "expires_at": pl.Datetime("us", "UTC"), "active": pl.Boolean(),
}

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv, json or jsonl.")]


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row").select(list(schema))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _db(ctx: typer.Context) -> StateDB:
    return app_context(ctx).open_db()


def parse_until(text: str, *, now: dt.datetime) -> dt.datetime:
    """``--until``: an ISO date (midnight UTC) or date-time (UTC when no zone is given)."""
    value = parse_utc(text, "--until")
    if value <= now:
        raise UsageError(f"--until {text}: already past")
    return value


def alerts(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(
        "--state", "-s", help="Only instances in this state: inactive, pending or firing.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    history: Annotated[bool, typer.Option(
        "--history", help="Every transition (pending, firing, resolved) from the alerts dataset.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """List alert instances and their states (or, with --history, every state change)."""
    app_ctx = app_context(ctx)
    if history:
        lf = app_ctx.store.scan("alerts")
        if state is not None:
            lf = lf.filter(pl.col("state") == state)
        if rule is not None:
            lf = lf.filter(pl.col("rule") == rule)
        df = lf.sort("at", "rule", "entity").drop("recorded_at").collect()
        emit(df, fmt, title="alert history")
        return
    if state is not None and state not in STATES:
        raise UsageError(f"--state {state!r}: use one of {', '.join(STATES)}")
    db = _db(ctx)
    try:
        now = _now()
        rows = db.states(state=state)
        muted = db.silences(now=now)
    finally:
        db.close()
    if rule is not None:
        rows = [r for r in rows if r["rule"] == rule]
    data: list[dict[str, Any]] = [
        {**{k: r.get(k) for k in ALERT_COLUMNS if k != "silenced"},
         "silenced": any(s.matches(r["rule"], r["entity"], now=now) for s in muted)}
        for r in rows
    ]
    emit(_frame(data, ALERT_COLUMNS), fmt, title="alerts")


silence_app = typer.Typer(help="Mute a rule (or one entity of it) for a while, with a reason.",
                          no_args_is_help=True)


def _check_rule_known(ctx: typer.Context, rule: str) -> None:
    settings = app_context(ctx).settings
    if not settings.rules_file.exists():
        return

    try:
        names = {r.name for r in load_rules(settings.rules_file, channels=list(settings.channels))}
    except ConfigError:
        return  # a broken rules file is `rules check`'s business; the silence still applies by name
    if rule not in names:
        raise UsageError(f"--rule {rule!r}: no such rule in {settings.rules_file}")


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    *,
    rule: Annotated[str, typer.Option("--rule", help="The rule to mute.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown in `silence list`).")],
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity (default: all).")] = None,
    for_: Annotated[str | None, typer.Option("--for", help="How long: 30m, 2h, 3d, 1w.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Until an ISO date or time (UTC).")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Mute RULE (one --entity or all) --for a duration or --until a time; alerts still change state."""

    now = _now()
    if (for_ is None) == (until is None):
        raise UsageError("give exactly one of --for and --until")
    if not reason.strip():
        raise UsageError("--reason must not be empty")
    if for_ is not None:
        try:
            span = parse_duration(for_)
        except ValueError as e:
            raise UsageError(f"--for: {e}") from e
        if span <= dt.timedelta(0):
            raise UsageError("--for must be longer than 0")
        expires = now + span
    else:
        assert until is not None
        expires = parse_until(until, now=now)
    _check_rule_known(ctx, rule)
    if entity is not None and unknown_entities(app_context(ctx), [entity]):
        warn(f"--entity {entity!r} is neither in the store nor in the registry (silenced anyway)")
    db = _db(ctx)
    try:
        s = db.add_silence(rule, entity, reason.strip(), now=now, expires_at=expires)
    finally:
        db.close()
    emit(_frame([_silence_row(s, now)], SILENCE_COLUMNS), fmt, title="silence added")


def _silence_row(s: Any, now: dt.datetime) -> dict[str, Any]:
    return {"id": s.id, "rule": s.rule, "entity": s.entity, "reason": s.reason, "created_at": s.created_at,
            "expires_at": s.expires_at, "active": s.created_at <= now < s.expires_at}


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """List the active silences (or every one with --all)."""
    now = _now()
    db = _db(ctx)
    try:
        rows = [_silence_row(s, now) for s in db.silences(now=None if all_ else now)]
    finally:
        db.close()
    emit(_frame(rows, SILENCE_COLUMNS), fmt, title="silences")


@silence_app.command("expire")
def silence_expire(
    ctx: typer.Context,
    silence_id: Annotated[int, typer.Argument(metavar="ID", help="The silence's id (see `silence list`).")],
) -> None:
    """End silence ID now."""
    db = _db(ctx)
    try:
        ok = db.expire_silence(silence_id, now=_now())
    finally:
        db.close()
    if not ok:
        err.print(f"error: silence {silence_id}: no such active silence", markup=False, highlight=False)
        raise typer.Exit(1)
    err.print(f"silence {silence_id} expired", markup=False, highlight=False)


outbox_app = typer.Typer(help="The notification outbox: list notifications, requeue dead letters.",
                         no_args_is_help=True)
OUTBOX_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.Int64(), "rule": pl.String(), "entity": pl.String(), "state": pl.String(),
    "channel": pl.String(), "status": pl.String(), "attempts": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"), "next_attempt_at": pl.Datetime("us", "UTC"),
    "delivered_at": pl.Datetime("us", "UTC"), "last_error": pl.String(), "idempotency_key": pl.String(),
}


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(
        "--status", help="queued, delivered, dead, disabled or silenced.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 100,
    fmt: FormatOpt = "table",
) -> None:
    """List notifications of the outbox, newest first."""
    if status is not None and status not in NOTIFICATION_STATUSES:
        raise UsageError(f"--status {status!r}: use one of {', '.join(NOTIFICATION_STATUSES)}")
    db = _db(ctx)
    try:
        rows = [{k: n.get(k) for k in OUTBOX_COLUMNS} for n in db.notifications(status=status, limit=limit)]
    finally:
        db.close()
    emit(_frame(rows, OUTBOX_COLUMNS), fmt, title="outbox")


@outbox_app.command("requeue")
def outbox_requeue(
    ctx: typer.Context,
    channel: Annotated[str | None, typer.Option(
        "--channel", help="Only this channel (and re-enable it if a 410 disabled it).")] = None,
) -> None:
    """Put dead and disabled notifications back in the queue (after fixing the receiver)."""

    db = _db(ctx)
    try:
        n = requeue_dead(db, now=_now(), channel=channel)
    finally:
        db.close()
    err.print(f"{n} notification(s) queued again", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``alerts``, ``silence`` and ``outbox`` to ``app``."""
    app.command("alerts")(alerts)
    app.add_typer(silence_app, name="silence")
    app.add_typer(outbox_app, name="outbox")
