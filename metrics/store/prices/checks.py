"""What a daily bar must satisfy before it is stored: the one check every price source goes through.

A bar is refused when a price is not finite or not positive (a price of 0 is a missing value
written as a number), its high is below its low, its volume is negative, or it is dated after the
day of ``now`` (a bar from the future).
``first_problem`` returns the first such row and why; sources raise their own error naming it
(``PriceDataError`` with file and line, ``FetchError`` with the ticker).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")


@dataclass(frozen=True, slots=True)
class BarProblem:
    """The first bad bar: its row index in the frame, the column at fault and why."""

    row: int
    column: str
    message: str


def first_problem(bars: pl.DataFrame, *, now: dt.datetime | None) -> BarProblem | None:
    """The first bar of ``bars`` (columns of ``schema.PRICES``, some may be absent) that is refused.

    ``now`` None skips the date check (a replay of history at a fixed past time).
    """
    present = [c for c in PRICE_COLUMNS if c in bars.columns]
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for c in present:
        value = pl.col(c)
        checks.append((c, value.is_not_null() & ~value.is_finite(),
                       pl.format("not a finite number: {}", value.cast(pl.String))))
        checks.append((c, value.is_not_null() & value.is_finite() & (value <= 0),
                       pl.format("not a positive price: {}", value.cast(pl.String))))
    if "high" in present and "low" in present:
        checks.append(("high", pl.col("high") < pl.col("low"),
                       pl.format("high {} is below low {}", pl.col("high"), pl.col("low"))))
    if "volume" in bars.columns:
        checks.append(("volume", pl.col("volume") < 0, pl.format("negative volume {}", pl.col("volume"))))
    if "date" in bars.columns and now is not None:
        today = now.date()
        checks.append(("date", pl.col("date") > today,
                       pl.format("dated {}, after today ({})", pl.col("date"), pl.lit(str(today)))))
    if not checks or bars.height == 0:
        return None
    # the masks only (one boolean column each); the message is formatted for the one row found
    flagged = bars.select(*[mask.fill_null(value=False).alias(f"__bad{i}")
                            for i, (_, mask, _) in enumerate(checks)])
    firsts = flagged.select(pl.all().arg_true().first()).row(0)
    hits = [(row, i) for i, row in enumerate(firsts) if row is not None]
    if not hits:
        return None
    row, i = min(hits)
    column, _, text = checks[i]
    return BarProblem(int(row), column, str(bars.slice(row, 1).select(text).item()))
