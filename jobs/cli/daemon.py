"""``metrics daemon [--once]``: the scheduler of ingest, prices, evaluate, deliver and compact.

The daemon itself lives in the ``jobs`` package (the application); it is imported lazily here so
the rest of the CLI never loads APScheduler.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from jobs.cli.common import AppContext, app_context, err, parse_utc
from metrics.errors import UsageError


def daemon(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run each job once, then exit.")] = False,
    now: Annotated[str | None, typer.Option(
        "--now", hidden=True,
        help="With --once: run the jobs as of this ISO time (tests, replaying history).")] = None,
) -> None:
    """Run the scheduler: ingest the inbox, fetch prices after each close, evaluate, deliver, compact.

    Stops cleanly on SIGTERM or Ctrl-C after the jobs in hand finish. Exit 2 when another daemon
    holds the store or the configuration (settings, companies, rules) is invalid.
    """
    from jobs.daemon import main
    from jobs.lock import DaemonLocked

    at = parse_utc(now, "--now") if now is not None else None
    if at is not None and not once:
        raise UsageError("--now is only valid with --once")
    settings = app_context(ctx).settings
    try:
        status = main(settings, once=once, now=at)
    except DaemonLocked as e:
        err.print(f"error: {e}; stop it first, or use another --root", markup=False, highlight=False)
        raise typer.Exit(2) from None
    raise typer.Exit(status)


def jobs_section(app_ctx: AppContext, now: dt.datetime) -> dict[str, Any]:
    """The ``jobs`` section of ``metrics status``: each job's last run and lag, the daemon, the backlog."""
    from jobs.status import jobs_status

    db = app_ctx.open_db()
    try:
        return jobs_status(db, app_ctx.settings, now=now)
    finally:
        db.close()


def register(app: typer.Typer) -> None:
    """Add ``daemon`` to ``app``."""
    app.command("daemon")(daemon)
