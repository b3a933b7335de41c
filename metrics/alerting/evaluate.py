"""Vectorized, point-in-time evaluation of rules: features per (series, entity), then conditions.

``evaluate(rules, prices, facts, *, at)`` returns one row per (rule, entity): ``rule, entity,
holds, value, statement, period, data_at, age_days``. ``holds`` is null when the entity has no
data for the rule's series at all (missing data never resolves an alert); a condition over a
null feature is false.

Point in time: at ``at`` only bars dated on or before ``at``'s (UTC) date and facts published on or
before it are used. A series is a sequence of values per entity ordered by date: the bars of a
price column (entity = ticker), or the statements of a fact metric ordered by ``published`` (entity
= the canonical name; each statement is a ``fact_id``). Features (``metrics.alerting.rules.FEATURES``) are
computed from that sequence, in one polars pass for all entities:

- ``value``, ``prev_value``, ``change``, ``change_pct``, ``change_pct_5``/``_20`` (against the
  value 5/20 values earlier), ``sma_20/50/200`` (mean of the last N values, the latest included),
  ``high_52w``/``low_52w`` (values dated within the 364 days ending on the latest one; null unless
  the series reaches back that far), ``age_days`` (``at``'s date minus the latest value's date),
  ``stale_bars`` (price series: trading sessions of the ticker's exchange after the latest bar up to
  and including ``at``'s date; XNYS unless the ticker's suffix or ``calendars`` says otherwise);
- fact series also: ``value_usd``, ``period``, ``kind``, ``unit`` and ``revision_pct`` (against the
  previous statement of the same entity, metric and period).

Derived series: ``net_margin`` (net_income / revenue * 100, same entity and period) and
``capex_to_revenue`` (capex / revenue * 100) are statement series: a new statement of either part
makes a new derived statement (``statement`` = both fact ids joined by ``+``). ``market_cap``
(close * the latest shares_outstanding published on or before the bar) and ``price_to_sales``
(market_cap / revenue of the latest fiscal year, in the price's currency or both in USD) are bar
series.

Conditions are compiled once (``Evaluator``): numeric literals become parameters, so thousands of
rules of one shape (``value < 100``, ``value < 250``...) are evaluated as one vectorized expression.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from metrics.alerting.rules import COMMON_FEATURES, FACT_FEATURES, FEATURES, Rule, compile_condition
from metrics.errors import ConfigError
from metrics.log import get_logger
from metrics.store.calendars import calendar, exchange_of_ticker

log = get_logger(__name__)
Shape = Literal["prices", "facts"]
TICK_WINDOW_DAYS = 371  # calendar days of bars a tick needs (52w, sma_200); more fetched if short
SMA_BARS = 200
WINDOW_52W = 364
OUTPUT_COLUMNS: tuple[str, ...] = (
    "rule",
    "entity",
    "holds",
    "value",
    "statement",
    "period",
    "data_at",
    "age_days",
)
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


# ----------------------------------------------------------------------------------------- series


def _date_of(at: dt.datetime | dt.date) -> dt.date:
    if isinstance(at, dt.datetime):
        return (at.astimezone(dt.UTC) if at.tzinfo else at).date()
    return at


def _conform_series(lf: pl.LazyFrame) -> pl.LazyFrame:
    names = lf.collect_schema().names()
    return lf.select(
        (pl.col(c) if c in names else pl.lit(None)).cast(t).alias(c) for c, t in _SERIES_COLS.items()
    )


def price_series(
    prices: pl.LazyFrame, column: str, *, end: dt.date | None = None, start: dt.date | None = None
) -> pl.LazyFrame:
    """Bars of ``prices.<column>`` as a series: entity (ticker), date, value (one filter pass)."""
    keep = pl.col(column).is_not_null() & pl.col("ticker").is_not_null() & pl.col("date").is_not_null()
    if end is not None:
        keep = keep & (pl.col("date") <= end)
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
        lf = lf.filter(pl.col("published") <= end)
    # one row per statement, however often it was stored
    lf = lf.unique("fact_id", keep="last", maintain_order=True)
    return lf.sort("published", "ingested_at", "fact_id", nulls_last=False)


def fact_series(facts: pl.LazyFrame, metric: str, *, end: dt.date | None = None) -> pl.LazyFrame:
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
    bars = prices if end is None else prices.filter(pl.col("date") <= end)
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
        return price_series(prices, name, end=end, start=start)
    if kind == "facts":
        return fact_series(facts, name, end=end)
    if name == "net_margin":
        return _ratio_series(facts, "net_income", "revenue", end)
    if name == "capex_to_revenue":
        return _ratio_series(facts, "capex", "revenue", end)
    if name in ("market_cap", "price_to_sales"):
        return _market_cap(prices, facts, end, start, per_sales=name == "price_to_sales")
    raise ValueError(f"unknown series {rule_series!r}")


# --------------------------------------------------------------------------------------- features


def _pct(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b != 0).then((a / b - 1.0) * 100.0)


def history_features(series: pl.LazyFrame, shape: Shape, only: Iterable[str] | None = None) -> pl.LazyFrame:
    """Every row of ``series`` with its features as of that row (no ``age_days``/``stale_bars``).

    Rows are sorted by (entity, date); a statement series keeps the published order. ``only``
    limits the computed features to those named (the others are null), for speed.
    """
    v, g = pl.col("value"), "entity"
    lf = series.sort("entity", "date", maintain_order=True)
    prev = v.shift(1).over(g)
    start = pl.col("date").first().over(g)
    has_year = start <= pl.col("date") - pl.duration(days=WINDOW_52W - 1)
    cols = [
        prev.alias("prev_value"),
        (v - prev).alias("change"),
        _pct(v, prev).alias("change_pct"),
        _pct(v, v.shift(5).over(g)).alias("change_pct_5"),
        _pct(v, v.shift(20).over(g)).alias("change_pct_20"),
        v.rolling_mean(20).over(g).alias("sma_20"),
        v.rolling_mean(50).over(g).alias("sma_50"),
        v.rolling_mean(SMA_BARS).over(g).alias("sma_200"),
        pl.when(has_year).then(v.rolling_max_by("date", f"{WINDOW_52W}d").over(g)).alias("high_52w"),
        pl.when(has_year).then(v.rolling_min_by("date", f"{WINDOW_52W}d").over(g)).alias("low_52w"),
    ]
    if shape == "facts":
        per = ["entity", "period"]
        cols.append(
            pl.when(pl.col("period").is_not_null()).then(_pct(v, v.shift(1).over(per))).alias("revision_pct")
        )
    else:
        cols.append(pl.lit(None, pl.Float64).alias("revision_pct"))
    if only is not None:
        wanted = set(only)
        cols = [
            c if c.meta.output_name() in wanted else pl.lit(None, pl.Float64).alias(c.meta.output_name())
            for c in cols
        ]
    return lf.with_columns(cols)


@functools.cache
def _sessions(mic: str) -> np.ndarray:
    """Session dates of an exchange calendar (datetime64[D]); empty (weekdays) if it is unknown."""
    try:
        return calendar(mic).sessions
    except ConfigError as e:  # unknown MIC: weekdays stand in
        log.warning("evaluate.calendar_unknown", calendar=mic, error=str(e))
        return np.array([], dtype="datetime64[D]")


def sessions_between(mic: str, after: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Number of sessions of ``mic`` in (after, upto] element-wise (datetime64[D] arrays)."""
    sess = _sessions(mic)
    a = after.astype("datetime64[D]")
    b = upto.astype("datetime64[D]")
    if len(sess) == 0 or (a.size and (a.min() < sess[0] or b.max() > sess[-1])):
        return np.busday_count(a + 1, b + 1).astype(np.int64)
    counts: np.ndarray = np.searchsorted(sess, b, side="right") - np.searchsorted(sess, a, side="right")
    return counts.astype(np.int64)


def _stale_bars(
    entities: pl.Series, data_at: pl.Series, at_date: pl.Series | dt.date, calendars: Mapping[str, str] | None
) -> pl.Series:
    """Sessions of each entity's exchange in (data_at, at_date]: the MIC from ``calendars`` (ticker ->
    MIC), else from the ticker's Yahoo suffix, else XNYS."""
    mic_of = {
        t: calendars[t] if calendars and t in calendars else exchange_of_ticker(t)
        for t in entities.unique().to_list()
    }
    mics = entities.replace_strict(mic_of, return_dtype=pl.String).to_numpy()
    after = data_at.to_numpy().astype("datetime64[D]")
    if isinstance(at_date, dt.date):
        upto = np.full(len(after), np.datetime64(at_date, "D"))
    else:
        upto = at_date.to_numpy().astype("datetime64[D]")
    out = np.zeros(len(after), dtype=np.int64)
    for mic in set(mic_of.values()):
        idx = np.nonzero(mics == mic)[0]
        out[idx] = sessions_between(mic, after[idx], upto[idx])
    return pl.Series("stale_bars", out, dtype=pl.Int64)


def _finish(
    latest: pl.DataFrame,
    shape: Shape,
    at_date: dt.date,
    calendars: Mapping[str, str] | None,
    *,
    stale: bool = True,
) -> pl.DataFrame:
    df = latest.with_columns(age_days=(pl.lit(at_date) - pl.col("date")).dt.total_days().cast(pl.Int64))
    if shape == "prices" and stale and df.height:
        df = df.with_columns(_stale_bars(df["entity"], df["date"], at_date, calendars))
    else:
        df = df.with_columns(stale_bars=pl.lit(None, pl.Int64))
    return df.rename({"date": "data_at"})


def tick_features(
    series: str,
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    at: dt.datetime | dt.date,
    shape: Shape,
    calendars: Mapping[str, str] | None = None,
    stale: bool = True,
) -> pl.DataFrame:
    """Features of ``series`` for every entity at ``at``: one row per entity (point in time).

    ``stale=False`` skips ``stale_bars`` (left null), which needs the exchange calendars.
    """
    at_date = _date_of(at)
    if shape == "facts":
        hist = history_features(series_frame(series, prices, facts, end=at_date), shape).collect()
        latest = hist.group_by("entity", maintain_order=True).last()
        return _finish(latest, shape, at_date, calendars, stale=stale)
    cutoff = at_date - dt.timedelta(days=TICK_WINDOW_DAYS)
    window = series_frame(series, prices, facts, end=at_date, start=cutoff).collect()
    latest = latest_bar_features(window)
    # tickers with too few bars in the window (gaps, or history before it): add their older bars
    short = latest.filter(
        (pl.col("__n") < SMA_BARS + 1) | (pl.col("__first") > at_date - dt.timedelta(days=WINDOW_52W))
    )["entity"]
    if short.len():
        older = (
            series_frame(series, prices, facts, end=cutoff - dt.timedelta(days=1))
            .filter(pl.col("entity").is_in(short.implode()))
            .sort("entity", "date")
            .group_by("entity", maintain_order=True)
            .tail(SMA_BARS + 1)
            .collect()
        )
        if older.height:
            redo = older["entity"].unique().implode()
            again = latest_bar_features(pl.concat([older, window.filter(pl.col("entity").is_in(redo))]))
            latest = pl.concat([latest.filter(~pl.col("entity").is_in(redo)), again])
    return _finish(latest.drop("__n", "__first"), shape, at_date, calendars, stale=stale)


def _grouped(window: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """``window`` with each entity's rows contiguous and in date order (sorted only if needed),
    and the run id of each row."""
    ids = window["entity"].rle_id().to_numpy()
    if window.height < 2:
        return window, ids
    d = window["date"].to_physical().to_numpy()
    ends = np.append(np.flatnonzero(np.diff(ids)), len(ids) - 1)
    contiguous = window["entity"].gather(ends).n_unique() == len(ends)
    if contiguous and bool(np.all((np.diff(d) > 0) | (np.diff(ids) != 0))):
        return window, ids
    window = window.sort("entity", "date")
    return window, window["entity"].rle_id().to_numpy()


def _segment(fn: np.ufunc, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``fn`` reduced over v[lo:hi] per segment (each non-empty)."""
    idx = np.empty(2 * len(lo), dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    if len(idx) and idx[-1] == len(v):  # reduceat takes the last segment to the end by itself
        idx = idx[:-1]
    return np.asarray(fn.reduceat(v, idx)[0::2])


def latest_bar_features(window: pl.DataFrame) -> pl.DataFrame:
    """Features at the latest row of each entity of a bar series (entity, date, value), in numpy.

    The same numbers as ``history_features`` at each entity's last row, without computing them for
    every row (a tick needs only the latest).
    """
    if window.height == 0:
        return (
            history_features(window.lazy(), "prices")
            .collect()
            .with_columns(__n=pl.lit(None, pl.Int64), __first=pl.lit(None, pl.Date))
        )
    w, ids = _grouped(window)
    v = w["value"].to_numpy()
    d = w["date"].to_physical().to_numpy().astype(np.int64)
    ends = np.append(np.flatnonzero(np.diff(ids)), len(ids) - 1)
    starts = np.concatenate(([0], ends[:-1] + 1))
    n = ends - starts + 1

    def back(k: int) -> np.ndarray:
        out = np.full(len(ends), np.nan)
        ok = n > k
        out[ok] = v[ends[ok] - k]
        return out

    def sma(k: int) -> np.ndarray:
        out = np.full(len(ends), np.nan)
        ok = n >= k
        if ok.any():
            out[ok] = _segment(np.add, v, ends[ok] - k + 1, ends[ok] + 1) / k
        return out

    last_d = d[ends]
    in_year = d > np.repeat(last_d, n) - WINDOW_52W
    year_n = np.bincount(ids, weights=in_year, minlength=len(ends)).astype(np.int64)
    has_year = d[starts] <= last_d - (WINDOW_52W - 1)
    lo52, hi52 = ends - year_n + 1, ends + 1
    high = np.where(has_year, _segment(np.maximum, v, lo52, hi52), np.nan)
    low = np.where(has_year, _segment(np.minimum, v, lo52, hi52), np.nan)
    value = v[ends]
    prev, v5, v20 = back(1), back(5), back(20)

    def pct(b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b != 0, (value / b - 1.0) * 100.0, np.nan)

    df = pl.DataFrame(
        {
            "entity": w["entity"].gather(ends),
            "date": w["date"].gather(ends),
            "value": value,
            "prev_value": prev,
            "change": value - prev,
            "change_pct": pct(prev),
            "change_pct_5": pct(v5),
            "change_pct_20": pct(v20),
            "sma_20": sma(20),
            "sma_50": sma(50),
            "sma_200": sma(SMA_BARS),
            "high_52w": high,
            "low_52w": low,
            "__n": n,
            "__first": w["date"].gather(starts),
        },
        nan_to_null=True,
    )
    return df.with_columns(revision_pct=pl.lit(None, pl.Float64))


# ------------------------------------------------------------------------------------- conditions

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\w.])")


def templatize(condition: str) -> tuple[str, tuple[float, ...]]:
    """``"value < 100 and age_days > 4"`` -> (``"value < __p0 and age_days > __p1"``, (100.0, 4.0)).

    Numbers inside quoted strings are left alone.
    """
    params: list[float] = []

    def sub(m: re.Match[str]) -> str:
        params.append(float(m.group(1)))
        return f"__p{len(params) - 1}"

    parts = condition.split("'")
    out = [p if i % 2 else _NUMBER.sub(sub, p) for i, p in enumerate(parts)]
    return "'".join(out), tuple(params)


@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    expr: pl.Expr
    nparams: int


class Evaluator:
    """Rules compiled once; ``evaluate`` runs a tick for all of them."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.templates: list[_Template] = []
        index: dict[str, int] = {}
        rows: list[dict[str, object]] = []
        self.max_params = 0
        for rule in self.rules:
            text, params = templatize(rule.condition)
            if text not in index:  # a new shape of condition: compile it once
                schema = {**FEATURES, **{f"__p{i}": pl.Float64() for i in range(len(params))}}
                try:
                    expr = pl.sql_expr(text)
                    pl.DataFrame(schema=schema).select(expr)
                except Exception:  # a literal that must stay literal (e.g. round(value, 2))
                    text, params = rule.condition, ()
                    expr = compile_condition(text, rule.shape)
                if text not in index:
                    index[text] = len(self.templates)
                    self.templates.append(_Template(text, expr, len(params)))
            self.max_params = max(self.max_params, len(params))
            rows.append(
                {
                    "rule": rule.name,
                    "series": rule.series,
                    "shape": rule.shape,
                    "tmpl": index[text],
                    "params": list(params),
                    "given": list(rule.entities) if rule.entities is not None else None,
                }
            )
        rule_frame = pl.DataFrame(
            rows,
            schema={
                "rule": pl.String,
                "series": pl.String,
                "shape": pl.String,
                "tmpl": pl.Int32,
                "params": pl.List(pl.Float64),
                "given": pl.List(pl.String),
            },
        )
        self.rule_frame = rule_frame.with_columns(
            pl.col("params").list.get(i, null_on_oob=True).alias(f"__p{i}") for i in range(self.max_params)
        ).drop("params")
        self._every = self.rule_frame.filter(pl.col("given").is_null()).drop("given")
        self._given = self.rule_frame.filter(pl.col("given").is_not_null()).explode("given")
        self._holds = pl.lit(None, pl.Boolean)
        if self.templates:
            chain: Any = pl.when(pl.col("tmpl") == 0).then(self.templates[0].expr)
            for i, t in enumerate(self.templates[1:], start=1):
                chain = chain.when(pl.col("tmpl") == i).then(t.expr)
            self._holds = pl.when(pl.col("__present")).then(chain.fill_null(False))
        self.series = sorted({(r.series, r.shape) for r in self.rules})
        self._stale_series = {r.series for r in self.rules if "stale_bars" in r.condition + r.summary}
        self._pairs_cache: tuple[tuple[int, ...], pl.DataFrame] | None = None

    def features(
        self,
        prices: pl.LazyFrame,
        facts: pl.LazyFrame,
        *,
        at: dt.datetime | dt.date,
        calendars: Mapping[str, str] | None = None,
    ) -> pl.DataFrame:
        """Features of every series the rules use, stacked: series, entity, data_at, FEATURES..."""
        frames = []
        for series, shape in self.series:
            stale = series in self._stale_series
            f = tick_features(series, prices, facts, at=at, shape=shape, calendars=calendars, stale=stale)
            frames.append(f.with_columns(series=pl.lit(series)))
        return _stack_features(frames)

    def evaluate(
        self,
        prices: pl.LazyFrame,
        facts: pl.LazyFrame,
        *,
        at: dt.datetime | dt.date,
        names: Mapping[str, str] | None = None,
        calendars: Mapping[str, str] | None = None,
        with_features: bool = False,
    ) -> pl.DataFrame:
        """One row per (rule, entity) at ``at``; see the module docstring."""
        feats = self.features(prices, facts, at=at, calendars=calendars)
        ticker_of = _name_map(facts, names)
        return self.apply(feats, ticker_of, with_features=with_features)

    def apply(
        self, feats: pl.DataFrame, ticker_of: pl.DataFrame, *, with_features: bool = False
    ) -> pl.DataFrame:
        """Evaluate the compiled conditions over stacked features (``features``)."""
        pairs = self._pairs(feats, ticker_of)
        df = pairs.join(
            feats.with_columns(__present=pl.lit(True)),
            on=["series", "entity"],
            how="left",
            maintain_order="left",
        )
        cols = [*OUTPUT_COLUMNS, "series"]
        if with_features:
            cols += [c for c in FEATURES if c not in cols]
        return df.with_columns(holds=self._holds).select(cols)

    def _pairs(self, feats: pl.DataFrame, ticker_of: pl.DataFrame) -> pl.DataFrame:
        """(rule, entity) pairs: every entity of the series for rules without ``entities``, else the
        rule's entities mapped to the series' keys (tickers for bar series, names for statements).

        Cached while the entities and the name map stay the same (successive ticks)."""
        key = (
            feats.height,
            int(feats.select(pl.struct("series", "entity").hash(7).sum()).item() or 0),
            ticker_of.height,
            int(ticker_of.select(pl.struct("entity", "ticker").hash(7).sum()).item() or 0),
        )
        cached = self._pairs_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        pairs = self._build_pairs(feats, ticker_of)
        self._pairs_cache = (key, pairs)
        return pairs

    def _build_pairs(self, feats: pl.DataFrame, ticker_of: pl.DataFrame) -> pl.DataFrame:
        every = self._every.join(
            feats.select("series", "entity"), on="series", how="inner", maintain_order="left"
        )
        given = self._given
        if given.height:
            name_of = ticker_of.unique("ticker", keep="first").select(
                pl.col("ticker").alias("given"), pl.col("entity").alias("__name")
            )
            given = (
                given.join(
                    ticker_of.rename({"entity": "given", "ticker": "__ticker"}),
                    on="given",
                    how="left",
                    maintain_order="left",
                )
                .join(name_of, on="given", how="left", maintain_order="left")
                .with_columns(
                    entity=pl.when(pl.col("shape") == "prices")
                    .then(pl.coalesce("__ticker", "given"))
                    .otherwise(pl.coalesce("__name", "given"))
                )
                .drop("given", "__ticker", "__name")
                .unique(["rule", "entity"], keep="first", maintain_order=True)
            )
        else:
            given = given.drop("given").with_columns(entity=pl.lit(None, pl.String))
        return pl.concat([every.select(given.columns), given])


def _stack_features(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    schema = {
        "series": pl.String(),
        "entity": pl.String(),
        "data_at": pl.Date(),
        "statement": pl.String(),
        **COMMON_FEATURES,
        **FACT_FEATURES,
    }
    conformed = [
        f.select((pl.col(c) if c in f.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items())
        for f in frames
    ]
    return pl.concat(conformed) if conformed else pl.DataFrame(schema=schema)


def _name_map(facts: pl.LazyFrame, names: Mapping[str, str] | None) -> pl.DataFrame:
    """entity name -> ticker pairs known from facts (and ``names``, e.g. the company registry)."""
    known = facts.select("entity", "ticker").drop_nulls().unique().collect()
    if names:
        extra = pl.DataFrame(
            {"entity": list(names), "ticker": list(names.values())},
            schema={"entity": pl.String, "ticker": pl.String},
        )
        known = pl.concat([known, extra])
    return known.unique("entity", keep="first", maintain_order=True)


def features(
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    rules: Sequence[Rule],
    *,
    at: dt.datetime | dt.date,
    calendars: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Features at ``at`` of every series ``rules`` use: series, entity, data_at, statement, FEATURES."""
    return Evaluator(rules).features(prices, facts, at=at, calendars=calendars)


def evaluate(
    rules: Sequence[Rule],
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    at: dt.datetime | dt.date,
    names: Mapping[str, str] | None = None,
    calendars: Mapping[str, str] | None = None,
    with_features: bool = False,
) -> pl.DataFrame:
    """Evaluate ``rules`` at ``at``: one row per (rule, entity); see the module docstring.

    ``names`` maps extra entity names to tickers (e.g. from the company registry); ``calendars``
    maps tickers to exchange MICs for ``stale_bars``.
    """
    return Evaluator(rules).evaluate(
        prices, facts, at=at, names=names, calendars=calendars, with_features=with_features
    )
