"""Replay rules over stored history: when would each have gone pending, fired and resolved?

One evaluation per trading day at the close, from ``start`` to ``end`` inclusive. The trading
days are the sessions of ``calendar`` (an exchange MIC) when one is given, else the union of the
dates with bars for the rule's entities (for a fact rule whose entities have no bars: all bar
dates of the store, then XNYS sessions). At each evaluation date D a price series uses the bars
dated D or earlier, a fact series the statements published D or earlier (``metrics.store.pit``).

Features are computed for all dates at once (rolling windows over (entity, date)), joined as of
each evaluation date, the condition is evaluated column-wise, and ``replay`` loops per entity over
the lifecycle's one step function ``metrics.alerting.lifecycle.step``, as live ticks do. One
row per state change: ``rule, entity, state (pending|firing|resolved), at (the evaluation date),
value (the series' value then)``. Evaluation times are the dates themselves (00:00 UTC), so a
``for``/``keep_firing_for`` duration counts whole calendar days between evaluation dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from metrics.alerting.evaluate import Evaluator, name_map
from metrics.alerting.features import history_features, session_dates, stale_bars
from metrics.alerting.lifecycle import initial, step
from metrics.alerting.rules import Rule, compile_condition
from metrics.alerting.series import series_frame
from metrics.store.calendars import DEFAULT_EXCHANGE
from metrics.store.pit import as_of_each_day, day_of

RESULT_SCHEMA = pl.Schema(
    {"rule": pl.String, "entity": pl.String, "state": pl.String, "at": pl.Date, "value": pl.Float64}
)
_DAY = 86400
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def replay(
    rule: Rule,
    entities: Sequence[str],
    times: Sequence[int],
    holds: Sequence[bool | None],
    statements: Sequence[str | None] | None = None,
) -> list[tuple[int, str]]:
    """The state changes of ``rule`` over rows sorted by (entity, time): (row index, change).

    ``times`` are seconds since the epoch; ``holds`` None is missing data. A loop over
    ``metrics.alerting.lifecycle.step``, the lifecycle the live ticks use too.
    """
    stmts = statements if statements is not None else [None] * len(holds)
    out: list[tuple[int, str]] = []
    cur: str | None = None
    s = initial(rule.name, "")
    for i, h in enumerate(holds):
        ent = entities[i]
        if ent != cur:
            cur, s = ent, initial(rule.name, ent)
        if h is None:
            continue
        done = step(s, h, _EPOCH + dt.timedelta(seconds=times[i]), stmts[i], rule)
        s = done.state
        if done.change is not None:
            out.append((i, done.change))
    return out


def compress(df: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """The rows of ``df`` (sorted by entity, time ``__t``) that can change the state of ``rule``.

    Missing data (holds null) never changes anything. In a run of equal ``holds`` of one entity only
    the first rows can: a holding run until the ``for`` is reached (its N-th bar, or the first row
    at least the duration after the run's start), a failing run until ``keep_firing_for`` is
    reached, plus for a fact series each row whose statement differs from the previous one.
    ``replay`` over the result gives the same changes as over ``df`` (property-tested).
    """
    d = df.filter(pl.col("holds").is_not_null())
    n = d.height
    if n == 0:
        return d
    ent = d["entity"].rle_id().to_numpy()
    h = d["holds"].to_numpy().astype(np.int8)
    t = d["__t"].to_numpy()
    idx = np.arange(n)
    start = np.ones(n, dtype=bool)
    start[1:] = (ent[1:] != ent[:-1]) | (h[1:] != h[:-1])
    run_start = np.maximum.accumulate(np.where(start, idx, 0))
    k = idx - run_start
    prev_elapsed = np.zeros(n, dtype=np.int64)
    prev_elapsed[1:] = t[:-1] - t[run_start[1:]]
    hold = rule.hold
    hold_ok = k <= hold.bars if hold.bars is not None else prev_elapsed < hold.duration.total_seconds()
    keep = rule.keep_firing_for
    keep_ok = k <= keep.bars if keep.bars is not None else prev_elapsed < keep.duration.total_seconds()
    mask = start | np.where(h == 1, hold_ok, keep_ok)
    if rule.is_fact_series:
        st = d["statement"]
        changed = st.ne_missing(st.shift(1)).fill_null(True).to_numpy()
        mask |= changed
    return d.filter(pl.Series(mask))


def _session_days(mic: str, start: dt.date, end: dt.date) -> pl.Series:
    """Sessions of ``mic`` in [start, end] (every day if the calendar is unknown)."""
    sess = session_dates(mic)
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = sess[(sess >= lo) & (sess <= hi)] if len(sess) else np.arange(lo, hi + 1)
    return pl.Series("at", days, dtype=pl.Date)


def _eval_dates(
    rule_tickers: pl.Series, prices: pl.LazyFrame, start: dt.date, end: dt.date, calendar: str | None
) -> pl.Series:
    if calendar is not None:
        return _session_days(calendar, start, end)
    bars = prices.filter(pl.col("date").is_between(start, end)).select("ticker", "date")
    mine = bars.filter(pl.col("ticker").is_in(rule_tickers.implode())).select("date").unique().collect()
    if mine.height == 0:
        mine = bars.select("date").unique().collect()
    if mine.height == 0:
        return _session_days(DEFAULT_EXCHANGE, start, end)
    return mine["date"].sort().rename("at")


def backtest(
    rules: Sequence[Rule],
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    calendar: str | None = None,
    names: Mapping[str, str] | None = None,
    calendars: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Every state change of ``rules`` over [start, end]: rule, entity, state, at, value."""
    start_d, end_d = day_of(start), day_of(end)
    ticker_of = name_map(facts, names)
    hist_cache: dict[tuple[str, frozenset[str]], pl.DataFrame] = {}
    results: list[pl.DataFrame] = []
    for rule in rules:
        cond = compile_condition(rule.condition, rule.shape)
        used = frozenset(cond.meta.root_names())
        if (rule.series, used) not in hist_cache:
            series = series_frame(rule.series, prices, facts, end=end_d)
            hist_cache[rule.series, used] = history_features(series, rule.shape, only=used).collect()
        hist = hist_cache[rule.series, used]
        entities = hist.select(pl.lit(rule.series).alias("series"), "entity").unique()
        pairs = Evaluator([rule]).pairs(entities, ticker_of)
        if pairs.height == 0:
            continue
        ents = pairs.select("entity").unique().sort("entity")
        tickers = (
            ents["entity"]
            if rule.shape == "prices"
            else ticker_of.filter(pl.col("entity").is_in(ents["entity"].implode()))["ticker"]
        )
        dates = _eval_dates(tickers, prices, start_d, end_d, calendar)
        if dates.len() == 0:
            continue
        # both sorted by (entity, date): ents is sorted, dates are sorted, hist comes sorted
        grid = ents.join(dates.to_frame(), how="cross", maintain_order="left_right")
        feats = hist.filter(pl.col("entity").is_in(ents["entity"].implode())).rename({"date": "data_at"})
        # the latest value known on each evaluation date (last row of a date wins)
        df = as_of_each_day(grid, feats, rule.shape, day="at", dated="data_at", by="entity")
        df = df.with_columns(age_days=(pl.col("at") - pl.col("data_at")).dt.total_days().cast(pl.Int64))
        if rule.shape == "prices" and "stale_bars" in rule.condition:
            stale = stale_bars(df["entity"], df["data_at"].fill_null(df["at"]), df["at"], calendars)
            df = df.with_columns(stale_bars=pl.when(pl.col("data_at").is_not_null()).then(stale))
        else:
            df = df.with_columns(stale_bars=pl.lit(None, pl.Int64))
        df = df.with_columns(holds=pl.when(pl.col("data_at").is_not_null()).then(cond.fill_null(False)))
        df = df.with_columns(__t=pl.col("at").cast(pl.Int32).cast(pl.Int64) * _DAY)
        rows = compress(df, rule)
        stmts = rows["statement"].to_list() if rule.is_fact_series else None
        changes = replay(
            rule, rows["entity"].to_list(), rows["__t"].to_list(), rows["holds"].to_list(), stmts
        )
        if not changes:
            continue
        idx = pl.Series("i", [i for i, _ in changes], dtype=pl.UInt32)
        picked = rows[idx].select("entity", "at", "value")
        results.append(
            picked.with_columns(
                rule=pl.lit(rule.name), state=pl.Series([c for _, c in changes], dtype=pl.String)
            )
        )
    if not results:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    return pl.concat(results).select(list(RESULT_SCHEMA)).sort("at", "rule", "entity", maintain_order=True)

