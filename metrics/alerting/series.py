"""A rule's series loaded from the store's frames, point in time.

A series is a sequence of values per entity ordered by date: the bars of a price column (entity =
ticker), or the statements of a fact metric ordered by ``published`` (entity = the canonical name;
each statement is a ``fact_id``). ``series_frame(name, prices, facts, end=D)`` gives the series
``name`` as known on day D (``metrics.store.pit``): columns ``entity, date, value, statement, period,
kind, unit, value_usd``.

Derived series: ``net_margin`` (net_income / revenue * 100, same entity and period) and
``capex_to_revenue`` (capex / revenue * 100) are statement series: a new statement of either part
makes a new derived statement (``statement`` = both fact ids joined by ``+``). ``market_cap``
(close * the latest shares_outstanding published on or before the bar) and ``price_to_sales``
(market_cap / revenue of the latest fiscal year, in the price's currency or both in USD) are bar
series.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.store.pit import known, known_on

_SERIES_COLS: dict[str, pl.DataType] = {
    "entity": pl.String(),
    "date": pl.Date(),
    "value": pl.Float64(),
    "statement": pl.String(),
    "period": pl.String(),
    "kind": pl.String(),
    "unit": pl.String(),
    "value_usd": pl.Float64(),
}


def _conform_series(lf: pl.LazyFrame) -> pl.LazyFrame:
    names = lf.collect_schema().names()
    return lf.select(
        (pl.col(c) if c in names else pl.lit(None)).cast(t).alias(c) for c, t in _SERIES_COLS.items()
    )


def _price_series(
    prices: pl.LazyFrame, column: str, *, end: dt.date | None = None, start: dt.date | None = None
) -> pl.LazyFrame:
    """Bars of ``prices.<column>`` as a series: entity (ticker), date, value (one filter pass)."""
    keep = pl.col(column).is_not_null() & pl.col("ticker").is_not_null() & pl.col("date").is_not_null()
    if end is not None:
        keep = keep & known_on("prices", end)
    if start is not None:
        keep = keep & (pl.col("date") >= start)
    return prices.filter(keep).select(
        pl.col("ticker").cast(pl.String).alias("entity"),
        pl.col("date").cast(pl.Date),
        pl.col(column).cast(pl.Float64).alias("value"),
    )


def _statements(facts: pl.LazyFrame, metric: str, end: dt.date | None) -> pl.LazyFrame:
    lf = facts.filter(
        (pl.col("metric") == metric)
        & pl.col("published").is_not_null()
        & pl.col("entity").is_not_null()
        & pl.col("value").is_not_null()
    )
    if end is not None:
        lf = known(lf, "facts", end)
    # one row per statement, however often it was stored
    lf = lf.unique("fact_id", keep="last", maintain_order=True)
    return lf.sort("published", "ingested_at", "fact_id", nulls_last=False)


def _fact_series(facts: pl.LazyFrame, metric: str, *, end: dt.date | None = None) -> pl.LazyFrame:
    """Statements of ``facts.<metric>`` published by ``end`` as a series (date = published)."""
    lf = _statements(facts, metric, end).select(
        "entity",
        pl.col("published").alias("date"),
        "value",
        pl.col("fact_id").alias("statement"),
        "period",
        "kind",
        "unit",
        "value_usd",
    )
    return _conform_series(lf)


def _ratio_series(facts: pl.LazyFrame, num: str, den: str, end: dt.date | None) -> pl.LazyFrame:
    """num / den * 100 per (entity, period); a new statement of either part is a new derived one."""

    def part(metric: str, tag: str) -> pl.LazyFrame:
        return (
            _statements(facts, metric, end)
            .filter(pl.col("period").is_not_null())
            .select(
                "entity",
                "period",
                "published",
                pl.col("value").alias(f"{tag}_v"),
                pl.col("value_usd").alias(f"{tag}_usd"),
                pl.col("unit").alias(f"{tag}_unit"),
                pl.col("fact_id").alias(f"{tag}_id"),
            )
        )

    n, d = part(num, "n"), part(den, "d")
    events = (
        pl.concat([n.select("entity", "period", "published"), d.select("entity", "period", "published")])
        .unique()
        .sort("published")
    )
    joined = (
        events.join_asof(
            n, on="published", by=["entity", "period"], strategy="backward", check_sortedness=False
        )
        .join_asof(d, on="published", by=["entity", "period"], strategy="backward", check_sortedness=False)
        .drop_nulls(["n_v", "d_v"])
    )
    ratio = (
        pl.when(pl.col("n_unit") == pl.col("d_unit"))
        .then(pl.col("n_v") / pl.col("d_v"))
        .otherwise(pl.col("n_usd") / pl.col("d_usd"))
        * 100
    )
    lf = (
        joined.with_columns(value=ratio, statement=pl.col("n_id") + "+" + pl.col("d_id"))
        .filter(pl.col("value").is_finite())
        .select(
            "entity",
            pl.col("published").alias("date"),
            "value",
            "statement",
            "period",
            pl.lit("derived").alias("kind"),
            pl.lit("pct").alias("unit"),
        )
        .unique(["entity", "statement"], keep="first", maintain_order=True)
    )
    return _conform_series(lf)


def _market_cap(
    prices: pl.LazyFrame, facts: pl.LazyFrame, end: dt.date | None, start: dt.date | None, *, per_sales: bool
) -> pl.LazyFrame:
    bars = prices if end is None else known(prices, "prices", end)
    if start is not None:
        bars = bars.filter(pl.col("date") >= start)
    bars = bars.select("ticker", "date", "close", "currency").drop_nulls(["close"]).sort("date")
    shares = (
        _statements(facts, "shares_outstanding", end)
        .filter(pl.col("ticker").is_not_null())
        .select("ticker", pl.col("published").alias("date"), pl.col("value").alias("shares"))
    )
    lf = bars.join_asof(
        shares, on="date", by="ticker", strategy="backward", check_sortedness=False
    ).with_columns(mcap=pl.col("close") * pl.col("shares"))
    if per_sales:
        revenue = (
            _statements(facts, "revenue", end)
            .filter(
                pl.col("ticker").is_not_null()
                & pl.col("period").str.starts_with("FY")
                & (pl.col("kind") == "actual")
            )
            .select(
                "ticker",
                pl.col("published").alias("date"),
                pl.col("value").alias("rev"),
                pl.col("unit").alias("rev_unit"),
                pl.col("value_usd").alias("rev_usd"),
            )
        )
        rev = (
            pl.when(pl.col("rev_unit") == pl.col("currency"))
            .then(pl.col("rev"))
            .when(pl.col("currency") == "USD")
            .then(pl.col("rev_usd"))
        )
        lf = lf.join_asof(
            revenue, on="date", by="ticker", strategy="backward", check_sortedness=False
        ).with_columns(value=pl.col("mcap") / rev)
    else:
        lf = lf.with_columns(value=pl.col("mcap"))
    lf = lf.select(pl.col("ticker").alias("entity"), "date", "value").filter(pl.col("value").is_finite())
    return _conform_series(lf.sort("entity", "date"))


def series_frame(
    rule_series: str,
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    end: dt.date | None = None,
    start: dt.date | None = None,
) -> pl.LazyFrame:
    """The series named ``rule_series`` (``prices.close``, ``facts.capex_guidance``, ``derived.x``).

    ``start`` only trims bar series (statement series always start at the first statement).
    """
    kind, _, name = rule_series.partition(".")
    if kind == "prices":
        return _price_series(prices, name, end=end, start=start)
    if kind == "facts":
        return _fact_series(facts, name, end=end)
    if name == "net_margin":
        return _ratio_series(facts, "net_income", "revenue", end)
    if name == "capex_to_revenue":
        return _ratio_series(facts, "capex", "revenue", end)
    if name in ("market_cap", "price_to_sales"):
        return _market_cap(prices, facts, end, start, per_sales=name == "price_to_sales")
    raise ValueError(f"unknown series {rule_series!r}")
