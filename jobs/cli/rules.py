"""Rules commands: ``rules check [FILE]`` and ``rules backtest --from D --to D``.

``rules check`` validates a rules file (default ``<config>/rules.toml``) against the configured
channels: every error on stderr, naming the rule and the field, exit status 2; when valid, one
line on stdout. ``rules backtest`` replays the rules over the stored prices and facts, one
evaluation per trading day at the close, and prints every state change (``pending``, ``firing``,
``resolved``); ``at`` is the evaluation date (ISO ``YYYY-MM-DD``).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from jobs.cli.common import (
    AsOfCommitOption,
    VersionOption,
    app_context,
    emit,
    err,
    out,
    output_format,
    parse_date,
    pinned_store,
    unknown_entities,
    warn_all,
)
from metrics.alerting.backtest import Window
from metrics.alerting.executors import get_executor
from metrics.alerting.rules import load_rules, read_rules
from metrics.errors import ConfigError, UsageError
from metrics.store.calendars import canonical, use_cache_dir

rules_app = typer.Typer(
    help="Threshold rules: validate a rules file, backtest rules over history.", no_args_is_help=True
)


@rules_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Rules file (default: <config>/rules.toml).")] = None,
) -> None:
    """Validate a rules file: unknown keys, durations, series, conditions, channels, summaries."""

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    path = file or settings.rules_file
    rules, errors = read_rules(path, channels=list(settings.channels))
    if errors:
        for e in errors:
            err.print(f"error: {e}", markup=False, highlight=False)
        raise ConfigError(f"{len(errors)} error(s) in the rules file", source=path)
    named = [e for r in rules for e in (r.entities or ())]
    unknown = set(unknown_entities(app_ctx, named))
    warn_all(f"{path}: rule {r.name!r}: entity {name!r} is neither in the store nor in the registry"
             for r in rules for name in (r.entities or ()) if name in unknown)
    out.print(f"{path}: {len(rules)} rule(s) OK", markup=False, highlight=False)


@rules_app.command("backtest")
def backtest_cmd(  # noqa: PLR0917 - typer maps each option to a parameter
    ctx: typer.Context,
    date_from: Annotated[str, typer.Option("--from", help="First evaluation date (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Last evaluation date (YYYY-MM-DD).")],
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Rules file (default: <config>/rules.toml).")
    ] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="table or jsonl; default: table on a terminal, jsonl into a pipe or file.",
        show_default=False)] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            "--calendar",
            help="Exchange calendar (MIC, e.g. XNYS) for the evaluation days; default: the "
            "dates with bars of each rule's entities.",
        ),
    ] = None,
    rule_names: Annotated[
        list[str] | None, typer.Option("--rule", help="Only this rule (repeatable).")
    ] = None,
    version: VersionOption = None,
    as_of_commit: AsOfCommitOption = None,
    executor: Annotated[
        str, typer.Option("--executor", help="local, or ray: tickers split over Ray tasks (metrics[ray]).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (--executor ray; default: local).")
    ] = None,
) -> None:
    """Replay the rules over stored data; print every state change (pending, firing, resolved)."""

    if fmt not in (None, "table", "jsonl"):
        raise UsageError(f"--format: use table or jsonl, not {fmt!r}")
    if calendar is not None:
        try:
            canonical(calendar)
        except ConfigError as e:
            raise UsageError(f"--calendar {calendar!r}: not an exchange calendar (an ISO MIC such as XNYS, "
                             "XKRX, XHKG)") from e
    start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    if end < start:
        raise UsageError("--to is before --from")
    try:
        runner = get_executor(executor, address=address)
    except ValueError as e:
        raise UsageError(f"--executor: {e}") from None
    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    rules = load_rules(rules_file or settings.rules_file, channels=list(settings.channels))
    if rule_names:
        unknown = sorted(set(rule_names) - {r.name for r in rules})
        if unknown:
            raise UsageError(f"--rule: no such rule {', '.join(unknown)}")
        rules = [r for r in rules if r.name in rule_names]
    store = pinned_store(app_ctx, version, as_of_commit)
    use_cache_dir(settings.root / "cache" / "calendars")  # stale_bars: calendars built once per store
    with err.status("backtesting", spinner="dots") if err.is_terminal else nullcontext():
        result = runner.backtest(rules, store, Window(start, end, calendar=calendar))
    output = output_format("jsonl" if fmt == "jsonl" else "table" if fmt == "table" else None, "jsonl")
    emit(result, output, title=f"backtest {start} .. {end}")


def register(app: typer.Typer) -> None:
    """Add the ``rules`` command group to ``app``."""
    app.add_typer(rules_app, name="rules")
