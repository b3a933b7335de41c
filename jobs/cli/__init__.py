"""The ``metrics`` command line: a thin shell over the library.

Exit status: 0 success; 1 some inputs failed (the others were processed, each failure named on
stderr); 2 bad usage, bad configuration or an environment problem (a store root that is a file or
cannot be created, a read-only or full disk, an unreadable file): one line naming the path or the
variable, never a traceback. Commands live in the modules of this package, each with a ``register(app)``
adding its commands to a Typer app.

The modules are loaded lazily (``LazyGroup``): ``COMMANDS`` names each command, the module that
registers it and the one-line help ``metrics --help`` shows, so that the help and each command load
only what they need (``metrics query`` does not import the scheduler, the state database or the
alerting stack). ``tests/test_startup.py`` checks that the registry matches the modules.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from metrics.errors import ConfigError, MetricsError, UsageError
from metrics.log import configure, get_logger

if TYPE_CHECKING:
    from jobs.cli.common import AppContext

log = get_logger("jobs.cli")


@dataclass(frozen=True, slots=True)
class Entry:
    """A command of ``metrics``: the module whose ``register(app)`` adds it, and its one-line help
    (the first paragraph of the command's help, as ``metrics --help`` lists it)."""

    module: str
    help: str


# in the order ``metrics --help`` lists them (Typer lists commands, then groups)
COMMANDS: dict[str, Entry] = {
    "query": Entry("jobs.cli.query",
                   "Run a read-only SQL query over the tables facts, prices, alerts and documents."),
    "compact": Entry("jobs.cli.store", "OPTIMIZE each table (small files merged, prices Z-ordered), then "
                                       "VACUUM files unused for 7 days."),
    "ingest": Entry("jobs.cli.extract", "Read documents, extract company figures and store them as facts."),
    "facts": Entry("jobs.cli.extract", "List stored facts."),
    "alerts": Entry("jobs.cli.alerts",
                    "List alert instances and their states (or, with --history, every state change)."),
    "daemon": Entry("jobs.cli.daemon", "Run the scheduler: ingest the inbox, fetch prices after each close, "
                                       "evaluate, deliver, compact."),
    "status": Entry("jobs.cli.status", "Datasets, damaged parts, failed documents, price freshness, "
                                       "leadership, jobs and deliveries."),
    "serve": Entry("jobs.cli.serve", "Serve the web view (alerts, facts, documents, status, silences), "
                                     "its JSON API and /metrics."),
    "chart": Entry("jobs.cli.serve", "Write a PNG chart of TICKER's price (or of a rule's series for it, "
                                     "with its threshold and marks)."),
    "store": Entry("jobs.cli.store", "The Delta tables: create them, convert a store of the former layout."),
    "prices": Entry("jobs.cli.prices", "Daily price bars: import files, fetch from Yahoo Finance."),
    "rules": Entry("jobs.cli.rules", "Threshold rules: validate a rules file, backtest rules over history."),
    "silence": Entry("jobs.cli.alerts", "Mute a rule (or one entity of it) for a while, with a reason."),
    "outbox": Entry("jobs.cli.alerts",
                    "The notification outbox: list notifications, requeue dead letters."),
}


class Unloaded(TyperCommand):
    """Stands for a command whose module is not imported yet: its name and help, for the listing."""

    def __init__(self, name: str, entry: Entry) -> None:
        super().__init__(name=name, help=entry.help, rich_help_panel=None)
        self.entry = entry


def load_commands(module: str) -> dict[str, Any]:
    """The click commands ``module`` registers (its ``register(app)`` on a fresh Typer app), by name."""
    sub = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    importlib.import_module(module).register(sub)
    return dict(typer.main.get_group(sub).commands)


class LazyGroup(TyperGroup):
    """The root group: every command of ``COMMANDS`` is listed from the registry, and its module is
    imported only when the command is resolved (run, or asked for its own help)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, entry in COMMANDS.items():
            self.commands.setdefault(name, Unloaded(name, entry))

    def load(self, name: str) -> None:
        """Replace the placeholder of ``name`` (and of the other commands of its module) by the real
        commands."""
        placeholder = self.commands.get(name)
        if isinstance(placeholder, Unloaded):
            for other, command in load_commands(placeholder.entry.module).items():
                if isinstance(self.commands.get(other), Unloaded):
                    self.commands[other] = command

    def load_all(self) -> None:
        """Import every command (the docs tests walk the whole tree)."""
        for name in list(self.commands):
            self.load(name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args:
            self.load(args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="metrics",
    cls=LazyGroup,
    help="Financial-metrics time-series store and alerting daemon.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            number = version("metrics")
        except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
            number = "unknown"
        sys.stdout.write(f"metrics {number}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Store root (Parquet datasets and state database). Env METRICS_ROOT.",
        show_default="parquet")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="METRICS_CONFIG",
        help="Config folder (settings.toml, companies.toml, rules.toml).", show_default="config")] = None,
    log_level: Annotated[str | None, typer.Option(
        "--log-level", help="debug, info, warning or error (default from settings: info).")] = None,
    _show_version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Financial-metrics time-series store and alerting daemon."""
    # the settings, the store and polars: not needed by `metrics --help`
    from jobs.cli.common import AppContext  # noqa: PLC0415 - deliberate: a light `metrics --help`

    overrides = {"log_level": log_level} if log_level else {}
    app_ctx = AppContext(root=root, config=config, overrides=overrides,
                         creates_root=ctx.invoked_subcommand in CREATING_COMMANDS)
    ctx.obj = app_ctx
    _CURRENT[:] = [app_ctx]
    settings = app_ctx.settings  # validate configuration up front: a typo fails here, exit 2
    configure(settings.log_level, settings.log_format)


_CURRENT: list[AppContext] = []   # this invocation's context: error messages name its store root

# Commands that may create the store root; the others refuse a root that does not exist (a typo).
CREATING_COMMANDS = frozenset({"daemon", "prices", "ingest", "store", "silence"})


def command_tree() -> LazyGroup:
    """The root group with every command loaded (what the docs tests walk)."""
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    group.load_all()
    return group


def _say(message: str) -> None:
    from jobs.cli.common import err  # noqa: PLC0415 - deliberate: a light `metrics --help`

    err.print(f"error: {message}", markup=False, highlight=False)


def os_error_message(e: OSError) -> str:
    """One line for an environment failure, naming the path: ``<path>: <reason>``."""
    reason = e.strerror or str(e) or type(e).__name__
    if e.errno == errno.ENOSPC:
        reason = "no space left on the device (free some space, or use another --root)"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = f"{reason} (the store and its files must be writable by this user)"
    path = e.filename if e.filename is not None else None
    return f"{os.fsdecode(path)}: {reason}" if path is not None else reason


def _os_error_code(e: Exception) -> int | None:
    """The errno of an OS failure wrapped by polars or pyarrow (``... (os error 28)``), if any."""
    match = re.search(r"\(os error (\d+)\)", str(e))
    return int(match.group(1)) if match else None


def main() -> None:
    """Console-script entry point: run the app, mapping every failure to one line and an exit status.

    Configuration, usage and environment problems exit 2; failed inputs exit 1; an unexpected error
    (a bug) is one line too, its traceback logged at debug level (``--log-level debug``).
    """
    try:
        app()
    except (ConfigError, UsageError) as e:
        _say(str(e))
        raise SystemExit(2) from None
    except MetricsError as e:
        _say(str(e))
        raise SystemExit(1) from None
    except OSError as e:
        _say(os_error_message(e))
        raise SystemExit(2) from None
    except Exception as e:
        if (code := _os_error_code(e)) is not None:  # polars/pyarrow wrap the OS error in their own
            where = _CURRENT[-1].settings.root if _CURRENT else None
            _say(os_error_message(OSError(code, os.strerror(code), str(where) if where else None)))
            raise SystemExit(2) from None
        if type(e).__module__.startswith("sqlalchemy"):
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            _say(f"state database: {first}")
            raise SystemExit(2) from None
        log.debug("cli.crashed", exc_info=True)
        _say(f"unexpected {type(e).__name__}: {e} (a bug: please report it; --log-level debug shows "
             "the traceback)")
        raise SystemExit(1) from None
