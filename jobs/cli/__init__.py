"""The ``metrics`` command line: a thin shell over the library.

Exit status: 0 success; 1 some inputs failed (the others were processed, each failure named on
stderr); 2 bad usage or bad configuration. Commands live in ``cli_*`` modules, each registering
itself on ``app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.cli import alerts as cli_alerts
from jobs.cli import daemon as cli_daemon
from jobs.cli import extract as cli_extract
from jobs.cli import rules as cli_rules
from jobs.cli import serve as cli_serve
from jobs.cli import store as cli_store
from jobs.cli.common import AppContext, err
from metrics.errors import ConfigError, MetricsError, UsageError
from metrics.log import configure

app = typer.Typer(
    name="metrics",
    help="Financial-metrics time-series store and alerting daemon.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
) -> None:
    """Financial-metrics time-series store and alerting daemon."""
    overrides = {"log_level": log_level} if log_level else {}
    app_ctx = AppContext(root=root, config=config, overrides=overrides)
    ctx.obj = app_ctx
    settings = app_ctx.settings  # validate configuration up front: a typo fails here, exit 2
    configure(settings.log_level, settings.log_format)


for module in (cli_store, cli_extract, cli_rules, cli_alerts, cli_daemon, cli_serve):
    module.register(app)


def main() -> None:
    """Console-script entry point: run the app, mapping configuration errors to exit 2."""
    try:
        app()
    except (ConfigError, UsageError) as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        raise SystemExit(2) from None
    except MetricsError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        raise SystemExit(1) from None
