"""Price commands: ``prices import`` (files) and ``prices fetch`` (Yahoo Finance)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from jobs.cli.common import AppContext, app_context, err, parse_date
from metrics.errors import UsageError
from metrics.extraction.entities import Company, Registry
from metrics.log import get_logger
from metrics.store.prices import universe, update_prices
from metrics.store.prices.files import import_price_files
from metrics.store.prices.yahoo import YahooSource

log = get_logger("jobs.cli.store")   # the logger name the price commands always logged under

prices_app = typer.Typer(help="Daily price bars: import files, fetch from Yahoo Finance.",
                         no_args_is_help=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)


def _registry(app_ctx: AppContext) -> list[Company]:
    """The registry's companies (none when there is no companies file)."""
    path = app_ctx.settings.companies_file
    return list(Registry.load(path).companies) if path.exists() else []


# -- prices ------------------------------------------------------------------------------------


@prices_app.command("import")
def prices_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE...", help="Yahoo CSV, or CSV/Parquet with a ticker column.")],
) -> None:
    """Import daily bars from files; a bad file is named on stderr and skipped (exit 1).

    A re-import of byte-identical files whose bars are still stored as they were writes nothing and
    says so without reading the bars (``import_price_files``)."""

    app_ctx = app_context(ctx)
    now = _now()
    currencies = universe.currencies(_registry(app_ctx))
    with _progress() as progress:
        task = progress.add_task("reading", total=None)
        done = import_price_files(app_ctx.store, files, now=now, currencies=currencies,
                                  progress=lambda text: progress.update(task, description=text))
    for error in done.failed:
        _fail(str(error))
        log.warning("prices.import_failed", file=str(error.source), error=str(error))
    written = done.written
    changes = (f" ({written.inserted} new, {written.updated} changed, {written.unchanged} unchanged)"
               if written else "")
    log.info("prices.imported", files=done.files, rows=done.rows, failed=len(done.failed),
             version=None if written is None else written.version)
    err.print(f"imported {done.rows} bars from {done.files} file(s){changes}; {len(done.failed)} failed",
              markup=False, highlight=False)
    if written is not None and written.version is None:
        err.print(f"nothing written: {written.reason or 'no change'}", markup=False, highlight=False)
    if done.failed:
        raise typer.Exit(1)


@prices_app.command("fetch")
def prices_fetch(
    ctx: typer.Context,
    tickers: Annotated[list[str] | None, typer.Argument(
        metavar="[TICKER...]",
        help="Yahoo symbols (default: the registry's listed companies and prices.tickers).")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", metavar="YYYY-MM-DD", help="First date wanted (default: settings prices.start).")] = None,
    end: Annotated[str | None, typer.Option(
        "--end", metavar="YYYY-MM-DD", help="Last date wanted (default: today).")] = None,
) -> None:
    """Fetch the missing daily bars from Yahoo Finance; a failing ticker is named and skipped (exit 1)."""

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    now = _now()
    if not tickers:
        groups = universe.tickers_by_exchange(_registry(app_ctx), settings.prices.tickers)
        tickers = sorted({t for ts in groups.values() for t in ts})
    if not tickers:
        raise UsageError("no tickers: name some, list companies in companies.toml or set prices.tickers")
    first = parse_date(start, "--start") if start else settings.prices.start
    last = parse_date(end, "--end") if end else now.date()
    if first > last:
        raise UsageError(f"--start {first} is after --end {last}")
    source = YahooSource(cache_dir=universe.price_cache_dir(app_ctx.checked_root()),
                         max_attempts=settings.prices.max_attempts)
    with _progress() as progress:
        progress.add_task(f"fetching {len(tickers)} ticker(s)", total=None)
        report = update_prices(app_ctx.store, source, tickers, now=now, start=first, end=last)
    for error in report.errors.values():
        _fail(str(error))
    if report.deferred:
        shown = ", ".join(report.deferred[:10]) + (" ..." if len(report.deferred) > 10 else "")
        _fail(f"price source unreachable ({report.unreachable}): {len(report.deferred)} ticker(s) not asked: "
              f"{shown}; try again when online")
    err.print(f"fetched {report.rows} bars for {len(report.frames)} ticker(s); {len(report.skipped)} up to "
              f"date; {len(report.errors)} failed; {len(report.deferred)} deferred",
              markup=False, highlight=False)
    if report.errors or report.deferred:
        raise typer.Exit(1)


# -- store init / migrate ----------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add ``prices`` to ``app``."""
    app.add_typer(prices_app, name="prices")
