"""``metrics status``: one report of the store, the prices, the jobs and the deliveries.

The report is the list ``SECTIONS`` below, in order: each a function ``(app_ctx, now) -> data`` (a
dict, a list of row dicts, or a polars DataFrame). A section that raises is shown as its error and
the others still print; configuration and usage errors stop the command (exit 2).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import typer

from jobs.cli.common import AppContext, app_context, out, print_table, rows_as_dicts
from jobs.cli.daemon import jobs_section
from jobs.cli.output import jsonable
from jobs.leader import STALE_AFTER_S
from metrics.alerting.leader import leadership_status
from metrics.alerting.state import delivery_status
from metrics.errors import ConfigError, UsageError
from metrics.extraction.entities import Registry
from metrics.log import get_logger
from metrics.store.prices import universe

log = get_logger(__name__)

StatusSection = Callable[[AppContext, dt.datetime], Any]


def datasets_section(app_ctx: AppContext, now: dt.datetime) -> list[dict[str, Any]]:
    """Each dataset: rows as queries see them, stored rows, files, partitions, date range."""
    del now
    return [asdict(d) for d in app_ctx.store.dataset_status()]


def damaged_section(app_ctx: AppContext, now: dt.datetime) -> list[dict[str, Any]]:
    """Part files the store skips because they cannot be read."""
    del now
    return [{"dataset": d.dataset, "path": str(d.path), "error": d.error}
            for d in app_ctx.store.damaged_parts()]


def failed_documents_section(app_ctx: AppContext, now: dt.datetime) -> list[dict[str, Any]]:
    """Documents the registry records as failed, with the file and the reason."""
    del now
    return [asdict(d) for d in app_ctx.store.failed_documents()]


def prices_section(app_ctx: AppContext, now: dt.datetime) -> list[dict[str, Any]]:
    """Per exchange: the newest bar and its age in days, tickers with bars, the stalest ticker."""
    path = app_ctx.settings.companies_file
    companies = Registry.load(path).companies if path.exists() else []
    groups = universe.tickers_by_exchange(companies, app_ctx.settings.prices.tickers)
    return universe.freshness(app_ctx.store, groups, now=now)


def deliveries_section(app_ctx: AppContext, now: dt.datetime) -> dict[str, Any]:
    """Outbox: queued, delivered, dead letters and disabled endpoints."""
    del now
    settings = app_ctx.settings
    if settings.state_url is None and not (settings.root / "state.db").exists():
        return {"queued": 0, "delivered": 0, "dead": 0, "disabled": 0, "silenced": 0,
                "dead_letters": [], "disabled_endpoints": {}}
    db = app_ctx.open_db()
    try:
        return delivery_status(db)
    finally:
        db.close()


def leadership_section(app_ctx: AppContext, now: dt.datetime) -> dict[str, Any]:
    """Which replica leads (``host:pid``), since when, its epoch; each replica's last heartbeat,
    ``stale`` when older than ``jobs.leader.STALE_AFTER_S`` (killed or paused)."""
    settings = app_ctx.settings
    if settings.state_url is None and not (settings.root / "state.db").exists():
        return {"leader": None, "since": None, "epoch": None, "heartbeat_at": None, "stale": None,
                "replicas": []}
    db = app_ctx.open_db()
    try:
        return leadership_status(db, now=now, stale_after_s=STALE_AFTER_S)
    finally:
        db.close()


SECTIONS: list[tuple[str, StatusSection]] = [
    ("datasets", datasets_section),
    ("damaged_parts", damaged_section),
    ("failed_documents", failed_documents_section),
    ("prices", prices_section),
    ("leadership", leadership_section),
    ("jobs", jobs_section),
    ("deliveries", deliveries_section),
]


def _plain(value: Any) -> Any:
    if isinstance(value, pl.DataFrame):
        return rows_as_dicts(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return jsonable(value)


def _render(name: str, data: Any) -> None:
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        if not data:
            out.print(f"{name}: none", markup=False, highlight=False)
            return
        columns = list(dict.fromkeys(k for r in data for k in r))
        print_table(columns, ([r.get(c) for c in columns] for r in data), title=name, title_justify="left")
    elif isinstance(data, dict):
        scalars = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
        if scalars:
            print_table(["key", "value"], scalars.items(), title=name, title_justify="left",
                        show_header=False)
        for k, v in data.items():
            if isinstance(v, list | dict):
                _render(f"{name}.{k}", v)
    else:
        out.print(f"{name}: {data}", markup=False, highlight=False)


def report(app_ctx: AppContext, now: dt.datetime,
           sections: list[tuple[str, StatusSection]] | None = None) -> dict[str, Any]:
    """Every section's data (``SECTIONS`` unless given); a failing section becomes ``{"error": ...}``."""
    app_ctx.checked_root()        # a typo'd --root is named, never created
    result: dict[str, Any] = {}
    for name, fn in SECTIONS if sections is None else sections:
        try:
            result[name] = _plain(fn(app_ctx, now))
        except (ConfigError, UsageError):
            raise
        except Exception as e:  # one broken section must not hide the others
            log.warning("status.section_failed", section=name, error=str(e))
            result[name] = {"error": f"{type(e).__name__}: {e}"}
    return result


def status(
    ctx: typer.Context,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Datasets, damaged parts, failed documents, price freshness, leadership, jobs and deliveries."""
    sections = report(app_context(ctx), dt.datetime.now(dt.UTC))
    if fmt == "json":
        sys.stdout.write(json.dumps(sections, ensure_ascii=False, default=str) + "\n")
        return
    for name, data in sections.items():
        _render(name, data)


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""
    app.command("status")(status)
