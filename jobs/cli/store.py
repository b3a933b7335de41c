"""Store commands: ``store init``, ``store migrate`` and ``compact`` (``query`` is ``jobs.cli.query``,
``prices import`` and ``prices fetch`` are ``jobs.cli.prices``)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from jobs.cli.common import app_context, emit, err
from metrics.alerting.state import safe_url
from metrics.store.migrate import migrate

store_app = typer.Typer(help="The Delta tables: create them, convert a store of the former layout.",
                        no_args_is_help=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)


@store_app.command("init")
def store_init(ctx: typer.Context) -> None:
    """Create the missing tables (empty) and bring the state database to its latest schema revision;
    run once before any writer, e.g. before a first daemon."""
    app_ctx = app_context(ctx)
    store = app_ctx.store
    created = store.init()
    err.print(f"{store.root}: created {', '.join(created) if created else 'nothing (all tables exist)'}",
              markup=False, highlight=False)
    db = app_ctx.open_db()
    try:
        before, after = db.revisions or (None, "?")
        done = (f"at revision {after}" if before == after
                else f"upgraded from {before or 'nothing'} to {after}")
        err.print(f"state database {safe_url(db.engine.url)}: {done}", markup=False, highlight=False)
    finally:
        db.close()


@store_app.command("migrate")
def store_migrate(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option(
        "--from", help="Store of the former layout (default: the local --root, converted in place).")] = None,
) -> None:
    """Convert a store of the former layout (hive Parquet parts) into Delta tables, verified by counts
    and checksums before anything is moved; the old parts are kept under <root>/.old-layout/."""

    app_ctx = app_context(ctx)
    results = migrate(source or app_ctx.settings.root, app_ctx.store)
    if not results:
        err.print("nothing to migrate: no part files of the former layout", markup=False, highlight=False)
        return
    df = pl.DataFrame([{"dataset": r.dataset, "parts": r.parts, "skipped": len(r.skipped), "rows": r.rows,
                        "table_rows": r.table_rows, "checksum": str(r.checksum),
                        "verified": r.checksum == r.table_checksum, "old_parts": r.moved_to or "kept"}
                       for r in results])
    emit(df, "table" if sys.stdout.isatty() else "csv")
    for r in results:
        for skipped in r.skipped:
            _fail(f"skipped unreadable part {skipped}")


# -- compact -----------------------------------------------------------------------------------


def compact(ctx: typer.Context) -> None:
    """OPTIMIZE each table (small files merged, prices Z-ordered), then VACUUM files unused for 7 days."""
    app_ctx = app_context(ctx)
    results = app_ctx.store.compact(now=_now())
    df = pl.DataFrame([{k: v for k, v in asdict(r).items() if k != "removed"} for r in results])
    emit(df, "table" if sys.stdout.isatty() else "csv")


def register(app: typer.Typer) -> None:
    """Add ``store`` and ``compact`` to ``app``."""
    app.add_typer(store_app, name="store")
    app.command("compact")(compact)
