"""Where a backtest runs: in this process (``local``) or spread over a Ray cluster (``ray``).

An ``Executor`` runs ``metrics.alerting.backtest.backtest`` in a ``Window`` (its days and options)
over a store's ``prices`` and ``facts``.
Contract (tested for every implementation): the result equals the local executor's, row for row,
same columns and order (``rule, entity, state, at, value`` sorted by ``at, rule, entity``).

Distributed runs split the entities into shards (``plan_shards``) and run the same polars code on
each (``run_shard``); the shards' results are concatenated and sorted as the local run's. Entities
are coupled by one thing only: without ``calendar``, a rule is evaluated on the union of the dates
with bars of all its entities' tickers. So each shard also loads a few *context* tickers whose
bars cover, for every rule, the dates of the rule's entities (a greedy set cover, usually one or two
tickers); their rows are evaluated and dropped, each shard keeping only the entities it owns::

    owned tickers (round robin by bar count)  +  context tickers (date cover per rule)
        -> prices of those tickers, facts of them and of their entity names
        -> Window.run(...) -> rows of owned entities only

A price-series entity is a ticker, owned by its shard; a statement-series entity is a name, owned
by the shard of its ticker (``name_map``), or round robin when it has none; a shard loads every fact
of the names stated under its tickers. (A name stated under two tickers maps to either, in a local
run as in a shard: ``name_map`` keeps one of them.) Ray is imported only by
``metrics.alerting.ray_executor`` (the optional extra ``metrics[ray]``), on first use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from metrics.alerting.backtest import RESULT_SCHEMA, Window
from metrics.alerting.evaluate import Evaluator, name_map
from metrics.alerting.rules import Rule
from metrics.alerting.series import series_frame
from metrics.store.pit import day_of
from metrics.store.tables import Store

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs backtests over a store (see the module docstring for the contract)."""

    def backtest(
        self,
        rules: Sequence[Rule],
        store: Store,
        window: Window,
    ) -> pl.DataFrame:
        """Every state change of ``rules`` in ``window`` on ``store``'s prices and facts."""
        ...


class LocalExecutor:
    """The backtest in this process: ``backtest(rules, store.scan("prices"), store.scan("facts"))``."""

    def backtest(
        self,
        rules: Sequence[Rule],
        store: Store,
        window: Window,
    ) -> pl.DataFrame:
        """Every state change of ``rules`` in ``window`` on ``store``'s prices and facts."""
        return window.run(rules, store.scan("prices"), store.scan("facts"))


def get_executor(name: str, *, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``; ``address``: the Ray cluster's)."""
    if name == "local":
        if address is not None:
            raise ValueError("an address is for the ray executor only")
        return LocalExecutor()
    if name == "ray":
        from metrics.alerting.ray_executor import RayExecutor  # noqa: PLC0415 - ray is heavy; loaded only when used

        return RayExecutor(address=address)
    raise ValueError(f"unknown executor {name!r}: use {' or '.join(EXECUTORS)}")


# ------------------------------------------------------------------------------------- sharding


@dataclass(frozen=True, slots=True)
class Shard:
    """One part of a distributed backtest: the entities it owns and the data it loads."""

    tickers: frozenset[str]       # owned tickers (entities of price series)
    names: frozenset[str]         # owned entity names (entities of statement series)
    load_tickers: frozenset[str]  # bars (and facts by ticker) to load: owned and context tickers
    load_names: frozenset[str]    # facts to load by entity name

    def prices(self, prices: pl.LazyFrame) -> pl.LazyFrame:
        """The bars this shard reads (the order of the rows kept)."""
        return prices.filter(_in("ticker", self.load_tickers))

    def facts(self, facts: pl.LazyFrame) -> pl.LazyFrame:
        """The facts this shard reads (the order of the rows kept)."""
        return facts.filter(_in("ticker", self.load_tickers) | _in("entity", self.load_names))


def _in(column: str, values: set[str] | frozenset[str] | list[str]) -> pl.Expr:
    """``column`` is one of ``values`` (typed, so an empty set works too)."""
    return pl.col(column).is_in(pl.Series(sorted(values), dtype=pl.String).implode())


def _cover(bars: pl.DataFrame, tickers: pl.Series) -> set[str]:
    """A few of ``tickers`` whose bars (``bars``: ticker, date) have every date that all of theirs have."""
    mine = bars.filter(pl.col("ticker").is_in(tickers.implode()))
    need = mine.select("date").unique()
    chosen: set[str] = set()
    while need.height:
        best = (
            mine.join(need, on="date", how="semi")
            .group_by("ticker")
            .len()
            .sort(["len", "ticker"], descending=[True, False])
            .item(0, "ticker")
        )
        chosen.add(best)
        need = need.join(mine.filter(pl.col("ticker") == best), on="date", how="anti")
    return chosen


def _context(
    rules: Sequence[Rule],
    *,
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    ticker_of: pl.DataFrame,
    bars: pl.DataFrame,
    end: dt.date,
) -> set[str]:
    """Tickers whose bars give each rule, in every shard, the evaluation dates of the whole run."""
    frames = [
        series_frame(s, prices, facts, end=end).select(pl.lit(s).alias("series"), "entity").unique()
        for s in sorted({r.series for r in rules})
    ]
    feats = pl.concat(pl.collect_all(frames)) if frames else pl.DataFrame(schema={"series": pl.String})
    pairs = Evaluator(rules).pairs(feats, ticker_of)
    shapes = {r.name: r.shape for r in rules}
    context: set[str] = set()
    done: set[frozenset[str]] = set()
    needs_fallback = False
    for rule in rules:
        ents = pairs.filter(pl.col("rule") == rule.name)["entity"].unique()
        tickers = (
            ents if shapes[rule.name] == "prices"
            else ticker_of.filter(pl.col("entity").is_in(ents.implode()))["ticker"]
        )
        key = frozenset(tickers.to_list())
        if key in done:
            continue
        done.add(key)
        if ents.len() and not bars.filter(pl.col("ticker").is_in(tickers.implode())).height:
            needs_fallback = True  # the rule is evaluated on all bar dates of the store
        context |= _cover(bars, tickers)
    if needs_fallback:
        context |= _cover(bars, bars["ticker"].unique())
    return context


def plan_shards(
    rules: Sequence[Rule],
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    *,
    shards: int,
    window: Window,
) -> list[Shard]:
    """Split the entities of ``prices`` and ``facts`` into at most ``shards`` non-empty shards.

    Tickers go round robin by number of bars (largest first), so shards get similar work.
    """
    start_d, end_d = day_of(window.start), day_of(window.end)
    calendar = window.calendar
    ticker_of = name_map(facts, window.names)
    counts = pl.concat([
        prices.group_by("ticker").len().collect(),
        facts.select("ticker").unique().with_columns(len=pl.lit(0, pl.UInt32)).collect(),
        ticker_of.select("ticker").with_columns(len=pl.lit(0, pl.UInt32)),
    ]).drop_nulls("ticker").group_by("ticker").agg(pl.col("len").sum())
    order = counts.sort(["len", "ticker"], descending=[True, False])["ticker"].to_list()
    named = facts.select("entity", "ticker").unique().collect()
    all_names = named["entity"].drop_nulls()
    unmapped = sorted(set(all_names.to_list()) - set(ticker_of["entity"].to_list()))
    n = max(1, min(shards, len(order) + len(unmapped)))
    owned: list[set[str]] = [set() for _ in range(n)]
    names_of: list[set[str]] = [set() for _ in range(n)]
    for i, t in enumerate(order):
        owned[i % n].add(t)
    for j, e in enumerate(unmapped, start=len(order)):  # names without a ticker continue the round
        names_of[j % n].add(e)
    context: set[str] = set()
    if calendar is None:
        bars = prices.filter(pl.col("date").is_between(start_d, end_d)).select("ticker", "date").unique()
        context = _context(
            rules, prices=prices, facts=facts, ticker_of=ticker_of, bars=bars.collect(), end=end_d
        )
    out = []
    for i, mine in enumerate(owned):
        load = mine | context
        own_names = set(ticker_of.filter(_in("ticker", mine))["entity"].to_list())
        own_names |= names_of[i]
        # every name stated under a loaded ticker: its facts whole, so it maps to a ticker as locally
        load_names = own_names | set(ticker_of.filter(_in("ticker", load))["entity"].to_list())
        load_names |= set(named.filter(_in("ticker", load))["entity"].drop_nulls().to_list())
        out.append(Shard(frozenset(mine), frozenset(own_names), frozenset(load), frozenset(load_names)))
    return [s for s in out if s.tickers or s.names]


def run_shard(
    shard: Shard,
    rules: Sequence[Rule],
    prices: pl.LazyFrame,
    facts: pl.LazyFrame,
    window: Window,
) -> pl.DataFrame:
    """The backtest of ``rules`` on ``shard``'s data: the state changes of the entities it owns."""
    result = window.run(rules, shard.prices(prices), shard.facts(facts))
    on_names = [r.name for r in rules if r.shape == "facts"]
    owned = pl.when(_in("rule", on_names)).then(_in("entity", shard.names))
    return result.filter(owned.otherwise(_in("entity", shard.tickers)))


def combine(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The shards' results as one, ordered as a local run's."""
    if not parts:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    return pl.concat(parts).select(list(RESULT_SCHEMA)).sort("at", "rule", "entity", maintain_order=True)
