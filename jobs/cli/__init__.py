"""The ``metrics`` command line: a thin shell over the library.

Exit status: 0 success; 1 some inputs failed (the others were processed, each failure named on
stderr); 2 bad usage, bad configuration or an environment problem (a store root that is a file or
cannot be created, a read-only or full disk, an unreadable file): one line naming the path or the
variable, never a traceback. Commands live in ``cli_*`` modules, each registering itself on ``app``.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from jobs.cli import alerts as cli_alerts
from jobs.cli import daemon as cli_daemon
from jobs.cli import extract as cli_extract
from jobs.cli import rules as cli_rules
from jobs.cli import serve as cli_serve
from jobs.cli import status as cli_status
from jobs.cli import store as cli_store
from jobs.cli.common import AppContext, err
from metrics.errors import ConfigError, MetricsError, UsageError
from metrics.log import configure, get_logger

log = get_logger("jobs.cli")

app = typer.Typer(
    name="metrics",
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

for module in (cli_store, cli_extract, cli_rules, cli_alerts, cli_daemon, cli_status, cli_serve):
    module.register(app)


def _say(message: str) -> None:
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
