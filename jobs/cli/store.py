"""Store commands: ``store init``, ``store migrate``, ``prices import``, ``prices fetch``, ``query``,
``compact`` and ``status``; the time-travel options (``--version``, ``--as-of-commit``) other commands share.

``status`` prints a list of sections, each a function ``(app_ctx, now) -> data`` (a dict, a list of
row dicts, or a polars DataFrame). Other areas add theirs with ``add_status_section(name, fn)`` at
import time of their ``cli_*`` module; a section that raises is shown as its error, not fatal.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from jobs.cli.common import AppContext, app_context, emit, err, jsonable, out, print_table, rows_as_dicts
from metrics.errors import ConfigError, InputError, UsageError
from metrics.log import get_logger
from metrics.store.schema import DATASETS

if TYPE_CHECKING:
    from metrics.store.tables import Store

log = get_logger(__name__)

StatusSection = Callable[[AppContext, dt.datetime], Any]
STATUS_SECTIONS: list[tuple[str, StatusSection]] = []

prices_app = typer.Typer(help="Daily price bars: import files, fetch from Yahoo Finance.",
                         no_args_is_help=True)
store_app = typer.Typer(help="The Delta tables: create them, convert a store of the former layout.",
                        no_args_is_help=True)

VersionOption = Annotated[int | None, typer.Option(
    "--version", min=0, help="Time travel: read every table at this Delta table version.")]
AsOfCommitOption = Annotated[str | None, typer.Option(
    "--as-of-commit", metavar="TIMESTAMP",
    help="Time travel: read every table as committed at this ISO time (UTC unless a zone is given).")]


def pinned_store(app_ctx: AppContext, version: int | None, as_of_commit: str | None) -> Store:
    """The store of ``app_ctx``, read-only at ``version`` or ``as_of_commit`` when one is given."""
    if version is not None and as_of_commit is not None:
        raise UsageError("give --version or --as-of-commit, not both")
    if version is not None:
        return app_ctx.store.pinned(version=version)
    if as_of_commit is not None:
        try:
            at = dt.datetime.fromisoformat(as_of_commit.replace("Z", "+00:00"))
        except ValueError as e:
            raise UsageError(f"--as-of-commit {as_of_commit!r}: not an ISO date or time") from e
        return app_ctx.store.pinned(as_of=at if at.tzinfo else at.replace(tzinfo=dt.UTC))
    return app_ctx.store


def add_status_section(name: str, fn: StatusSection) -> None:
    """Add (or replace) the section ``name`` of ``metrics status``."""
    for i, (existing, _) in enumerate(STATUS_SECTIONS):
        if existing == name:
            STATUS_SECTIONS[i] = (name, fn)
            return
    STATUS_SECTIONS.append((name, fn))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)


def _registry_companies(app_ctx: AppContext) -> list[tuple[str, str | None, bool]]:
    """(ticker, currency, listed) of each company with a ticker in the registry file, if any."""
    path = app_ctx.settings.companies_file
    if not path.exists():
        return []
    from metrics.extraction.entities import Registry

    registry = Registry.load(path)
    return [(c.ticker, c.currency, c.listed) for c in registry.companies if c.ticker]


# -- prices ------------------------------------------------------------------------------------


@prices_app.command("import")
def prices_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE...", help="Yahoo CSV, or CSV/Parquet with a ticker column.")],
) -> None:
    """Import daily bars from files; a bad file is named on stderr and skipped (exit 1)."""
    from metrics.store.prices.files import import_price_file

    app_ctx = app_context(ctx)
    now = _now()
    currencies = {t: c for t, c, _ in _registry_companies(app_ctx) if c}
    frames: list[pl.DataFrame] = []
    failed = 0
    with _progress() as progress:
        task = progress.add_task("reading", total=len(files))
        for path in files:
            progress.update(task, description=f"reading {path.name}")
            try:
                frames.append(import_price_file(path, now=now, currencies=currencies))
            except InputError as e:
                failed += 1
                _fail(str(e))
                log.warning("prices.import_failed", file=str(path), error=str(e))
            progress.advance(task)
        progress.update(task, description="writing")
        rows = sum(f.height for f in frames)
        written = app_ctx.store.append("prices", pl.concat(frames), now=now) if frames else None
    changes = (f" ({written.inserted} new, {written.updated} changed, {written.unchanged} unchanged)"
               if written else "")
    log.info("prices.imported", files=len(frames), rows=rows, failed=failed)
    err.print(f"imported {rows} bars from {len(frames)} file(s){changes}; {failed} failed",
              markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


@prices_app.command("fetch")
def prices_fetch(
    ctx: typer.Context,
    tickers: Annotated[list[str] | None, typer.Argument(
        metavar="[TICKER...]",
        help="Yahoo symbols (default: the registry's listed companies and prices.tickers).")] = None,
    start: Annotated[dt.datetime | None, typer.Option(
        "--start", formats=["%Y-%m-%d"], help="First date wanted (default: settings prices.start).")] = None,
    end: Annotated[dt.datetime | None, typer.Option(
        "--end", formats=["%Y-%m-%d"], help="Last date wanted (default: today).")] = None,
) -> None:
    """Fetch the missing daily bars from Yahoo Finance; a failing ticker is named and skipped (exit 1)."""
    from metrics.store.prices import update_prices
    from metrics.store.prices.yahoo import YahooSource

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    now = _now()
    if not tickers:
        listed = [t for t, _, is_listed in _registry_companies(app_ctx) if is_listed]
        tickers = sorted(set(listed) | set(settings.prices.tickers))
    if not tickers:
        raise UsageError("no tickers: name some, list companies in companies.toml or set prices.tickers")
    first = start.date() if start else settings.prices.start
    last = end.date() if end else now.date()
    if first > last:
        raise UsageError(f"--start {first} is after --end {last}")
    source = YahooSource(cache_dir=settings.root / ".cache" / "yfinance",
                         max_attempts=settings.prices.max_attempts)
    with _progress() as progress:
        progress.add_task(f"fetching {len(tickers)} ticker(s)", total=None)
        report = update_prices(app_ctx.store, source, tickers, now=now, start=first, end=last)
    for error in report.errors.values():
        _fail(str(error))
    err.print(f"fetched {report.rows} bars for {len(report.frames)} ticker(s); {len(report.skipped)} up to "
              f"date; {len(report.errors)} failed", markup=False, highlight=False)
    if report.errors:
        raise typer.Exit(1)


# -- query -------------------------------------------------------------------------------------


def run_sql(app_ctx: AppContext, sql: str, store: Store | None = None) -> pl.DataFrame:
    """Run ``sql`` (polars SQL) over the tables of ``store`` (default: the context's); ``UsageError``
    for an invalid statement. Each table is read at one snapshot, whatever writes or compacts meanwhile."""
    source = store if store is not None else app_ctx.store
    named = [n for n in DATASETS if re.search(rf"\b{n}\b", sql, re.IGNORECASE)]  # tables the query reads
    ctx = pl.SQLContext({name: source.scan(name) for name in named}, eager=False)
    try:
        result = ctx.execute(sql)
        return result.collect() if isinstance(result, pl.LazyFrame) else result
    except (pl.exceptions.PolarsError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"SQL error: {first}") from e


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(
        metavar="SQL", help="polars SQL over facts, prices, alerts, documents.")],
    fmt: Annotated[Literal["table", "csv", "json"], typer.Option(
        "--format", "-f", help="table, csv, or json (one array of row objects).")] = "table",
    version: VersionOption = None,
    as_of_commit: AsOfCommitOption = None,
) -> None:
    """Run a SQL query over the tables facts, prices, alerts and documents."""
    app_ctx = app_context(ctx)
    emit(run_sql(app_ctx, sql, pinned_store(app_ctx, version, as_of_commit)), fmt)


# -- store init / migrate ----------------------------------------------------------------------


@store_app.command("init")
def store_init(ctx: typer.Context) -> None:
    """Create the missing tables (empty); run once before any writer, e.g. before a first daemon."""
    store = app_context(ctx).store
    created = store.init()
    err.print(f"{store.root}: created {', '.join(created) if created else 'nothing (all tables exist)'}",
              markup=False, highlight=False)


@store_app.command("migrate")
def store_migrate(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option(
        "--from", help="Store of the former layout (default: the local --root, converted in place).")] = None,
) -> None:
    """Convert a store of the former layout (hive Parquet parts) into Delta tables, verified by counts
    and checksums before anything is moved; the old parts are kept under <root>/.old-layout/."""
    from metrics.store.migrate import migrate

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


# -- status ------------------------------------------------------------------------------------


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
    """Documents the registry records as failed, with the reason."""
    del now
    return [asdict(d) for d in app_ctx.store.failed_documents()]


add_status_section("datasets", datasets_section)
add_status_section("damaged_parts", damaged_section)
add_status_section("failed_documents", failed_documents_section)


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


def status(
    ctx: typer.Context,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Datasets (rows, files, date ranges), damaged parts, failed documents and the other areas' sections."""
    app_ctx = app_context(ctx)
    now = _now()
    sections: dict[str, Any] = {}
    for name, fn in STATUS_SECTIONS:
        try:
            sections[name] = _plain(fn(app_ctx, now))
        except (ConfigError, UsageError):
            raise
        except Exception as e:  # one broken section must not hide the others
            log.warning("status.section_failed", section=name, error=str(e))
            sections[name] = {"error": f"{type(e).__name__}: {e}"}
    if fmt == "json":
        sys.stdout.write(json.dumps(sections, ensure_ascii=False, default=str) + "\n")
        return
    for name, data in sections.items():
        _render(name, data)


def register(app: typer.Typer) -> None:
    """Add ``store``, ``prices``, ``query``, ``compact`` and ``status`` to ``app``."""
    app.add_typer(store_app, name="store")
    app.add_typer(prices_app, name="prices")
    app.command("query")(query)
    app.command("compact")(compact)
    app.command("status")(status)
