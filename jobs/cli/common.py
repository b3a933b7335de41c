"""What every command of the CLI shares: the context object, consoles and output formats.

stdout carries only the requested output; messages, progress bars and logs go to stderr.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from jobs.cli.output import jsonable, write_csv, write_json, write_jsonl
from metrics.errors import ConfigError, UsageError
from metrics.settings import Settings, load_settings
from metrics.store.tables import Store

if TYPE_CHECKING:
    from metrics.alerting.state import StateDB

OutputFormat = Literal["table", "csv", "json", "jsonl"]

# requested output only; piped output is not cut to 80 columns (wide tables stay readable in less/files)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)    # messages, progress

# the time-travel options of the commands that read the tables (query, facts, rules backtest)
VersionOption = Annotated[int | None, typer.Option(
    "--version", min=0, help="Time travel: read every table at this Delta table version.")]
AsOfCommitOption = Annotated[str | None, typer.Option(
    "--as-of-commit", metavar="TIMESTAMP",
    help="Time travel: read every table as committed at this ISO time (UTC unless a zone is given).")]


@dataclass
class AppContext:
    """Per-invocation state: the global options, then settings and store built on first use."""

    root: Path | None = None
    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    creates_root: bool = False      # the command may create a missing store root (imports, daemon)

    @cached_property
    def settings(self) -> Settings:
        if self.config is not None and not self.config.is_dir():
            what = "is not a folder" if self.config.exists() else "does not exist"
            raise ConfigError(f"config folder {what} (--config or METRICS_CONFIG)", source=self.config)
        return load_settings(self.config, root=self.root, **self.overrides)

    def checked_root(self) -> Path:
        """The store root, checked: a folder; created only by commands that write (else an error)."""
        root = self.settings.root
        if root.exists() and not root.is_dir():
            raise ConfigError("the store root is not a folder (--root or METRICS_ROOT)", source=root)
        if not root.exists():
            if not self.creates_root:
                raise UsageError(f"{root}: no store here (a typo in --root or METRICS_ROOT?); "
                                 "`metrics prices import` or `metrics daemon` creates one")
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"cannot create the store root: {e.strerror or e}", source=root) from e
        return root

    @cached_property
    def store(self) -> Store:

        if self.settings.store.url is None:  # an S3 store needs no local folder for its tables
            self.checked_root()
        return Store.from_settings(self.settings)

    def open_db(self) -> StateDB:
        """The state database (under the checked store root unless ``state_url`` says otherwise)."""
        # SQLAlchemy and the state schema load only in the commands that open the state database
        from metrics.alerting.state import open_db  # noqa: PLC0415 - deliberate: start-up of the others

        if self.settings.state_url is None:
            self.checked_root()
        return open_db(self.settings.database_url)


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


def unknown_entities(app_ctx: AppContext, entities: Iterable[str]) -> list[str]:
    """Those of ``entities`` that neither the registry (names, tickers, aliases) nor the store (price
    tickers, fact entities and tickers) knows: most likely typos, worth a warning."""
    from metrics.extraction.entities import Registry  # noqa: PLC0415 - deliberate: start-up of the others

    wanted = [e for e in dict.fromkeys(entities) if e]
    path = app_ctx.settings.companies_file
    registry = Registry.load(path) if path.exists() else None
    left = [e for e in wanted if registry is None or registry.get(e) is None]
    if not left or not app_ctx.settings.root.is_dir():
        return left
    store = app_ctx.store
    known: set[str] = set()
    known.update(str(t).upper() for t in
                 store.scan("prices").select("ticker").unique().collect().get_column("ticker").to_list())
    facts = store.scan("facts").select("entity", "ticker").unique().collect()
    known.update(str(v).upper() for col in ("entity", "ticker") for v in facts.get_column(col).to_list() if v)
    return [e for e in left if e.upper() not in known]


def warn(message: str) -> None:
    """A warning line on stderr (the command goes on)."""
    warn_all((message,))


def warn_all(messages: Iterable[str]) -> None:
    """Warning lines on stderr (``warning: ...``), in one write: a rules file may name thousands of
    unknown entities, and a console print per line cost more than reading the rules."""
    text = "".join(f"warning: {m}\n" for m in messages)
    if text:
        err.file.write(text)
        err.file.flush()


def app_context(ctx: typer.Context) -> AppContext:
    """The ``AppContext`` the root callback put on the click context."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # pragma: no cover - the root callback always sets it
        raise RuntimeError("CLI context missing")
    return obj


def parse_date(text: str, option: str) -> dt.date:
    """``option``'s ISO date (``2026-05-29``); ``UsageError`` naming the option otherwise.

    The one date parser of the command line (with ``parse_utc`` for times).
    """
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: not an ISO date (YYYY-MM-DD): {text!r}") from None


def parse_utc(text: str, option: str) -> dt.datetime:
    """``option``'s ISO 8601 date (midnight) or time (``2026-05-29T21:00:00Z``), in UTC; a date or
    time without zone is taken as UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise UsageError(f"{option}: not an ISO 8601 date or time: {text!r}") from e
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def rows_as_dicts(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON-ready dicts (dates ISO, datetimes ISO with ``Z``)."""
    return [{k: jsonable(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def readable_float(v: float) -> str:
    """A float as a table shows it: up to 4 decimals without trailing zeros, tiny or huge ones in
    scientific notation (csv and json keep full precision)."""
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e15):
        return f"{v:.4g}"
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


TABLE_ROWS = 100   # rows a table shows at most (the rest is counted on stderr)


def output_format(fmt: OutputFormat | None, piped: OutputFormat) -> OutputFormat:
    """The format asked for, else a table on a terminal and ``piped`` (all rows, streamed by polars)
    when stdout is a pipe or a file."""
    if fmt is not None:
        return fmt
    return "table" if sys.stdout.isatty() else piped


def emit(df: pl.DataFrame, fmt: OutputFormat, *, title: str | None = None,
         max_rows: int | None = TABLE_ROWS, readable: bool = False, all_rows: str = "--format jsonl") -> None:
    """Write ``df`` to stdout as a rich table, CSV, one JSON array, or JSON lines.

    CSV and JSON are written by polars (``jobs.cli.output``), the same text the row-by-row writers
    gave. Table format only: ``max_rows`` caps the rows shown (None: all; a note on stderr says how
    many were left out and that ``all_rows`` gives them) and ``readable`` rounds floats
    (``readable_float``).
    """
    if fmt == "json":
        write_json(df, sys.stdout)
    elif fmt == "jsonl":
        write_jsonl(df, sys.stdout)
    elif fmt == "csv":
        write_csv(df, sys.stdout)
    else:
        shown = df if max_rows is None else df.head(max_rows)
        rows: Iterable[Sequence[Any]] = shown.iter_rows()
        if readable:
            rows = ([readable_float(v) if isinstance(v, float) else v for v in r] for r in rows)
        print_table(df.columns, rows, title=title)
        if shown.height < df.height:
            err.print(f"{df.height - shown.height} more row(s) not shown of {df.height} "
                      f"({all_rows} gives all)",
                      markup=False, highlight=False)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
                **options: Any) -> None:
    """Print ``rows`` as a rich table on stdout (``options``: more ``rich.table.Table`` arguments)."""
    table = Table(title=title, **options)
    for c in columns:
        table.add_column(c, overflow="fold")
    for values in rows:
        table.add_row(*("" if v is None else str(jsonable(v)) for v in values))
    out.print(table)
