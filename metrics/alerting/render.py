"""Alert text for humans and machines: subject, plain text, HTML, webhook JSON and a small chart.

A notification's ``payload`` (``build_payload``, for ``metrics.alerting.tick``) holds::

    rule, entity, state ("firing" | "resolved"), kind ("firing" | "reminder" | "resolved"),
    severity, summary (the text of its kind, ``notification_text``), value, statement, period,
    series, condition, at (ISO evaluation time), started_at (ISO), ended_at (ISO or null),
    repeat (0, 1, ...), reason, features (the evaluation row), fired (the condition's fields when
    the alert fired), chart (null or {"label", "dates": [ISO], "values": [float], "threshold"})

Several notifications of one channel and tick can travel as one digest (``digest_payload``): its
``alerts`` list holds their payloads and its ``summary`` counts them ("12 alerts firing, 3 resolved").

Anything in it may come from a document (entity names, summaries quoting figures), so every value
is escaped for HTML (``html.escape``) and stripped of control characters before it goes into a mail
header (``clean_header``): neither markup nor a ``\\r\\nBcc:`` can be injected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from metrics.alerting.rules import Rule
from metrics.alerting.templates import render, show
from metrics.log import get_logger

if TYPE_CHECKING:
    from metrics.store.tables import Store

log = get_logger(__name__)
Kind = Literal["firing", "reminder", "resolved"]
CHART_BARS = 90

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
ZERO_TIME = "0001-01-01T00:00:00Z"   # Alertmanager's "not ended"


def clean_header(value: object, *, limit: int = 200) -> str:
    """``value`` as a single safe header line: control characters (CR, LF, ...) become spaces."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_value(v: object) -> str:
    """A number for people: 4 significant digits, thousands separated; ``n/a`` for null/NaN."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, int | float):
        f = float(v)
        if abs(f) >= 1e4:
            return f"{f:,.0f}"
        return f"{f:.4g}" if abs(f) < 1 else f"{f:,.2f}"
    return str(v)


def subject(payload: Mapping[str, Any]) -> str:
    """The mail subject: ``[FIRING warning] rule: entity - summary`` (``REMINDER``, ``RESOLVED``, a
    digest's ``[DIGEST] summary``), safe as a header."""
    if payload.get("kind") == "digest":
        return clean_header(f"[DIGEST] {payload.get('summary', '')}")
    state = str(payload.get("kind") or payload.get("state", "")).upper()
    sev = payload.get("severity") or ""
    head = f"[{state} {sev}]".replace(" ]", "]")
    rule, entity, summary = payload.get("rule"), payload.get("entity"), payload.get("summary", "")
    return clean_header(f"{head} {rule}: {entity} - {summary}")


def _rows(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Rule", str(payload.get("rule", ""))),
        ("Entity", str(payload.get("entity", ""))),
        ("State", str(payload.get("state", ""))),
        ("Severity", str(payload.get("severity") or "")),
        ("Value", fmt_value(payload.get("value"))),
        ("Series", str(payload.get("series") or "")),
        ("Evaluated at", str(payload.get("at") or "")),
        ("Since", str(payload.get("started_at") or "")),
    ]
    if payload.get("ended_at"):
        rows.append(("Resolved at", str(payload["ended_at"])))
    if payload.get("period"):
        rows.append(("Period", str(payload["period"])))
    if payload.get("statement"):
        rows.append(("Statement", str(payload["statement"])))
    if payload.get("repeat"):
        rows.append(("Reminder", f"#{payload['repeat']}"))
    return rows


def _digest_lines(payload: Mapping[str, Any]) -> list[str]:
    return [f"[{str(a.get('kind', '')).upper()} {a.get('severity') or ''}] {a.get('rule')}: "
            f"{a.get('summary', '')}" for a in payload.get("alerts") or []]


def text_body(payload: Mapping[str, Any]) -> str:
    """The plain-text body (a digest: one line per alert)."""
    if payload.get("kind") == "digest":
        lines = [str(payload.get("summary", "")), "", *_digest_lines(payload)]
        return "\n".join(_CONTROL.sub(" ", line) for line in lines) + "\n"
    lines = [str(payload.get("summary", "")), ""]
    lines += [f"{k + ':':<14}{_CONTROL.sub(' ', v)}" for k, v in _rows(payload)]
    return "\n".join(lines) + "\n"


def html_body(payload: Mapping[str, Any], *, chart_cid: str | None = None) -> str:
    """The HTML body; every value escaped. ``chart_cid`` embeds the inline chart image."""
    e = html.escape
    color = "#b00020" if payload.get("state") == "firing" else "#1b5e20"
    if payload.get("kind") == "digest":
        items = "".join(f"<li>{e(line)}</li>" for line in _digest_lines(payload))
        return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
                f"<h2 style=\"color:{color}\">{e(str(payload.get('summary', '')))}</h2>"
                f"<ul>{items}</ul></body></html>")
    cells = "".join(f"<tr><th style=\"text-align:left;padding-right:1em\">{e(k)}</th><td>{e(v)}</td></tr>"
                    for k, v in _rows(payload))
    img = (f'<p><img src="cid:{e(chart_cid.strip("<>"))}" alt="{e(str(payload.get("series", "chart")))}" '
           'width="480" height="200"></p>') if chart_cid else ""
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
        f"<h2 style=\"color:{color}\">{e(str(payload.get('summary', '')))}</h2>"
        f"<table>{cells}</table>{img}</body></html>"
    )


def fingerprint(rule: str, entity: str) -> str:
    """A stable id of the alert instance (rule, entity), as Alertmanager's fingerprint."""
    return hashlib.sha256(f"{rule}\x1f{entity}".encode()).hexdigest()[:16]


def finite(v: Any) -> Any:
    """``v``, or None for a NaN or infinite float (JSON has neither)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _webhook_alert(key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    rule, entity = str(payload.get("rule")), str(payload.get("entity"))
    state = "resolved" if payload.get("state") == "resolved" else "firing"
    labels = {"alertname": rule, "rule": rule, "entity": entity,
              "severity": str(payload.get("severity") or "")}
    return {
        "status": state,
        "labels": labels,
        "annotations": {"summary": str(payload.get("summary", ""))},
        "startsAt": payload.get("started_at") or payload.get("at"),
        "endsAt": payload.get("ended_at") or ZERO_TIME,
        "value": finite(payload.get("value")),
        "series": payload.get("series"),
        "period": payload.get("period"),
        "statement": payload.get("statement"),
        "repeat": payload.get("repeat", 0),
        "kind": payload.get("kind"),
        "evaluatedAt": payload.get("at"),
        "fingerprint": fingerprint(rule, entity),
        "idempotencyKey": key,
    }


def webhook_payload(key: str, channel: str, payload: Mapping[str, Any], *,
                    external_url: str | None = None) -> dict[str, Any]:
    """The webhook JSON, in the spirit of Alertmanager's (version 4): one alert, or a digest's alerts."""
    digest = payload.get("kind") == "digest"
    members = list(payload.get("alerts") or []) if digest else [payload]
    alerts = [_webhook_alert(str(p.get("key") or f"{key}:{i}") if digest else key, p)
              for i, p in enumerate(members)]
    state = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    if digest:
        common = {"severity": str(payload.get("severity") or "")}
        group_key = f"{{}}:{{receiver={json.dumps(channel, ensure_ascii=False)}}}"
        group: dict[str, str] = {}
    else:
        common = alerts[0]["labels"]
        rule, entity = common["rule"], common["entity"]
        group_key = (f"{{}}:{{rule={json.dumps(rule, ensure_ascii=False)}, "
                     f"entity={json.dumps(entity, ensure_ascii=False)}}}")
        group = {"rule": rule, "entity": entity}
    return {
        "version": "4",
        "groupKey": group_key,
        "status": state,
        "receiver": channel,
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": {"summary": str(payload.get("summary", ""))},
        "externalURL": external_url or "",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }


def chart_png(chart: Mapping[str, Any] | None) -> bytes | None:
    """A small PNG (480x200) of the series with its threshold line; None when there is nothing to draw."""
    if not chart:
        return None
    dates_raw, values_raw = chart.get("dates") or [], chart.get("values") or []
    points = [(dt.date.fromisoformat(str(d)[:10]), float(v))
              for d, v in zip(dates_raw, values_raw, strict=False)
              if v is not None and math.isfinite(float(v))]
    if len(points) < 2:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 2.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs, ys = zip(*points, strict=True)
    ax.plot(xs, ys, color="#1f77b4", linewidth=1.2, label=str(chart.get("label") or "value"))
    threshold = chart.get("threshold")
    if isinstance(threshold, int | float) and math.isfinite(float(threshold)):
        ax.axhline(float(threshold), color="#d62728", linestyle="--", linewidth=1.0, label="threshold")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="best", frameon=False)
    fig.autofmt_xdate(rotation=0, ha="center")
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


_THRESHOLD = re.compile(r"^\s*value\s*(?:<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")


def threshold_of(condition: str) -> float | None:
    """The constant of a simple ``value <op> number`` condition, for the chart; else None."""
    m = _THRESHOLD.match(condition)
    return float(m.group(1)) if m else None


# -- notification texts and payloads --------------------------------------------------------------


def _iso(v: dt.datetime | dt.date | None) -> str | None:
    if v is None:
        return None
    return v.isoformat().replace("+00:00", "Z")


def jsonable(v: Any) -> Any:
    """``v`` as a JSON value: ISO text for dates, None for a non-finite float, text for the rest."""
    if isinstance(v, dt.datetime | dt.date):
        return _iso(v)
    if isinstance(v, float):
        return finite(v)
    return v if v is None or isinstance(v, str | int | bool) else str(v)


def notification_text(rule: Rule, kind: Kind, values: Mapping[str, Any], *,
                      fired: Mapping[str, Any] | None, fired_at: dt.datetime | None) -> str:
    """The text of a ``kind`` notification of ``rule``.

    ``values`` are the template values now (``metrics.alerting.rules.template_values``), ``fired``
    those of when the alert fired. A rule without its own ``summary_reminder``/``summary_resolved``
    gets a generated text naming the condition's fields now and when it fired, e.g. ``fall-10pct:
    resolved for QCOM: change_pct_5 now +3.1 %, was -18.2 % when it fired on 2025-03-03``.
    """
    was = dict(fired or {})
    merged = dict(values)
    merged.update({f"fired_{k}": v for k, v in was.items()})
    merged["fired_at"] = fired_at.date().isoformat() if fired_at is not None else None
    if kind == "firing":
        return render(rule.summary, merged)
    template = rule.summary_reminder if kind == "reminder" else rule.summary_resolved
    if template is not None:
        return render(template, merged)
    fields = rule.condition_fields or ("value",)
    entity = values.get("entity")
    on = f" on {merged['fired_at']}" if fired_at is not None else ""
    if kind == "resolved":
        changes = "; ".join(f"{f} now {show(f, values.get(f))}, was {show(f, was.get(f))}" for f in fields)
        return f"{rule.name} resolved for {entity}: {changes} when it fired{on}"
    then = render(rule.summary, {**merged, **was}) if was else rule.name
    now = ", ".join(f"{f} {show(f, values.get(f))}" for f in fields)
    return f"Reminder, firing since {merged['fired_at'] or 'n/a'}: {then} (now {now})"


def build_payload(rule: Rule, kind: Kind, row: Mapping[str, Any], *, values: Mapping[str, Any],
                  fired: Mapping[str, Any] | None, fired_at: dt.datetime | None, at: dt.datetime,
                  repeat: int, reason: str, statement: str | None) -> dict[str, Any]:
    """The payload of one notification (see the module docstring); ``chart`` is filled in later."""
    state = "resolved" if kind == "resolved" else "firing"
    was = fired or {}
    return {
        "rule": rule.name,
        "entity": str(row["entity"]),
        "state": state,
        "kind": kind,
        "severity": rule.severity,
        "summary": notification_text(rule, kind, values, fired=fired, fired_at=fired_at),
        "value": finite(row.get("value")),
        "statement": statement,
        "period": row.get("period"),
        "series": rule.series,
        "condition": rule.condition,
        "at": _iso(at),
        "started_at": _iso(fired_at),
        "ended_at": _iso(at) if state == "resolved" else None,
        "repeat": repeat,
        "reason": reason,
        "features": {k: jsonable(v) for k, v in row.items()},
        "fired": {f: jsonable(was.get(f)) for f in (*rule.condition_fields, "value")} if fired else None,
        "chart": None,
    }


def charts(store: Store, rules: Mapping[str, Rule], wanted: set[tuple[str, str]],
           at: dt.datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """The recent price series (``CHART_BARS`` bars) of each (rule, entity) of a price rule in ``wanted``."""
    by_col: dict[str, set[str]] = {}
    for rule_name, entity in wanted:
        rule = rules[rule_name]
        if rule.source == "prices":
            by_col.setdefault(rule.column, set()).add(entity)
    if not by_col:
        return {}
    tickers = sorted(set().union(*by_col.values()))
    cols = sorted(by_col)
    try:
        bars = (store.prices_for(tickers, end=at.date())
                .select("ticker", "date", *cols)
                .sort("ticker", "date")
                .group_by("ticker", maintain_order=True)
                .agg(pl.all().tail(CHART_BARS))
                .collect())
    except Exception as e:  # a chart is a nicety: never fail a tick for it
        log.warning("tick.chart_failed", error=str(e))
        return {}
    per_ticker = {row["ticker"]: row for row in bars.iter_rows(named=True)}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rule_name, entity in wanted:
        rule = rules[rule_name]
        series = per_ticker.get(entity)
        if rule.source != "prices" or series is None or len(series["date"]) < 2:
            continue
        out[(rule_name, entity)] = {
            "label": f"{entity} {rule.column}",
            "dates": [d.isoformat() for d in series["date"]],
            "values": [None if v is None else finite(float(v)) for v in series[rule.column]],
            "threshold": threshold_of(rule.condition),
        }
    return out


_SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


def digest_summary(kinds: list[str]) -> str:
    """``"12 alerts firing, 3 resolved, 2 reminders"`` for the kinds of a digest's notifications."""
    firing, resolved, reminders = (kinds.count(k) for k in ("firing", "resolved", "reminder"))
    parts = []
    if firing:
        parts.append(f"{firing} alert{'s' if firing != 1 else ''} firing")
    if resolved:
        parts.append(f"{resolved} resolved")
    if reminders:
        parts.append(f"{reminders} still firing (reminder{'s' if reminders != 1 else ''})")
    return ", ".join(parts)


def digest_payload(payloads: list[Mapping[str, Any]], *, at: dt.datetime) -> dict[str, Any]:
    """One message for several notifications of one channel and tick: their payloads (without
    charts) under ``alerts`` and a ``summary`` counting them by kind."""
    kinds = [str(p.get("kind")) for p in payloads]
    severity = max((str(p.get("severity")) for p in payloads), key=lambda s: _SEVERITY_ORDER.get(s, -1))
    return {
        "kind": "digest",
        "rule": "digest",
        "entity": f"{len(payloads)} alerts",
        "state": "firing" if any(k != "resolved" for k in kinds) else "resolved",
        "severity": severity,
        "summary": digest_summary(kinds),
        "at": _iso(at),
        "counts": {k: kinds.count(k) for k in ("firing", "reminder", "resolved")},
        "alerts": [{k: v for k, v in p.items() if k not in ("chart", "features")} for p in payloads],
        "chart": None,
    }
