"""Point in time: what is known on day D, defined once.

A fact is known on day D when it was published on or before D; a price bar when it is dated on or
before D. ``known_on`` is that definition, as a polars condition; everything that reads "as of D"
goes through it:

- the store's ``facts_as_of`` / ``prices_as_of`` (``metrics facts --as-of``) use ``latest_facts`` /
  ``latest_bars``;
- rule evaluation (``metrics.alerting.series``) loads every series with ``known``;
- the backtest joins its features to each evaluation day with ``as_of_each_day``, whose as-of join
  takes its day boundary from ``known_on`` (so changing the definition changes all three users).

Pure functions over polars frames; days are dates, and a time is turned into its UTC date by
``day_of``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl

Dataset = Literal["facts", "prices"]
KNOWN_BY: dict[str, str] = {"facts": "published", "prices": "date"}  # the column that dates a row
FACT_KEY: tuple[str, ...] = ("entity", "metric", "period")  # one statement is current per key


def day_of(at: dt.datetime | dt.date) -> dt.date:
    """The (UTC) date of ``at``; a naive datetime is taken as UTC."""
    if isinstance(at, dt.datetime):
        return (at.astimezone(dt.UTC) if at.tzinfo else at).date()
    return at


def known_on(dataset: Dataset, day: dt.date) -> pl.Expr:
    """True for the rows of ``dataset`` known on ``day``: facts published, bars dated, on or before it."""
    return pl.col(KNOWN_BY[dataset]) <= day


def known(lf: pl.LazyFrame, dataset: Dataset, day: dt.date) -> pl.LazyFrame:
    """The rows of ``lf`` (a ``dataset`` frame) known on ``day``."""
    return lf.filter(known_on(dataset, day))


def latest_facts(facts: pl.LazyFrame, day: dt.date) -> pl.LazyFrame:
    """Facts as known on ``day``: the latest statement per (entity, metric, period) (latest
    ``published``, then latest ``ingested_at``, then ``fact_id``)."""
    return (
        known(facts, "facts", day)
        .sort(["published", "ingested_at", "fact_id"], nulls_last=False)
        .unique(subset=list(FACT_KEY), keep="last", maintain_order=True)
    )


def latest_bars(prices: pl.LazyFrame, day: dt.date) -> pl.LazyFrame:
    """The latest bar known on ``day`` of every ticker of ``prices`` (one row per ticker)."""
    seen = known(prices, "prices", day)
    return seen.filter(pl.col("date") == pl.col("date").max().over("ticker"))


def reach_days(dataset: Dataset) -> int:
    """How many days after D a row may be dated and still be known on D, read from ``known_on``
    (0: rows of D itself are known on D; -1 they would be known only the day after)."""
    probe = dt.date(2000, 1, 3)
    column = KNOWN_BY[dataset]
    dated = pl.DataFrame({column: [probe + dt.timedelta(days=k) for k in range(-7, 8)]})
    latest = dated.filter(known_on(dataset, probe))[column].max()
    if not isinstance(latest, dt.date):
        raise ValueError(f"known_on({dataset!r}) knows no row dated within a week of the day")
    return (latest - probe).days


def as_of_each_day(
    days: pl.DataFrame, rows: pl.DataFrame, dataset: Dataset, *, day: str, dated: str, by: str
) -> pl.DataFrame:
    """For each row of ``days`` (column ``day``), the latest row of ``rows`` (dated by ``dated``) of
    the same ``by`` known on that day; nulls where none is. Both frames sorted by (``by``, date).

    One as-of join for all days, on the day each row becomes known (its date moved by
    ``reach_days``), so it follows ``known_on`` rather than restating it.
    """
    known_from = pl.col(dated) - pl.duration(days=reach_days(dataset))
    return days.join_asof(
        rows.with_columns(known_from.alias("__known_from")),
        left_on=day,
        right_on="__known_from",
        by=by,
        strategy="backward",
        check_sortedness=False,
    ).drop("__known_from")
