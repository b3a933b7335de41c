"""Replay rules over stored history: when would each have gone pending, fired and resolved?

One evaluation per trading day at the close, from ``start`` to ``end`` inclusive. The trading
days are the sessions of ``calendar`` (an exchange MIC) when one is given, else the union of the
dates with bars for the rule's entities (for a fact rule whose entities have no bars: all bar
dates of the store, then XNYS sessions). At each evaluation date D a price series uses the bars
dated D or earlier, a fact series the statements published D or earlier (``metrics.store.pit``).

Features are computed for all dates at once (rolling windows over (entity, date)), once per
series for all its rules, joined as of each evaluation date (one grid of entity x date and one
as-of join per series and set of entities and dates, shared by the rules over that set), the
conditions are evaluated column-wise, and the state changes of each rule are computed over all its
entities at once (``state_changes``). The result has one row per state change:
``rule, entity, state (pending|firing|resolved), at (the evaluation date),
value (the series' value then)``. Evaluation times are the dates themselves (00:00 UTC), so a
``for``/``keep_firing_for`` duration counts whole calendar days between evaluation dates.

The lifecycle in two forms. ``metrics.alerting.lifecycle.step`` is the one definition of the
lifecycle, the live ticks' too; ``replay`` is the reference: a loop over it per entity, row by row.
It is too slow for history (a Python call per row: ~1.5 M for 100 rules over 27 years), so the
backtest runs ``state_changes``, numpy over the runs of equal ``holds`` per entity (missing data
dropped), which follows from ``step``:

- a run starts ``inactive`` or ``firing`` (``pending`` never outlives a failing row; a failing run
  after a pending one starts as if inactive);
- a holding run that starts inactive reports ``pending`` at its first row (``firing`` there for an
  immediate ``for``) and ``firing`` at its due row, if inside the run: the N-th row after the first
  (``"N bars"``) or the first row at least the duration after it. A failing run that starts firing
  reports ``resolved`` at its due row under ``keep_firing_for`` (counted the same way from its first
  row), if inside the run, else it stays firing;
- a run whose due row is inside it decides the state after it (firing after a holding one,
  inactive after a failing one); any other keeps the state it started with. So the state at a
  run's start is the last deciding run's of the entity before it (none: inactive);
- fact series: while firing, a holding row whose statement is not none and differs from the last
  statement not none of the episode's holding rows (from the row that fired) reports ``firing``
  again (``new_statement``); a failing row in between (``keep_firing_for``) keeps it.

A property test (``tests/alerts/test_backtest.py``: ``test_state_changes_agree_with_replay``) binds
the two: over random entities, times, holds (with missing data) and statements, for every form of
``for`` and ``keep_firing_for`` (bars, 0 bars, durations on and between the rows' times, zero) and
both kinds of series, ``changes_of`` (``state_changes`` over Python lists) gives exactly ``replay``'s
(row, change) list. A change to ``step`` fails it until ``state_changes`` follows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from metrics.alerting.evaluate import Evaluator, name_map
from metrics.alerting.features import Shape, history_features, session_dates, stale_bars
from metrics.alerting.lifecycle import Change, initial, step
from metrics.alerting.rules import Hold, Rule, compile_condition
from metrics.alerting.series import series_frame
from metrics.store.calendars import DEFAULT_EXCHANGE
from metrics.store.pit import as_of_each_day, day_of, reach_days

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


PENDING, FIRING, RESOLVED = 0, 1, 2
CHANGES: tuple[Change, ...] = ("pending", "firing", "resolved")  # by code


def changes_of(
    rule: Rule,
    entities: Sequence[str],
    times: Sequence[int],
    holds: Sequence[bool | None],
    statements: Sequence[str | None] | None = None,
) -> list[tuple[int, str]]:
    """``replay``'s result computed by ``state_changes`` (the same arguments, the same list)."""
    ent = pl.Series(entities, dtype=pl.String).rle_id().to_numpy()
    h = np.array([-1 if x is None else int(x) for x in holds], dtype=np.int8)
    codes = None
    if statements is not None and rule.is_fact_series:
        codes = statement_codes(pl.Series(statements, dtype=pl.String))
    rows = Rows.of(ent, np.asarray(times, dtype=np.int64).reshape(-1))
    at, kinds = state_changes(rule, rows, h, codes)
    return [(int(i), CHANGES[k]) for i, k in zip(at, kinds, strict=True)]


def statement_codes(statements: pl.Series) -> np.ndarray:
    """Statements as integers for ``state_changes``: equal texts equal codes, 0 for none."""
    codes = statements.cast(pl.Categorical).to_physical().cast(pl.Int64) + 1
    out: np.ndarray = codes.fill_null(0).to_numpy()
    return out


def _seconds_to(limit: dt.timedelta) -> int:
    """The least whole number of seconds at least ``limit`` (times are whole seconds)."""
    micros = limit // dt.timedelta(microseconds=1)
    return max(0, -(-micros // 1_000_000))


@dataclass(frozen=True)
class Rows:
    """Rows sorted by (entity, time), as ``state_changes`` reads them; shared by the rules of a grid.

    ``key`` orders (entity, time) in one integer, ``entity * 2 * reach + (time - first time)``, so
    "the first row of the same entity at least ``d`` after row ``i``" is one binary search for any
    ``d <= reach`` (``reach`` exceeds every time difference: a longer ``d`` finds no row either)."""

    ent: np.ndarray  # entity ids, non-decreasing
    key: np.ndarray
    reach: int

    @classmethod
    def of(cls, ent: np.ndarray, t: np.ndarray) -> Rows:
        """From entity ids (non-decreasing) and times in whole seconds (non-decreasing per entity)."""
        if len(t) == 0:
            return cls(ent, np.zeros(0, dtype=np.int64), 1)
        t0 = int(t.min())
        reach = int(t.max()) - t0 + 1
        return cls(ent, ent.astype(np.int64) * (2 * reach) + (t - t0), reach)

    def take(self, rows: np.ndarray) -> Rows:
        """The subset ``rows`` (increasing indices)."""
        return Rows(self.ent[rows], self.key[rows], self.reach)


def state_changes(
    rule: Rule, rows: Rows, h: np.ndarray, statements: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The state changes of ``rule`` over ``rows``, vectorized: the row indices (increasing) and the
    changes' codes (``CHANGES``).

    ``h`` are the holds (1, 0, or -1 for missing data), ``statements`` codes (``statement_codes``;
    for a fact series only). Computed from the runs of equal holds per entity; see the module
    docstring."""
    present: np.ndarray | None = None
    if len(h) and h.min() < 0:
        present = np.flatnonzero(h >= 0)
        rows, h = rows.take(present), h[present]
        statements = statements[present] if statements is not None else None
    n = len(h)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
    ent = rows.ent
    new_ent = np.ones(n, dtype=bool)
    new_ent[1:] = ent[1:] != ent[:-1]
    start = new_ent.copy()
    start[1:] |= h[1:] != h[:-1]
    starts = np.flatnonzero(start)
    sizes = np.diff(np.append(starts, n))
    holding = h[starts] == 1
    # the due row of each run, as an offset from its start: the ``for`` of a holding run, the
    # ``keep_firing_for`` of a failing one (when the run starts firing)
    due = np.zeros(len(starts), dtype=np.int64)
    for limit, mine in ((rule.hold, holding), (rule.keep_firing_for, ~holding)):
        if limit.bars is not None:
            due[mine] = limit.bars
            continue
        need = min(_seconds_to(limit.duration), rows.reach)
        if need == 0:
            continue  # due at the run's first row
        s = starts[mine]
        due[mine] = np.searchsorted(rows.key, rows.key[s] + need, side="left") - s
    inside = due < sizes
    # the state at each run's start: firing iff the last decisive run (its due row inside it) of the
    # entity before it was a holding one; a run that is not decisive keeps the state it started with
    r = np.arange(len(starts))
    last = np.maximum.accumulate(np.where(inside, r, -1))
    before = np.empty_like(last)
    before[0] = -1
    before[1:] = last[:-1]
    first = np.maximum.accumulate(np.where(new_ent[starts], r, 0))
    firing = (before >= first) & holding[np.maximum(before, 0)]
    rising = holding & ~firing  # holding runs that start inactive
    entered = rising & inside  # ... and reach their ``for``
    falling = ~holding & firing & inside  # failing runs that resolve
    found = [(starts[entered] + due[entered], FIRING), (starts[falling] + due[falling], RESOLVED)]
    if not rule.hold.immediate:
        found.append((starts[rising], PENDING))
    if statements is not None and rule.is_fact_series:
        found.append((_new_statements(starts, sizes, due, held=firing & holding, entered=entered,
                                      statements=statements), FIRING))
    at = np.concatenate([a for a, _ in found])
    kinds = np.concatenate([np.full(len(a), code, dtype=np.int8) for a, code in found])
    order = np.argsort(at, kind="stable")
    at, kinds = at[order], kinds[order]
    return (present[at] if present is not None else at), kinds


def _new_statements(
    starts: np.ndarray,
    sizes: np.ndarray,
    due: np.ndarray,
    *,
    held: np.ndarray,
    entered: np.ndarray,
    statements: np.ndarray,
) -> np.ndarray:
    """The rows of a fact series' re-firings (reason ``new_statement``): the holding rows while
    firing (the runs ``held`` that start firing, the runs ``entered`` from their due row on) whose
    statement is not none and differs from the last one not none of the episode (since its entry)."""
    sel = held | entered
    off = np.where(entered, due, 0)[sel]
    lo, cnt = starts[sel] + off, sizes[sel] - off
    firsts = np.cumsum(cnt) - cnt
    rows = np.repeat(lo - firsts, cnt) + np.arange(int(cnt.sum()))
    if len(rows) == 0:
        return rows
    entry = np.zeros(len(rows), dtype=bool)
    entry[firsts[entered[sel]]] = True
    pos = np.arange(len(rows))
    episode = np.maximum.accumulate(np.where(entry, pos, 0))  # the entry row of each row's episode
    s = statements[rows]
    seen = np.maximum.accumulate(np.where(s != 0, pos, -1))
    prev = np.empty_like(seen)
    prev[0] = -1
    prev[1:] = seen[:-1]
    last = np.where(prev >= episode, s[np.maximum(prev, 0)], 0)
    new: np.ndarray = rows[~entry & (s != 0) & (s != last)]
    return new


def compress(df: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """The rows of ``df`` (sorted by entity, time ``__t``) that can change the state of ``rule``.

    Missing data (holds null) never changes anything. In a run of equal ``holds`` of one entity only
    the first rows can: a holding run until the ``for`` is reached (its N-th bar, or the first row
    at least the duration after the run's start), a failing run until ``keep_firing_for`` is
    reached, plus for a fact series each row whose statement differs from the previous one.
    ``replay`` over the result gives the same changes as over ``df`` (property-tested): a cheaper
    input for the reference loop (the backtest itself runs ``state_changes``).
    """
    d = df.filter(pl.col("holds").is_not_null())
    if d.height == 0:
        return d
    ent = d["entity"].rle_id().to_numpy()
    h = d["holds"].to_numpy().astype(np.int8)
    stmts = d["statement"] if rule.is_fact_series else None
    return d[_can_change(ent, h, d["__t"].to_numpy(), rule, stmts)]


def _can_change(
    ent: np.ndarray, h: np.ndarray, t: np.ndarray, rule: Rule, statements: pl.Series | None
) -> np.ndarray:
    """``compress``'s rows (sorted indices) among rows without missing data, given as entity run ids
    (non-decreasing), holds (0/1) and times (non-decreasing per entity).

    Each run of equal holds keeps a prefix: the row ``k`` after its start while ``k <= bars``, or
    while the previous row is less than the duration after the start."""
    n = len(h)
    start = np.ones(n, dtype=bool)
    start[1:] = (ent[1:] != ent[:-1]) | (h[1:] != h[:-1])
    starts = np.flatnonzero(start)
    sizes = np.diff(np.append(starts, n))
    hold, keep = rule.hold, rule.keep_firing_for
    keys: list[np.ndarray] = []

    def prefix(seconds: float) -> np.ndarray:
        # rows s..p where p is the first row at least ``seconds`` after the start s (times are whole)
        if seconds <= 0:
            return np.ones(len(starts), dtype=np.int64)
        if not keys:  # one ordered key for (entity, time): "rows within d after s" is a binary search
            t64 = np.asarray(t, dtype=np.int64)
            t0 = int(t64.min())
            widest = max(hold.duration.total_seconds(), keep.duration.total_seconds())
            span = int(t64.max()) - t0 + math.ceil(widest) + 1
            keys.append(ent.astype(np.int64) * span + (t64 - t0))
        key = keys[0]
        p = np.searchsorted(key, key[starts] + math.ceil(seconds), side="left")
        counts: np.ndarray = np.maximum(p - starts + 1, 1)
        return counts

    def reach(limit: Hold) -> np.ndarray:  # rows kept of each run: N bars, or up to the duration
        if limit.bars is not None:
            return np.full(len(starts), limit.bars + 1, dtype=np.int64)
        return prefix(limit.duration.total_seconds())

    counts = np.minimum(np.where(h[starts] == 1, reach(hold), reach(keep)), sizes)
    first = np.cumsum(counts) - counts
    rows: np.ndarray = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
    if statements is not None:
        changed = statements.ne_missing(statements.shift(1)).fill_null(True).to_numpy()
        rows = np.union1d(rows, np.flatnonzero(changed))
    return rows


def _session_days(mic: str, start: dt.date, end: dt.date) -> pl.Series:
    """Sessions of ``mic`` in [start, end] (every day if the calendar is unknown)."""
    sess = session_dates(mic)
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = sess[(sess >= lo) & (sess <= hi)] if len(sess) else np.arange(lo, hi + 1)
    return pl.Series("at", days, dtype=pl.Date)


class _EvalDates:
    """The evaluation dates of a set of tickers: the sessions of ``calendar`` when given, else the
    dates in [start, end] with bars of those tickers (else of any ticker, else XNYS sessions).

    The (ticker, date) pairs are read once, as one row of days per ticker; each ticker set's dates
    are computed once."""

    def __init__(self, prices: pl.LazyFrame, start: dt.date, end: dt.date, calendar: str | None) -> None:
        self._prices, self._start, self._end, self._calendar = prices, start, end, calendar
        self._row: dict[str, int] | None = None  # each ticker's row of ``_days``
        self._days = np.zeros((0, 0), dtype=bool)  # ticker x day of [start, end]: has a bar
        self._cache: dict[frozenset[str], pl.Series] = {}

    def key(self, tickers: pl.Series) -> frozenset[str]:
        return frozenset() if self._calendar is not None else frozenset(tickers.to_list())

    def of(self, key: frozenset[str]) -> pl.Series:
        if key not in self._cache:
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def _read(self) -> dict[str, int]:
        first = (self._start - _EPOCH.date()).days
        by_ticker = (
            self._prices.filter(pl.col("date").is_between(self._start, self._end))
            .select(pl.col("ticker"), day=pl.col("date").to_physical() - first)
            .group_by("ticker")
            .agg("day")
            .collect()
        )
        self._days = np.zeros((by_ticker.height, (self._end - self._start).days + 1), dtype=bool)
        for i, days in enumerate(by_ticker["day"].to_list()):
            self._days[i, days] = True
        return {str(t): i for i, t in enumerate(by_ticker["ticker"].to_list())}

    def _compute(self, tickers: frozenset[str]) -> pl.Series:
        if self._calendar is not None:
            return _session_days(self._calendar, self._start, self._end)
        if self._row is None:
            self._row = self._read()
        if not self._row:
            return _session_days(DEFAULT_EXCHANGE, self._start, self._end)
        rows = [self._row[t] for t in tickers if t in self._row]
        days = self._days[rows] if rows else self._days
        first = (self._start - _EPOCH.date()).days
        return pl.Series("at", np.flatnonzero(days.any(axis=0)) + first, dtype=pl.Int32).cast(pl.Date)


def _series_rules(
    series: str,
    rules: Sequence[Rule],
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    ticker_of: pl.DataFrame,
    eval_dates: _EvalDates,
    end: dt.date,
    calendars: Mapping[str, str] | None,
) -> list[pl.DataFrame]:
    """The state changes of ``rules`` (all over ``series``): features once for the series, one
    grid of (entity x evaluation date) and one as-of join per entity and date set."""
    shape = rules[0].shape
    conds = {r.name: compile_condition(r.condition, shape) for r in rules}
    used = set().union(*(c.meta.root_names() for c in conds.values()))
    hist = history_features(series_frame(series, prices, facts, end=end), shape, only=used).collect()
    keep = ["entity", "date", "value", *(["statement"] if shape == "facts" else [])]
    hist = hist.select(*keep, *(c for c in hist.columns if c in used and c not in keep))
    slices = _entity_slices(hist)
    entities = pl.DataFrame(
        {"series": series, "entity": list(slices)}, schema={"series": pl.String, "entity": pl.String}
    )
    pairs = Evaluator(rules).pairs(entities, ticker_of)
    # rules over the same entities and evaluation dates share one grid
    groups: dict[tuple[tuple[str, ...], frozenset[str]], list[Rule]] = {}
    for rule in rules:
        mine = pairs.filter(pl.col("rule") == rule.name)["entity"].unique().sort()
        if mine.len() == 0:
            continue
        tickers = (
            mine if shape == "prices" else ticker_of.filter(pl.col("entity").is_in(mine.implode()))["ticker"]
        )
        groups.setdefault((tuple(mine.to_list()), eval_dates.key(tickers)), []).append(rule)
    out: list[pl.DataFrame] = []
    for (ents, dates_key), group in groups.items():
        dates = eval_dates.of(dates_key)
        if dates.len() == 0:
            continue
        grid = _grid(hist, slices, pl.Series("entity", ents, dtype=pl.String), dates, shape)
        if shape == "prices" and any("stale_bars" in r.condition for r in group):
            stale = stale_bars(grid["entity"], grid["data_at"].fill_null(grid["at"]), grid["at"], calendars)
            grid = grid.with_columns(stale_bars=pl.when(pl.col("data_at").is_not_null()).then(stale))
        else:
            grid = grid.with_columns(stale_bars=pl.lit(None, pl.Int64))
        present = pl.col("data_at").is_not_null()
        holds = grid.select(
            pl.when(present).then(conds[r.name].fill_null(False)).alias(f"__h{i}")
            for i, r in enumerate(group)
        )
        times = grid["at"].to_physical().to_numpy().astype(np.int64) * _DAY
        rows = Rows.of(grid["entity"].rle_id().to_numpy(), times)
        stmts = statement_codes(grid["statement"]) if shape == "facts" else None
        for i, rule in enumerate(group):
            changes = _rule_changes(rule, grid, holds[f"__h{i}"], rows, statements=stmts)
            if changes is not None:
                out.append(changes)
    return out


def _entity_slices(hist: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Where each entity's rows are in ``hist`` (sorted by entity): offset and length."""
    runs = hist.select(pl.col("entity").rle()).unnest("entity")
    lengths = runs["len"].to_list()
    offsets = (np.cumsum(lengths) - lengths).tolist()
    return {e: (o, n) for e, o, n in zip(runs["value"].to_list(), offsets, lengths, strict=True)}


def _grid(
    hist: pl.DataFrame, slices: Mapping[str, tuple[int, int]], ents: pl.Series, dates: pl.Series, shape: Shape
) -> pl.DataFrame:
    """Each (entity, evaluation date) from the entity's first value on, sorted so, with the latest
    features known that day."""
    mine = [e for e in ents.to_list() if e in slices]
    if len(mine) == len(slices):
        feats = hist
    else:
        parts = [hist.slice(*slices[e]) for e in mine]
        feats = pl.concat(parts) if parts else hist.clear()
    # before an entity's first value every rule's holds would be null (no data), changing nothing:
    # its dates start at the first on which that value is known
    days, dated = dates.to_physical().to_numpy(), hist["date"].to_physical().to_numpy()
    first = np.array([dated[o : o + n].min() for o, n in (slices[e] for e in mine)], dtype=np.int64)
    lo = np.searchsorted(days, first - reach_days(shape), side="left")
    counts = len(days) - lo
    firsts = np.cumsum(counts) - counts
    grid = pl.DataFrame({
        "entity": pl.Series(mine, dtype=pl.String).gather(np.repeat(np.arange(len(mine)), counts)),
        "at": pl.Series(days[np.repeat(lo - firsts, counts) + np.arange(int(counts.sum()))]).cast(pl.Date),
    })
    # the latest value known on each evaluation date (last row of a date wins)
    feats = feats.rename({"date": "data_at"})
    df = as_of_each_day(grid, feats, shape, day="at", dated="data_at", by="entity")
    return df.with_columns(age_days=(pl.col("at") - pl.col("data_at")).dt.total_days().cast(pl.Int64))


def _rule_changes(
    rule: Rule,
    grid: pl.DataFrame,
    holds: pl.Series,
    rows: Rows,
    *,
    statements: np.ndarray | None,
) -> pl.DataFrame | None:
    """``rule``'s state changes over ``grid`` given its ``holds`` per row (null: no data)."""
    h = holds.cast(pl.Int8).fill_null(-1).to_numpy()
    at, kinds = state_changes(rule, rows, h, statements if rule.is_fact_series else None)
    if len(at) == 0:
        return None
    picked = grid.select("entity", "at", "value").gather(at)
    states = pl.Series("state", CHANGES, dtype=pl.String).gather(kinds)
    return picked.with_columns(rule=pl.lit(rule.name), state=states)


@dataclass(frozen=True)
class Window:
    """What a backtest replays, apart from its rules and data: the days [start, end], the exchange
    calendar giving the evaluation days (``None``: the dates with bars), the entity -> ticker names
    that override the facts' own, and each ticker's calendar for staleness. Executors take one, so
    the options are spelt once; it pickles, so a Ray task gets it whole."""

    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    calendar: str | None = None
    names: Mapping[str, str] | None = None
    calendars: Mapping[str, str] | None = None

    def run(self, rules: Sequence[Rule], prices: pl.LazyFrame, facts: pl.LazyFrame) -> pl.DataFrame:
        """``backtest`` of ``rules`` over ``prices`` and ``facts`` in this window."""
        return backtest(rules, prices, facts, start=self.start, end=self.end, calendar=self.calendar,
                        names=self.names, calendars=self.calendars)


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
    eval_dates = _EvalDates(prices, start_d, end_d, calendar)
    by_series: dict[str, list[Rule]] = {}
    for rule in rules:
        by_series.setdefault(rule.series, []).append(rule)
    results: list[pl.DataFrame] = []
    for series, group in by_series.items():
        results += _series_rules(
            series,
            group,
            prices,
            facts,
            ticker_of=ticker_of,
            eval_dates=eval_dates,
            end=end_d,
            calendars=calendars,
        )
    if not results:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    return pl.concat(results).select(list(RESULT_SCHEMA)).sort("at", "rule", "entity", maintain_order=True)
