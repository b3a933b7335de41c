"""Features of a series, from one table of specs, in two engines that give the same numbers.

``FEATURE_SPECS`` lists the window features of every series (name, kind, window); adding a line
(``Feature("sma_100", "sma", 100)``) makes it computed by both engines and usable in conditions
(``metrics.alerting.rules`` takes the names from ``WINDOW_FEATURES``). Kinds:

- ``lag``: the value ``window`` values earlier (``prev_value``);
- ``change`` / ``change_pct``: the value minus / in percent against the value ``window`` values
  earlier (null when that value is 0);
- ``sma``: the mean of the last ``window`` values, the latest included (null with fewer);
- ``high`` / ``low``: the max / min of the values dated within the ``window`` days ending on the
  latest one, null unless the series reaches back that far.

The two engines:

- ``history_features`` (polars): every row of a series with its features as of that row, for all
  entities in one pass (the backtest, statement series);
- ``latest_bar_features`` (numpy): the features at each entity's latest bar only (a tick over bar
  series), without computing them for every row.

Besides the table: ``revision_pct`` (statement series: against the previous statement of the same
entity, metric and period; history engine only, bar series have none), ``age_days`` (the
evaluation date minus the latest value's date) and ``stale_bars`` (bar series: trading sessions of
the ticker's exchange after the latest bar up to and including the evaluation date; XNYS unless the
ticker's suffix or ``calendars`` says otherwise), added by ``with_age_and_stale_bars``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from metrics.errors import ConfigError
from metrics.log import get_logger
from metrics.store.calendars import calendar, exchange_of_ticker

log = get_logger(__name__)
Shape = Literal["prices", "facts"]
FeatureKind = Literal["lag", "change", "change_pct", "sma", "high", "low"]


@dataclass(frozen=True, slots=True)
class Feature:
    """One window feature: ``window`` counts values (lag, change, change_pct, sma) or days (high, low)."""

    name: str
    kind: FeatureKind
    window: int

    @property
    def in_days(self) -> bool:
        return self.kind in ("high", "low")


FEATURE_SPECS: tuple[Feature, ...] = (
    Feature("prev_value", "lag", 1),
    Feature("change", "change", 1),
    Feature("change_pct", "change_pct", 1),
    Feature("change_pct_5", "change_pct", 5),
    Feature("change_pct_20", "change_pct", 20),
    Feature("sma_20", "sma", 20),
    Feature("sma_50", "sma", 50),
    Feature("sma_200", "sma", 200),
    Feature("high_52w", "high", 364),
    Feature("low_52w", "low", 364),
)
WINDOW_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPECS)


def bars_needed(specs: Sequence[Feature] = FEATURE_SPECS) -> int:
    """Values an entity needs for every value-counted feature of ``specs`` (one more than the widest)."""
    return max((f.window for f in specs if not f.in_days), default=0) + 1


def days_needed(specs: Sequence[Feature] = FEATURE_SPECS) -> int:
    """The widest day window of ``specs`` (0 without one)."""
    return max((f.window for f in specs if f.in_days), default=0)


# ----------------------------------------------------------------------------------- history engine


def _pct(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b != 0).then((a / b - 1.0) * 100.0)


def _history_expr(f: Feature) -> pl.Expr:
    v, g = pl.col("value"), "entity"
    if f.kind == "lag":
        expr = v.shift(f.window).over(g)
    elif f.kind == "change":
        expr = v - v.shift(f.window).over(g)
    elif f.kind == "change_pct":
        expr = _pct(v, v.shift(f.window).over(g))
    elif f.kind == "sma":
        expr = v.rolling_mean(f.window).over(g)
    else:
        covered = pl.col("date").first().over(g) <= pl.col("date") - pl.duration(days=f.window - 1)
        span = f"{f.window}d"
        rolled = v.rolling_max_by("date", span) if f.kind == "high" else v.rolling_min_by("date", span)
        expr = pl.when(covered).then(rolled.over(g))
    return expr.alias(f.name)


def history_features(
    series: pl.LazyFrame,
    shape: Shape,
    only: Iterable[str] | None = None,
    *,
    specs: Sequence[Feature] = FEATURE_SPECS,
) -> pl.LazyFrame:
    """Every row of ``series`` with its features as of that row (no ``age_days``/``stale_bars``).

    Rows are sorted by (entity, date); a statement series keeps the published order. ``only``
    limits the computed features to those named (the others are null), for speed.
    """
    v = pl.col("value")
    lf = series.sort("entity", "date", maintain_order=True)
    cols = [_history_expr(f) for f in specs]
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


# -------------------------------------------------------------------------------- latest-bar engine


class _Order:
    """Each entity's rows of a window, together and in date order, found without sorting the rows.

    The order is an array of row numbers of the window (``rows``, ``values``): ``d`` holds the
    dates (days) in that order and ``starts``/``ends`` each entity's first and last position in it
    that the features read, ``n`` its number of rows and ``first`` its first date. Bars read from
    the store come as sorted runs (each data file sorted by ticker and date, files one per year, and
    a MERGE may write a ticker's year in two runs). The runs are put in order, not the rows (a sort
    of ~10 k runs instead of ~1.3 M rows): an entity whose last run holds every row its features
    read (``bars`` values, and the rows dated within ``days`` days of its latest) is read where it
    is; only the runs of the other entities are copied, in order, after the window's rows. Anything
    else (shuffled rows, repeated dates) is sorted row by row.
    """

    def __init__(self, window: pl.DataFrame, *, bars: int, days: int) -> None:
        entity, n = window["entity"], window.height
        d = window["date"].to_physical().to_numpy()
        self._n = n
        self._extra: np.ndarray | None = None    # rows repeated after the window's (split entities)
        self._perm: np.ndarray | None = None     # the whole order (rows sorted one by one)
        h = entity.hash().to_numpy()
        cut = h[1:] != h[:-1]                    # a new run starts after each of these rows
        starts = np.concatenate(([0], np.flatnonzero(cut) + 1))
        ends = np.append(starts[1:] - 1, n - 1)
        first = entity.gather(starts)
        # runs of one entity each (no hash collision joined two), each in date order
        if bool((first == entity.gather(ends)).all()) and bool(np.all((d[1:] > d[:-1]) | cut)):
            if first.n_unique() == len(starts):   # one run per entity: nothing to move
                self._set(d, starts, ends)
                return
            runs = pl.DataFrame({"e": first, "f": d[starts]}).with_row_index("r").sort("e", "f")
            order = runs["r"].to_numpy()
            run_start, run_end = starts[order], ends[order]
            # an entity's runs must follow one another in time (no date twice, none out of order)
            entity_no = runs["e"].rle_id().to_numpy()
            same = entity_no[1:] == entity_no[:-1]
            if bool(np.all(~same | (d[run_end[:-1]] < d[run_start[1:]]))):
                self._split(d, run_start, run_end, entity_no, same, bars=bars, days=days)
                return
        # anything else: sort the rows
        by = pl.arg_sort_by("entity", "date", maintain_order=True)
        self._perm = window.select(by).to_series().to_numpy()
        ids = entity.gather(self._perm).rle_id().to_numpy()
        ends = np.append(np.flatnonzero(np.diff(ids)), n - 1)
        self._set(d[self._perm], np.concatenate(([0], ends[:-1] + 1)), ends)

    def _set(self, d: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        """Each entity's rows at ``starts``..``ends`` of ``d``, all of them."""
        self.d, self.starts, self.ends = d, starts, ends
        self.n = ends - starts + 1
        self.first = d[starts]

    def _split(self, d: np.ndarray, run_start: np.ndarray, run_end: np.ndarray, entity_no: np.ndarray,
               same: np.ndarray, *, bars: int, days: int) -> None:
        """Entities in runs (``run_start``/``run_end``, sorted by entity and date; ``entity_no`` the
        entity of each run, ``same`` whether a run's entity is that of the next)."""
        n = self._n
        first_run = np.concatenate(([True], ~same))     # the first run of its entity
        last_run = np.append(~same, True)               # the last run of its entity
        length = run_end - run_start + 1
        self.n = np.add.reduceat(length, np.flatnonzero(first_run))
        self.first = d[run_start[first_run]]
        start, end = run_start[last_run], run_end[last_run]
        # the last run holds every row read: ``bars`` values, and no earlier row within ``days``
        prev_end = np.where(first_run[last_run], -1, np.flatnonzero(last_run) - 1)
        earlier_d = np.where(prev_end >= 0, d[run_end[np.maximum(prev_end, 0)]], np.iinfo(np.int64).min)
        in_place = (first_run[last_run] | (length[last_run] >= bars)) & (
            earlier_d.astype(np.int64) <= d[end].astype(np.int64) - days)
        self.starts, self.ends = start, end
        if in_place.all():
            self.d = d
            return
        copy = ~in_place[entity_no]                     # the runs of the other entities
        c_start, c_len = run_start[copy], length[copy]
        offset = np.cumsum(c_len) - c_len
        self._extra = np.arange(int(c_len.sum()), dtype=np.int64) + np.repeat(c_start - offset, c_len)
        self.d = np.concatenate([d, d[self._extra]])
        start[~in_place] = n + offset[first_run[copy]]
        end[~in_place] = n + (offset + c_len - 1)[last_run[copy]]

    def values(self, v: np.ndarray) -> np.ndarray:
        """The window's column ``v`` in the order (positions as ``starts``/``ends``)."""
        if self._perm is not None:
            return np.asarray(v[self._perm])
        return v if self._extra is None else np.concatenate([v, v[self._extra]])

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The window's rows at ``positions`` of the order."""
        if self._perm is not None:
            return np.asarray(self._perm[positions])
        if self._extra is None:
            return positions
        copied = positions >= self._n
        return np.where(copied, self._extra[np.where(copied, positions - self._n, 0)], positions)


def _segment(fn: np.ufunc, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``fn`` reduced over v[lo:hi] per segment (each non-empty, none overlapping another, in any
    order)."""
    if len(lo) > 1 and bool(np.any(lo[1:] < lo[:-1])):   # in the order of ``v`` (reduceat also
        order = np.argsort(lo, kind="stable")              # reduces the gaps between segments)
        out = np.empty(len(lo), dtype=v.dtype)
        out[order] = _segment(fn, v, lo[order], hi[order])
        return out
    idx = np.empty(2 * len(lo), dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    if len(idx) and idx[-1] == len(v):  # reduceat takes the last segment to the end by itself
        idx = idx[:-1]
    return np.asarray(fn.reduceat(v, idx)[0::2])


class _Runs:
    """A bar series as numpy runs, one per entity: values and dates (days) in order, each run's
    first and last row read, and each entity's number of rows ``n`` and first date ``first`` (rows
    before the run read may count: they are older than any a feature reads)."""

    def __init__(self, v: np.ndarray, d: np.ndarray, order: _Order | _Ranges) -> None:
        self.v, self.d, self.starts, self.ends = v, d, order.starts, order.ends
        self.n, self.first = order.n, order.first
        self._spans: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # days -> (rows inside, covered)

    def back(self, k: int) -> np.ndarray:
        """The value ``k`` rows before each run's last (NaN where the run is shorter)."""
        out = np.full(len(self.ends), np.nan)
        ok = self.n > k
        out[ok] = self.v[self.ends[ok] - k]
        return out

    def sma(self, k: int) -> np.ndarray:
        """The mean of each run's last ``k`` values (NaN where the run is shorter)."""
        out = np.full(len(self.ends), np.nan)
        ok = self.n >= k
        if ok.any():
            out[ok] = _segment(np.add, self.v, self.ends[ok] - k + 1, self.ends[ok] + 1) / k
        return out

    def extreme(self, fn: np.ufunc, days: int) -> np.ndarray:
        """``fn`` over each run's values dated within ``days`` days ending on its last date (NaN
        unless the run reaches back that far)."""
        if days not in self._spans:  # shared by the high and the low of one window
            last_d = self.d[self.ends].astype(np.int64)
            first_inside = self._first_after(last_d - days)
            self._spans[days] = (self.ends + 1 - first_inside, self.first <= last_d - (days - 1))
        count, covered = self._spans[days]
        return np.where(covered, _segment(fn, self.v, self.ends - count + 1, self.ends + 1), np.nan)

    def _first_after(self, day: np.ndarray) -> np.ndarray:
        """Per run, the first row dated after ``day`` (its end + 1 if none): a binary search of all
        runs at once (dates ascend within a run)."""
        lo, hi = self.starts.copy(), self.ends + 1
        last = len(self.d) - 1
        while True:
            open_ = lo < hi
            if not open_.any():
                return lo
            mid = (lo + hi) // 2
            before = open_ & (self.d[np.minimum(mid, last)] <= day)
            lo = np.where(before, mid + 1, lo)
            hi = np.where(open_ & ~before, mid, hi)


def _latest_value(runs: _Runs, f: Feature) -> np.ndarray:
    value: np.ndarray = runs.v[runs.ends]
    if f.kind == "lag":
        return runs.back(f.window)
    if f.kind == "change":
        return np.asarray(value - runs.back(f.window))
    if f.kind == "change_pct":
        b = runs.back(f.window)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b != 0, (value / b - 1.0) * 100.0, np.nan)
    if f.kind == "sma":
        return runs.sma(f.window)
    return runs.extreme(np.maximum if f.kind == "high" else np.minimum, f.window)


def latest_bar_features(window: pl.DataFrame, *, specs: Sequence[Feature] = FEATURE_SPECS) -> pl.DataFrame:
    """Features at the latest row of each entity of a bar series (entity, date, value), in numpy.

    The same numbers as ``history_features`` at each entity's last row, without computing them for
    every row (a tick needs only the latest). ``__n`` (rows) and ``__first`` (first date) per entity
    tell the caller whether the window reached back far enough.
    """
    if window.height == 0:
        return (
            history_features(window.lazy(), "prices", specs=specs)
            .collect()
            .with_columns(__n=pl.lit(None, pl.Int64), __first=pl.lit(None, pl.Date))
        )
    order = _Order(window, bars=bars_needed(specs), days=days_needed(specs))
    v = window["value"].to_numpy()
    runs = _Runs(order.values(v), order.d, order)
    last = order.rows(order.ends)
    df = pl.DataFrame(
        {
            "entity": window["entity"].gather(last),
            "date": window["date"].gather(last),
            "value": runs.v[order.ends],
            **{f.name: _latest_value(runs, f) for f in specs},
            "__n": runs.n,
            "__first": pl.Series(order.first, dtype=pl.Int32).cast(pl.Date),
        },
        nan_to_null=True,
    )
    return df.with_columns(revision_pct=pl.lit(None, pl.Float64))


@dataclass(frozen=True, slots=True)
class _Ranges:
    """Row ranges of a sorted series (as ``_Order`` gives them): ``starts``..``ends``, each ``n`` rows
    from the date ``first``."""

    starts: np.ndarray
    ends: np.ndarray
    n: np.ndarray
    first: np.ndarray


def bar_features_at(
    series: pl.DataFrame, starts: np.ndarray, ends: np.ndarray, *, specs: Sequence[Feature] = FEATURE_SPECS
) -> pl.DataFrame:
    """``latest_bar_features`` of many windows of one series at once: ``series`` (entity, date,
    value) sorted by entity and date, each window the rows ``starts[i]``..``ends[i]`` of one entity
    (they may overlap: a window per evaluation point), one output row per window, in their order.

    Row for row the numbers ``latest_bar_features`` gives over those rows alone (the same numpy
    reductions over the same values, so the same floats), with ``__n`` and ``__first``."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if not len(ends):
        return latest_bar_features(series.clear(), specs=specs)
    d = series["date"].to_physical().to_numpy()
    v = series["value"].to_numpy()
    # one row of padding: no window ends at the array's end (``_segment`` needs it for overlaps)
    vp, dp = np.append(v, np.nan), np.append(d, d[-1] if len(d) else 0)
    runs = _Runs(vp, dp, _Ranges(starts, ends, ends - starts + 1, d[starts]))
    df = pl.DataFrame(
        {
            "entity": series["entity"].gather(ends),
            "date": series["date"].gather(ends),
            "value": v[ends],
            **{f.name: _latest_value(runs, f) for f in specs},
            "__n": runs.n,
            "__first": pl.Series(d[starts], dtype=pl.Int32).cast(pl.Date),
        },
        nan_to_null=True,
    )
    return df.with_columns(revision_pct=pl.lit(None, pl.Float64))


# ------------------------------------------------------------------------- age_days and stale_bars


@functools.cache
def session_dates(mic: str) -> np.ndarray:
    """Session dates of an exchange calendar (datetime64[D]); empty (weekdays) if it is unknown."""
    try:
        return calendar(mic).sessions
    except ConfigError as e:  # unknown MIC: weekdays stand in
        log.warning("evaluate.calendar_unknown", calendar=mic, error=str(e))
        return np.array([], dtype="datetime64[D]")


def sessions_between(mic: str, after: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Number of sessions of ``mic`` in (after, upto] element-wise (datetime64[D] arrays)."""
    sess = session_dates(mic)
    a = after.astype("datetime64[D]")
    b = upto.astype("datetime64[D]")
    if len(sess) == 0 or (a.size and (a.min() < sess[0] or b.max() > sess[-1])):
        return np.busday_count(a + 1, b + 1).astype(np.int64)
    counts: np.ndarray = np.searchsorted(sess, b, side="right") - np.searchsorted(sess, a, side="right")
    return counts.astype(np.int64)


def stale_bars(
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


def with_age_and_stale_bars(
    latest: pl.DataFrame,
    shape: Shape,
    at_date: dt.date,
    calendars: Mapping[str, str] | None,
    *,
    stale: bool = True,
) -> pl.DataFrame:
    """``latest`` (one row per entity) with ``age_days`` and ``stale_bars``, ``date`` as ``data_at``:
    ``with_age_and_stale_bars_many`` at one point.

    ``stale=False`` leaves ``stale_bars`` null (it needs the exchange calendars)."""
    df = with_age_and_stale_bars_many([latest], shape, [at_date], calendars, stale=stale)
    assert df is not None  # one point: always given
    return df.drop("__c")


def with_age_and_stale_bars_many(
    latest: Sequence[pl.DataFrame],
    shape: Shape,
    days: Sequence[dt.date],
    calendars: Mapping[str, str] | None,
    *,
    stale: bool = True,
) -> pl.DataFrame | None:
    """Each ``latest[i]`` (one row per entity) with ``age_days`` and ``stale_bars`` at ``days[i]``
    (``date`` as ``data_at``), stacked, each row with its ``i`` in ``__c`` (both are per row; one
    point is ``with_age_and_stale_bars``). None when several points would not give what each alone
    gives: frames of different columns, or evaluation dates outside an exchange's calendar (there
    ``sessions_between`` counts weekdays for all the dates it is given)."""
    if not latest:
        latest, days = [pl.DataFrame(schema={"entity": pl.String, "date": pl.Date})], [dt.date(2000, 1, 1)]
    first = latest[0].schema
    if any(f.schema != first for f in latest[1:]):
        return None
    heights = [f.height for f in latest]
    day_no = np.array(days, dtype="datetime64[D]").astype(np.int32)
    at = pl.Series("__at", np.repeat(day_no, heights), dtype=pl.Int32).cast(pl.Date)
    index = pl.Series("__c", np.repeat(np.arange(len(latest), dtype=np.int64), heights))
    df = pl.concat(latest).with_columns(index, at)
    df = df.with_columns(age_days=(pl.col("__at") - pl.col("date")).dt.total_days().cast(pl.Int64))
    if shape == "prices" and stale and df.height:
        entities = df["entity"]
        mic_of = {t: calendars[t] if calendars and t in calendars else exchange_of_ticker(t)
                  for t in entities.unique().to_list()}
        mics = entities.replace_strict(mic_of, return_dtype=pl.String).to_numpy()
        after = df["date"].to_numpy().astype("datetime64[D]")
        upto = df["__at"].to_numpy().astype("datetime64[D]")
        for mic in set(mic_of.values()) if len(latest) > 1 else ():
            sess = session_dates(mic)
            idx = np.nonzero(mics == mic)[0]
            if len(sess) and (after[idx].min() < sess[0] or upto[idx].max() > sess[-1]):
                return None
        df = df.with_columns(stale_bars(entities, df["date"], df["__at"], calendars))
    else:
        df = df.with_columns(stale_bars=pl.lit(None, pl.Int64))
    return df.drop("__at").rename({"date": "data_at"})
