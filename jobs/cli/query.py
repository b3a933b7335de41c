"""``metrics query``: read-only SQL over the store's tables (``metrics.store.query``).

A module of its own so that a query loads the store and polars only: not the state database, the
price sources or the alerting stack (``tests/test_startup.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from jobs.cli.common import AsOfCommitOption, VersionOption, app_context, emit, output_format, pinned_store
from metrics.store.query import query as run_query


def query(  # noqa: PLR0917 - each typer option is a parameter
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(
        metavar="SQL", help="polars SQL over facts, prices, alerts, documents (read-only: SELECT/WITH).")],
    fmt: Annotated[Literal["table", "csv", "json"] | None, typer.Option(
        "--format", "-f", help="table, csv, or json (one array of row objects); default: table on a "
                               "terminal, csv into a pipe or file.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=0, help="Table format: rows shown at most (0: all); csv and json give all.")] = 100,
    version: VersionOption = None,
    as_of_commit: AsOfCommitOption = None,
) -> None:
    """Run a read-only SQL query over the tables facts, prices, alerts and documents.

    Statements that would write (INSERT, DELETE, DROP, CREATE...) and functions that read files
    (read_csv, read_parquet...) are refused with exit 2. Table output rounds floats for reading.
    """

    app_ctx = app_context(ctx)
    store = pinned_store(app_ctx, version, as_of_commit)
    emit(run_query(store, sql), output_format(fmt, "csv"), max_rows=limit or None, readable=True,
         all_rows="--limit 0 shows all; --format csv or json")


def register(app: typer.Typer) -> None:
    """Add ``query`` to ``app``."""
    app.command("query")(query)
