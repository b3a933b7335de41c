"""Vectorized, point-in-time evaluation of rules: features per (series, entity), then conditions.

``evaluate(rules, prices, facts, *, at)`` returns one row per (rule, entity): ``rule, entity,
holds, value, statement, period, data_at, age_days``. ``holds`` is null when the entity has no
data for the rule's series at all (missing data never resolves an alert); a condition over a
null feature is false.

Point in time: at ``at`` only what is known on ``at``'s (UTC) date is used (``metrics.store.pit``:
bars dated on or before it, facts published on or before it). Each series the rules use is loaded
by ``metrics.alerting.series`` and its features computed by ``metrics.alerting.features``, in one
pass for all entities (``_tick_features``).

Bars may be given as a LazyFrame or as a function ``bars(since)`` giving those dated on or after
``since`` (all of them for None), e.g. ``lambda since: store.scan("prices", since=since)``: a tick
then reads only the data files of its window (the last two year partitions) instead of filtering
all of them.

Conditions are compiled once (``Evaluator``): numeric literals become parameters, so thousands of
rules of one shape (``value < 100``, ``value < 250``...) are evaluated as one vectorized expression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from metrics.alerting.features import (
    Shape,
    bar_features_at,
    bars_needed,
    days_needed,
    history_features,
    latest_bar_features,
    with_age_and_stale_bars,
    with_age_and_stale_bars_many,
)
from metrics.alerting.rules import (
    COMMON_FEATURES,
    FACT_FEATURES,
    FEATURES,
    Rule,
    compile_condition,
    templatize,
)
from metrics.alerting.series import series_frame
from metrics.store.pit import day_of, known_on

# calendar days of bars a tick reads (the widest day window and a week more); more read if short
TICK_WINDOW_DAYS = days_needed() + 7
# the bars dated on or after a day (None: all), e.g. read from the store's recent files only
BarsSince = Callable[[dt.date | None], pl.LazyFrame]
Bars = pl.LazyFrame | BarsSince
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


def _bars(prices: Bars, since: dt.date | None) -> pl.LazyFrame:
    """The bars of ``prices`` a read from ``since`` needs (all of a LazyFrame: the series filters)."""
    return prices if isinstance(prices, pl.LazyFrame) else prices(since)


def _tick_features(
    series: str,
    prices: Bars,
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
    at_date = day_of(at)
    if shape == "facts":
        frame = series_frame(series, _bars(prices, None), facts, end=at_date)
        hist = history_features(frame, shape).collect()
        latest = hist.group_by("entity", maintain_order=True).last()
        return with_age_and_stale_bars(latest, shape, at_date, calendars, stale=stale)
    cutoff = at_date - dt.timedelta(days=TICK_WINDOW_DAYS)
    window = series_frame(series, _bars(prices, cutoff), facts, end=at_date, start=cutoff).collect()
    return _window_features(series, window, prices, facts, at_date=at_date, shape=shape, calendars=calendars,
                            stale=stale)


def _window_features(
    series: str,
    window: pl.DataFrame,
    prices: Bars,
    facts: pl.LazyFrame,
    *,
    at_date: dt.date,
    shape: Shape,
    calendars: Mapping[str, str] | None,
    stale: bool,
) -> pl.DataFrame:
    """``_tick_features`` of a bar series at ``at_date`` from its ``window`` (the series from
    ``TICK_WINDOW_DAYS`` before ``at_date`` up to it), older bars read for entities it is short of."""
    latest = _window_latest(series, window, prices, facts, at_date=at_date)
    return with_age_and_stale_bars(latest, shape, at_date, calendars, stale=stale)


def _window_latest(
    series: str, window: pl.DataFrame, prices: Bars, facts: pl.LazyFrame, *, at_date: dt.date
) -> pl.DataFrame:
    """``_window_features`` before ``age_days`` and ``stale_bars``, one row per entity, sorted."""
    cutoff = at_date - dt.timedelta(days=TICK_WINDOW_DAYS)
    latest = latest_bar_features(window)
    # tickers with too few bars in the window (gaps, or history before it): add their older bars
    short = latest.filter(
        (pl.col("__n") < bars_needed()) | (pl.col("__first") > at_date - dt.timedelta(days=days_needed()))
    )["entity"]
    if short.len():
        older = (
            series_frame(series, _bars(prices, None), facts, end=cutoff - dt.timedelta(days=1))
            .filter(pl.col("entity").is_in(short.implode()))
            .sort("entity", "date")
            .group_by("entity", maintain_order=True)
            .tail(bars_needed())
            .collect()
        )
        if older.height:
            redo = older["entity"].unique().implode()
            again = latest_bar_features(pl.concat([older, window.filter(pl.col("entity").is_in(redo))]))
            latest = pl.concat([latest.filter(~pl.col("entity").is_in(redo)), again])
    # in entity order (as the store's files give them), whatever order the bars came in
    return latest.drop("__n", "__first").sort("entity", maintain_order=True)


def _window_latest_each(
    series: str, prices: Bars, facts: pl.LazyFrame, days: Sequence[dt.date]
) -> list[pl.DataFrame]:
    """``_window_latest`` at each of ``days``, one close at a time (the reference of
    ``_window_latest_many``; the bars of every window read once, from the earliest window's first day)."""
    cutoffs = [d - dt.timedelta(days=TICK_WINDOW_DAYS) for d in days]
    bars = _bars(prices, min(cutoffs, default=None))
    return [
        _window_latest(series, series_frame(series, bars, facts, end=d, start=c).collect(), prices, facts,
                       at_date=d)
        for d, c in zip(days, cutoffs, strict=True)
    ]


def _window_latest_many(
    series: str, prices: Bars, facts: pl.LazyFrame, days: Sequence[dt.date]
) -> list[pl.DataFrame]:
    """``_window_latest_each``'s frames (rows sorted by entity), computed in one pass for all of
    ``days``: the bars from the earliest window's first day to the latest day are read and sorted
    once (with the older bars of the entities short of history at some day, as ``_window_latest``
    adds them), then, for every (day, entity), the rows that day's window reads are found by binary
    search (its latest bar on or before the day and its first bar in the window, or the
    ``bars_needed`` before it when short) and the features of all windows computed at once
    (``bar_features_at``: the same numbers). A derived series whose bars depend on the day the
    facts are known as of (a statement stored under one id with several publication dates) is
    computed one day at a time."""
    if not days:
        return []
    if not _bars_known_once(series, facts):
        return _window_latest_each(series, prices, facts, days)
    day = np.array(days, dtype="datetime64[D]").astype(np.int64)
    cutoff = day - TICK_WINDOW_DAYS
    lo, hi = min(days) - dt.timedelta(days=TICK_WINDOW_DAYS), max(days)
    frame = series_frame(series, _bars(prices, lo), facts, end=hi, start=lo).collect()
    frame = frame.sort("entity", "date", maintain_order=True)
    point, first_row, start, last = _windows(frame, day, cutoff)
    short = (last - start + 1 < bars_needed()) | (
        frame["date"].to_physical().to_numpy()[start] > day[point] - days_needed())
    if short.any():  # their older bars (up to ``bars_needed`` before the earliest window) and again
        entities = frame["entity"].gather(start[short]).unique()
        older = (
            series_frame(series, _bars(prices, None), facts, end=lo - dt.timedelta(days=1))
            .filter(pl.col("entity").is_in(entities.implode()))
            .sort("entity", "date", maintain_order=True)
            .group_by("entity", maintain_order=True)
            .tail(bars_needed())
            .collect()
        )
        if older.height:
            frame = pl.concat([older, frame]).sort("entity", "date", maintain_order=True)
            point, first_row, start, last = _windows(frame, day, cutoff)
            short = (last - start + 1 < bars_needed()) | (
                frame["date"].to_physical().to_numpy()[start] > day[point] - days_needed())
    begin = np.where(short, np.maximum(first_row, start - bars_needed()), start)
    latest = bar_features_at(frame, begin, last).drop("__n", "__first")
    counts = np.bincount(point, minlength=len(days))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    return [latest.slice(int(offsets[i]), int(counts[i])) for i in range(len(days))]


def _windows(
    frame: pl.DataFrame, day: np.ndarray, cutoff: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The windows of every (day, entity) of ``frame`` (sorted by entity and date) with a bar in
    ``[cutoff, day]``, day by day and entity by entity: the day's index, the entity's first row, the
    window's first row and its last (the latest bar on or before the day)."""
    n = frame.height
    entity_no = frame["entity"].rle_id().to_numpy().astype(np.int64)
    date = frame["date"].to_physical().to_numpy().astype(np.int64)
    key = entity_no * (1 << 33) + (date + (1 << 31))           # ascending: sorted by entity, date
    firsts = np.flatnonzero(np.concatenate(([True], entity_no[1:] != entity_no[:-1]))) if n else \
        np.array([], dtype=np.int64)
    ents = np.arange(len(firsts), dtype=np.int64)
    base = ents[None, :] * (1 << 33) + (1 << 31)
    last = np.searchsorted(key, base + day[:, None], side="right") - 1
    start = np.searchsorted(key, base + cutoff[:, None], side="left")
    ok = last >= start
    point = np.broadcast_to(np.arange(len(day), dtype=np.int64)[:, None], ok.shape)[ok]
    first_row = np.broadcast_to(firsts[None, :], ok.shape)[ok]
    return point, first_row, start[ok], last[ok]


def _bars_known_once(series: str, facts: pl.LazyFrame) -> bool:
    """True when every bar of ``series`` known on a day is known, with the same value, on every
    later day (price columns; ``market_cap`` and ``price_to_sales`` unless a statement they read is
    stored under one ``fact_id`` with several publication dates: which of its rows is kept then
    depends on the day)."""
    if not series.startswith("derived.") or series.split(".", 1)[1] not in ("market_cap", "price_to_sales"):
        return True
    dup = (
        facts.filter(pl.col("metric").is_in(["shares_outstanding", "revenue"]))
        .group_by("fact_id")
        .agg(pl.col("published").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .select(pl.len())
        .collect()
        .item()
    )
    return int(dup) == 0


# ------------------------------------------------------------------------------------- conditions

@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    expr: pl.Expr
    nparams: int


class Evaluator:
    """Rules compiled once; ``evaluate`` runs a tick for all of them."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._templates: list[_Template] = []
        index: dict[str, int] = {}
        rows: list[dict[str, object]] = []
        self._max_params = 0
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
                    index[text] = len(self._templates)
                    self._templates.append(_Template(text, expr, len(params)))
            self._max_params = max(self._max_params, len(params))
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
        self._rule_frame = rule_frame.with_columns(
            pl.col("params").list.get(i, null_on_oob=True).alias(f"__p{i}") for i in range(self._max_params)
        ).drop("params")
        self._every = self._rule_frame.filter(pl.col("given").is_null()).drop("given")
        self._given = self._rule_frame.filter(pl.col("given").is_not_null()).explode("given")
        self._holds = pl.lit(None, pl.Boolean)
        if self._templates:
            chain: Any = pl.when(pl.col("tmpl") == 0).then(self._templates[0].expr)
            for i, t in enumerate(self._templates[1:], start=1):
                chain = chain.when(pl.col("tmpl") == i).then(t.expr)
            self._holds = pl.when(pl.col("__present")).then(chain.fill_null(False))
        self.series = sorted({(r.series, r.shape) for r in self.rules})
        self._stale_series = {r.series for r in self.rules if "stale_bars" in r.condition + r.summary}
        self._pairs_cache: tuple[tuple[int, ...], pl.DataFrame] | None = None

    def features(
        self,
        prices: Bars,
        facts: pl.LazyFrame,
        *,
        at: dt.datetime | dt.date,
        calendars: Mapping[str, str] | None = None,
    ) -> pl.DataFrame:
        """Features of every series the rules use, stacked: series, entity, data_at, FEATURES..."""
        frames = []
        for series, shape in self.series:
            stale = series in self._stale_series
            f = _tick_features(series, prices, facts, at=at, shape=shape, calendars=calendars, stale=stale)
            frames.append(f.with_columns(series=pl.lit(series)))
        return _stack_features(frames)

    def evaluate(
        self,
        prices: Bars,
        facts: pl.LazyFrame,
        *,
        at: dt.datetime | dt.date,
        names: Mapping[str, str] | None = None,
        calendars: Mapping[str, str] | None = None,
        with_features: bool = False,
    ) -> pl.DataFrame:
        """One row per (rule, entity) at ``at``; see the module docstring."""
        feats = self.features(prices, facts, at=at, calendars=calendars)
        ticker_of = name_map(facts, names)
        return self.apply(feats, ticker_of, with_features=with_features)

    def evaluate_many(
        self,
        prices: Bars,
        facts: pl.LazyFrame,
        ats: Sequence[dt.datetime | dt.date],
        *,
        names: Mapping[str, str] | None = None,
        calendars: Mapping[str, str] | None = None,
        with_features: bool = False,
    ) -> list[pl.DataFrame]:
        """``[self.evaluate(prices, facts, at=a, ...) for a in ats]``, the same frames, computed as a
        batch (a catch-up's replayed closes): the bars of every window are read once (from the
        earliest window's first day; each close's window is then filtered from them in memory), a
        statement series is computed once per set of statements known (the closes between two
        publications share it; only ``age_days`` moves) and the name map once."""
        days = [day_of(a) for a in ats]
        stacked: list[pl.DataFrame] = []
        for series, shape in self.series:
            stale = series in self._stale_series
            if shape == "facts":
                latest = _statement_latest_many(series, prices, facts, days)
            else:
                latest = _window_latest_many(series, prices, facts, days)
            frame = with_age_and_stale_bars_many(latest, shape, days, calendars, stale=stale)
            if frame is None:  # a case the batch does not cover: one evaluation per point
                return [self.evaluate(prices, facts, at=a, names=names, calendars=calendars,
                                      with_features=with_features) for a in ats]
            stacked.append(frame.with_columns(series=pl.lit(series)))
        # each point's features as ``features`` stacks them (series after series), the points in order
        feats = _stack_features(stacked, extra={"__c": pl.Int64()}).sort("__c", maintain_order=True)
        counts = feats.group_by("__c").len().sort("__c")
        height = dict(zip(counts["__c"].to_list(), counts["len"].to_list(), strict=True))
        return self._apply_many(feats, [height.get(i, 0) for i in range(len(days))], name_map(facts, names),
                                with_features=with_features)

    def _apply_many(
        self, feats: pl.DataFrame, heights: Sequence[int], ticker_of: pl.DataFrame, *, with_features: bool
    ) -> list[pl.DataFrame]:
        """``apply`` at every point of ``feats`` (stacked, ``__c`` the point, ``heights`` its rows):
        each point's (rule, entity) pairs as ``pairs`` gives them (its cache kept as ticks in turn
        would keep it), then the conditions evaluated for all points at once."""
        pairs: list[pl.DataFrame] = []
        offset = 0
        for h in heights:
            pairs.append(self.pairs(feats.slice(offset, h), ticker_of))
            offset += h
        cols = [*OUTPUT_COLUMNS, "series"]
        if with_features:
            cols += [c for c in FEATURES if c not in cols]
        present = feats.with_columns(__present=pl.lit(True))
        out: list[pl.DataFrame | None] = [None] * len(heights)
        i = 0
        while i < len(heights):  # runs of points sharing one pairs frame
            j = i
            while j < len(heights) and pairs[j] is pairs[i]:
                j += 1
            points = pl.DataFrame({"__c": list(range(i, j))}, schema={"__c": pl.Int64()})
            df = (
                points.join(pairs[i], how="cross", maintain_order="left_right")
                .join(present, on=["__c", "series", "entity"], how="left", maintain_order="left")
                .with_columns(holds=self._holds)
                .select(*cols, "__c")
            )
            parts = df.partition_by("__c", maintain_order=True, include_key=False, as_dict=True)
            empty = df.clear().drop("__c")
            for c in range(i, j):
                out[c] = parts.get((c,), empty)
            i = j
        return [o for o in out if o is not None]

    def apply(
        self, feats: pl.DataFrame, ticker_of: pl.DataFrame, *, with_features: bool = False
    ) -> pl.DataFrame:
        """Evaluate the compiled conditions over stacked features (``features``)."""
        pairs = self.pairs(feats, ticker_of)
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

    def pairs(self, feats: pl.DataFrame, ticker_of: pl.DataFrame) -> pl.DataFrame:
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


def _statement_latest_many(
    series: str, prices: Bars, facts: pl.LazyFrame, days: Sequence[dt.date]
) -> list[pl.DataFrame]:
    """``_tick_features`` of a statement series at each of ``days`` before ``age_days``: the series
    as known on a day depends on the day only through which facts are known then (``known_on``,
    monotone in the day: their number tells the set), so days knowing the same facts share one."""
    if not days:
        return []
    counts = facts.select(known_on("facts", d).sum().alias(str(i)) for i, d in enumerate(days))
    known = counts.collect().row(0)
    latest: dict[int | None, pl.DataFrame] = {}
    for d, count in zip(days, known, strict=True):
        if count not in latest:
            frame = series_frame(series, _bars(prices, None), facts, end=d)
            hist = history_features(frame, "facts").collect()
            latest[count] = hist.group_by("entity", maintain_order=True).last()
    return [latest[count] for count in known]


def _stack_features(
    frames: Iterable[pl.DataFrame], extra: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    schema = {
        "series": pl.String(),
        "entity": pl.String(),
        "data_at": pl.Date(),
        "statement": pl.String(),
        **COMMON_FEATURES,
        **FACT_FEATURES,
        **(extra or {}),
    }
    conformed = [
        f.select((pl.col(c) if c in f.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items())
        for f in frames
    ]
    return pl.concat(conformed) if conformed else pl.DataFrame(schema=schema)


def name_map(facts: pl.LazyFrame, names: Mapping[str, str] | None) -> pl.DataFrame:
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
    prices: Bars,
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
    prices: Bars,
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
