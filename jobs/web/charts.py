"""Charts as PNG, drawn on the server with matplotlib (Agg; no display, no browser library).

``series_png`` draws a series with the rule's threshold and the alert's pending, firing and
resolved marks; the web view serves it under ``/charts/...`` and ``metrics chart`` writes it to a
file. E-mails keep their small chart of ``metrics.alerting.render.chart_png``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MARK_STYLE = {  # state -> (colour, marker)
    "pending": ("#f0a202", "^"),
    "firing": ("#d62728", "v"),
    "resolved": ("#2ca02c", "o"),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """A state change of an alert: when, into which state, and the value then (None: unknown)."""

    at: dt.datetime
    state: str
    value: float | None = None


def _y_near(points: Sequence[tuple[dt.date, float]], day: dt.date) -> float | None:
    before = [v for d, v in points if d <= day]
    if before:
        return before[-1]
    return points[0][1] if points else None


def series_png(
    points: Sequence[tuple[dt.date, float]],
    *,
    title: str,
    threshold: float | None = None,
    marks: Sequence[Mark] = (),
    label: str | None = None,
    reference: Sequence[tuple[dt.date, float]] = (),
    reference_label: str = "",
    width: float = 8.0,
    height: float = 3.0,
) -> bytes:
    """A PNG of ``points`` (date, value) with an optional threshold line and alert marks.

    A mark without a value sits on the series at its date. With no points at all the marks alone
    are drawn (a derived series), and with neither the chart says "no data". A character the font
    lacks (a name in another script) is drawn as a box, not reported.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        return _draw(points, title=title, threshold=threshold, marks=marks, label=label or title,
                     reference=reference, reference_label=reference_label, width=width, height=height)


def _draw(points: Sequence[tuple[dt.date, float]], *, title: str, threshold: float | None,
          marks: Sequence[Mark], label: str, reference: Sequence[tuple[dt.date, float]],
          reference_label: str, width: float, height: float) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    pts = [(d, v) for d, v in points if math.isfinite(v)]
    if pts:
        xs, ys = zip(*pts, strict=True)
        ax.plot(
            xs,
            ys,
            color="#1f77b4",
            linewidth=1.2,
            label=_CONTROL.sub(" ", label),
            marker="o" if len(pts) < 30 else None,
            markersize=3,
        )
    ref = [(d, v) for d, v in reference if math.isfinite(v)]
    if ref:
        rx, ry = zip(*ref, strict=True)
        ax.plot(rx, ry, color="#9467bd", linestyle="--", linewidth=1.0,
                label=_CONTROL.sub(" ", reference_label))
    if threshold is not None and math.isfinite(threshold):
        ax.axhline(
            threshold, color="#d62728", linestyle="--", linewidth=1.0, label=f"threshold {threshold:g}"
        )
    seen: set[str] = set()
    for m in marks:
        colour, marker = MARK_STYLE.get(m.state, ("#7f7f7f", "s"))
        day = m.at.date()
        y = m.value if m.value is not None and math.isfinite(m.value) else _y_near(pts, day)
        if y is None:
            continue
        ax.scatter(
            [day],  # type: ignore[arg-type]
            [y],
            color=colour,
            marker=marker,
            s=60,
            zorder=3,
            edgecolors="black",
            linewidths=0.5,
            label=m.state if m.state not in seen else None,
        )
        seen.add(m.state)
    days = [d for d, _v in pts] + [m.at.date() for m in marks]
    if days and max(days) - min(days) < dt.timedelta(days=2):  # one date: show a month either side
        ax.set_xlim(min(days) - dt.timedelta(days=30), max(days) + dt.timedelta(days=30))  # type: ignore[arg-type]
    if not pts and not seen:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(_CONTROL.sub(" ", title), fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    if pts or seen:
        ax.legend(fontsize=7, loc="best", frameon=False)
    fig.autofmt_xdate(rotation=0, ha="center")
    fig.tight_layout(pad=0.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
