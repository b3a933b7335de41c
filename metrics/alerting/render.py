"""Alert text for humans and machines: subject, plain text, HTML, webhook JSON and a small chart.

A notification's ``payload`` (written by ``metrics.alerting.tick``) holds::

    rule, entity, state ("firing" | "resolved"), severity, summary, value, statement, period,
    series, at (ISO evaluation time), started_at (ISO), ended_at (ISO or null), repeat (0, 1, ...),
    chart (null or {"label", "dates": [ISO], "values": [float], "threshold": float | null})

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
import string
from collections.abc import Mapping
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
ZERO_TIME = "0001-01-01T00:00:00Z"   # Alertmanager's "not ended"


def clean_header(value: object, *, limit: int = 200) -> str:
    """``value`` as a single safe header line: control characters (CR, LF, ...) become spaces."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_summary(template: str, fields: Mapping[str, Any]) -> str:
    """``template`` (a rule's ``summary``) formatted with ``fields``; never raises.

    A missing field or a format spec that does not fit the value (``{value:.2f}`` of a null)
    falls back to the field's plain text, so an alert is never lost to its wording.
    """
    class _Fields(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return string.Formatter().vformat(template, (), _Fields(fields))
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        pass
    parts: list[str] = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        parts.append(literal)
        if name is None:
            continue
        v = fields.get(name)
        try:
            parts.append(format(v, spec or ""))
        except (ValueError, TypeError):
            parts.append("n/a" if v is None else str(v))
    return "".join(parts)


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
    """The mail subject: ``[FIRING warning] rule: entity - summary``, safe as a header."""
    state = str(payload.get("state", "")).upper()
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


def text_body(payload: Mapping[str, Any]) -> str:
    """The plain-text body."""
    lines = [str(payload.get("summary", "")), ""]
    lines += [f"{k + ':':<14}{_CONTROL.sub(' ', v)}" for k, v in _rows(payload)]
    return "\n".join(lines) + "\n"


def html_body(payload: Mapping[str, Any], *, chart_cid: str | None = None) -> str:
    """The HTML body; every value escaped. ``chart_cid`` embeds the inline chart image."""
    e = html.escape
    color = "#b00020" if payload.get("state") == "firing" else "#1b5e20"
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


def webhook_payload(key: str, channel: str, payload: Mapping[str, Any], *,
                    external_url: str | None = None) -> dict[str, Any]:
    """The webhook JSON, in the spirit of Alertmanager's (version 4) with one alert."""
    rule, entity = str(payload.get("rule")), str(payload.get("entity"))
    state = "resolved" if payload.get("state") == "resolved" else "firing"
    labels = {"alertname": rule, "rule": rule, "entity": entity,
              "severity": str(payload.get("severity") or "")}
    annotations = {"summary": str(payload.get("summary", ""))}
    alert = {
        "status": state,
        "labels": labels,
        "annotations": annotations,
        "startsAt": payload.get("started_at") or payload.get("at"),
        "endsAt": payload.get("ended_at") or ZERO_TIME,
        "value": finite(payload.get("value")),
        "series": payload.get("series"),
        "period": payload.get("period"),
        "statement": payload.get("statement"),
        "repeat": payload.get("repeat", 0),
        "evaluatedAt": payload.get("at"),
        "fingerprint": fingerprint(rule, entity),
        "idempotencyKey": key,
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{{rule={json.dumps(rule, ensure_ascii=False)}, "
                    f"entity={json.dumps(entity, ensure_ascii=False)}}}",
        "status": state,
        "receiver": channel,
        "groupLabels": {"rule": rule, "entity": entity},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url or "",
        "truncatedAlerts": 0,
        "alerts": [alert],
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
