"""``metrics ingest PATH...`` (documents to facts) and ``metrics facts`` (list stored facts).

``ingest`` reads files and folders (``.txt``, ``.md``, ``.html``), extracts company figures and
stores them (not with ``--dry-run``). ``--format jsonl`` prints one fact a line with the contract's
fields; ``table`` prints a table of the facts. ``--unattributed`` prints, instead of the facts, the
figures no known company takes, each with its sentence (never stored), to show what the registry
misses. Failures are named on stderr and the exit status is 1
when any document failed (the others are processed and kept).

``facts`` lists stored facts, filtered by ``--entity`` (name, ticker or alias), ``--metric`` and
``--as-of`` (published on or before the date, the latest statement per entity, metric and period).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jobs.cli.common import (
    AsOfCommitOption,
    OutputFormat,
    VersionOption,
    app_context,
    emit,
    err,
    output_format,
    parse_date,
    pinned_store,
)
from metrics.errors import UsageError
from metrics.extraction.documents import SUFFIXES
from metrics.extraction.entities import Registry
from metrics.extraction.ingest import expand_paths, ingest_paths
from metrics.store.schema import METRICS

# the fields of a fact as ``ingest --format jsonl`` prints them (contract order, then the extras)
FACT_FIELDS: tuple[str, ...] = (
    "doc", "article", "published", "entity", "ticker", "metric", "value", "low", "high", "qualifier",
    "unit", "period", "kind", "quote", "value_usd", "span_start", "span_end", "fact_id", "ingested_at",
    "doc_hash", "repaired",
)
TABLE_FIELDS: tuple[str, ...] = ("published", "entity", "ticker", "metric", "value", "unit", "qualifier",
                                 "period", "kind", "quote", "doc")
PROGRESS_MIN_FILES = 5
UNATTRIBUTED_SCHEMA = {"doc": pl.String, "article": pl.String, "published": pl.Date, "metric": pl.String,
                       "value": pl.Float64, "unit": pl.String, "quote": pl.String, "sentence": pl.String,
                       "span_start": pl.Int64, "span_end": pl.Int64}


def _registry(ctx: typer.Context) -> Registry:
    return Registry.load(app_context(ctx).settings.companies_file)


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Document files or folders (.txt, .md, .html).",
                                                show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Extract and print, store nothing.")] = False,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="table or jsonl; default: table on a terminal, jsonl into a pipe or file.",
        show_default=False)] = None,
    unattributed: Annotated[bool, typer.Option(
        "--unattributed", help="List the figures no known company takes, with their sentences, instead of "
                               "the facts (they are never stored).")] = False,
) -> None:
    """Read documents, extract company figures and store them as facts."""

    if fmt not in (None, "table", "jsonl"):
        raise UsageError(f"--format {fmt!r}: expected table or jsonl")
    output = output_format("jsonl" if fmt == "jsonl" else "table" if fmt == "table" else None, "jsonl")
    app_ctx = app_context(ctx)
    registry = _registry(ctx)
    store = app_ctx.store
    now = dt.datetime.now(dt.UTC)
    files, _ = expand_paths(paths)
    if len(files) >= PROGRESS_MIN_FILES and err.is_terminal:
        with Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=err, transient=True) as bar:
            task = bar.add_task("", total=len(files))

            def tick(path: Path) -> None:
                bar.update(task, advance=1, description=path.name)

            report = ingest_paths(paths, store, registry, now=now, dry_run=dry_run, progress=tick,
                                  unattributed=unattributed)
    else:
        report = ingest_paths(paths, store, registry, now=now, dry_run=dry_run, unattributed=unattributed)
    if unattributed:
        missed = pl.DataFrame(report.unattributed, schema=UNATTRIBUTED_SCHEMA)
        if output == "jsonl":
            emit(missed, "jsonl")
        else:
            emit(missed.select("doc", "metric", "value", "unit", "quote", "sentence"), "table",
                 title="figures no known company takes")
    else:
        rows = report.rows.sort(["doc", "span_start", "metric", "entity"])
        if output == "jsonl":
            emit(rows.select(FACT_FIELDS), "jsonl")
        else:
            emit(rows.select(TABLE_FIELDS), "table", title="facts (dry run)" if dry_run else "facts")
    verb = "would store" if dry_run else "stored"
    err.print(f"{report.documents} document(s) read, {report.skipped} skipped, {report.failed} failed; "
              f"{verb} {report.facts} fact(s)", markup=False, highlight=False)
    for e in report.errors:
        err.print(f"error: {e}", markup=False, highlight=False)
    if report.failed:
        if not files and not report.documents:
            err.print(f"(accepted documents: {', '.join(SUFFIXES)})", markup=False, highlight=False)
        raise typer.Exit(1)


def facts(  # noqa: PLR0917 - typer maps each option to a parameter
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(
        "--entity", "-e", help="Company name, ticker or alias.")] = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", "-m", help="One metric of the closed list.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="ISO date: facts published on or before it, latest statement per entity, metric "
                        "and period.")] = None,
    fmt: Annotated[OutputFormat | None, typer.Option(
        "--format", "-f", help="table, csv, json or jsonl; default: table on a terminal, jsonl into a pipe "
                               "or file.", show_default=False)] = None,
    version: VersionOption = None,
    as_of_commit: AsOfCommitOption = None,
) -> None:
    """List stored facts."""
    app_ctx = app_context(ctx)
    store = pinned_store(app_ctx, version, as_of_commit)
    if metric is not None and metric not in METRICS:
        raise UsageError(f"--metric {metric!r}: not a known metric (one of {', '.join(METRICS)})")
    lf = store.facts_as_of(parse_date(as_of, "--as-of")) if as_of is not None else store.scan("facts")
    if entity is not None:
        company = _registry(ctx).get(entity)
        names = {entity.casefold()} | ({company.name.casefold()} if company else set())
        tickers = {entity.upper()} | ({company.ticker.upper()} if company and company.ticker else set())
        lf = lf.filter(pl.col("entity").str.to_lowercase().is_in(list(names))
                       | pl.col("ticker").str.to_uppercase().is_in(list(tickers)))
    if metric is not None:
        lf = lf.filter(pl.col("metric") == metric)
    df = lf.sort(["published", "entity", "metric", "span_start"], nulls_last=True).collect()
    output = output_format(fmt, "jsonl")
    if output == "table":
        emit(df.select(TABLE_FIELDS), "table", title="facts")
    else:
        emit(df.select(FACT_FIELDS), output)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``facts`` to ``app``."""
    app.command("ingest")(ingest)
    app.command("facts")(facts)
