"""``metrics serve`` (the web view, its JSON API and ``/metrics``) and ``metrics chart`` (a PNG).

Both read the store and the state database of the settings; the web app lives in ``jobs.web``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from jobs.cli.common import app_context, err
from metrics.errors import UsageError


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (default from [http] host: 127.0.0.1). Anything but the "
            "loopback needs METRICS_HTTP__TOKEN.",
        ),
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default from [http] port: 8765).")] = None,
) -> None:
    """Serve the web view (alerts, facts, documents, status, silences), its JSON API and /metrics."""
    from jobs.web.server import serve as run

    settings = app_context(ctx).settings
    host = host or settings.http.host
    port = settings.http.port if port is None else port
    try:
        run(settings, host, port)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e}") from e


def chart(
    ctx: typer.Context,
    ticker: Annotated[str, typer.Argument(help="The ticker whose price to draw (or the rule's entity).")],
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help="Draw this rule's column and threshold, with the alert's pending/firing/resolved marks.",
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First date (ISO), default: all history.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="PNG file to write (default TICKER.png; '-' for stdout)."),
    ] = None,
) -> None:
    """Write a PNG chart of TICKER's price (or of a rule's series for it, with its threshold and marks)."""
    from jobs.web.charts import Mark, series_png
    from jobs.web.read import Reader
    from metrics.alerting.render import fingerprint
    from metrics.alerting.state import open_db

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    reference: list[tuple[dt.date, float]] = []
    reference_label = ""
    try:
        start = dt.date.fromisoformat(from_) if from_ else None
    except ValueError as e:
        raise UsageError(f"--from: not an ISO date: {from_!r}") from e
    db = open_db(settings.database_url)
    try:
        reader = Reader(settings, db, app_ctx.store, now=lambda: dt.datetime.now(dt.UTC))
        if rule is None:
            points, title, threshold, marks = (
                reader.price_series(ticker, start=start),
                f"{ticker} close",
                None,
                [],
            )
        else:
            known = reader.rules().get(rule)
            if known is None:
                raise UsageError(f"--rule {rule!r}: no such rule in {settings.rules_file}")
            alert = reader.alert(fingerprint(rule, ticker))
            from metrics.alerting.render import threshold_of

            threshold = threshold_of(known.condition)
            transitions = alert["transitions"] if alert else []
            subject = {"rule": rule, "entity": ticker, "transitions": transitions}
            label, points = reader.alert_series(subject)
            sma = reader.moving_average(subject)
            if sma is not None:
                reference_label = sma[0]
                reference = [(d, v) for d, v in sma[1] if start is None or d >= start]
            if start is not None:
                points = [(d, v) for d, v in points if d >= start]
            title = f"{rule}: {label}"
            marks = [
                Mark(t["at"], t["state"], t["value"])
                for t in transitions
                if start is None or t["at"].date() >= start
            ]
    finally:
        db.close()
    if not points:
        raise UsageError(f"{ticker}: no data to draw" + (f" for rule {rule}" if rule else ""))
    png = series_png(points, title=title, threshold=threshold, marks=marks, reference=reference,
                     reference_label=reference_label)
    if out is not None and str(out) == "-":
        sys.stdout.buffer.write(png)
        return
    target = out or Path(f"{ticker}.png")
    target.write_bytes(png)
    err.print(f"wrote {target} ({len(points)} points)", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``chart`` to ``app``."""
    app.command("serve")(serve)
    app.command("chart")(chart)
