"""The ``ray`` executor: a backtest split by entity over the tasks of a Ray cluster.

The only module that imports Ray (the optional extra ``metrics[ray]``), on first use. The driver
reads the versions of ``prices`` and ``facts`` once and plans the shards
(``metrics.alerting.executors.plan_shards``); each task opens the store pinned to those versions,
so every task reads the same snapshot however many commits land meanwhile, and runs the same
polars backtest on its shard (``run_shard``). The results are concatenated and sorted as the local
executor's.

``address`` is ``ray.init``'s: None starts (or joins) a Ray instance on this machine, ``auto`` a
running cluster's head on this machine, ``ray://host:10001`` a remote cluster through Ray Client.
When Ray is already initialised in this process, it is used as it is. The workers must be able to
import ``metrics`` (installed on every node, or ``ray.init(runtime_env=...)``) and to read the
store's root with the storage options handed to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from metrics.alerting.backtest import Window
from metrics.alerting.executors import Shard, combine, plan_shards, run_shard
from metrics.alerting.rules import Rule
from metrics.errors import UsageError
from metrics.store.schema import DATASETS
from metrics.store.tables import Store

_TABLES = ("prices", "facts")


def _ray() -> Any:
    try:
        import ray  # noqa: PLC0415 - ray is heavy; loaded only when used
    except ImportError as e:
        raise UsageError("the ray executor needs Ray: pip install -e '.[ray]'") from e
    return ray


def _pinned_scan(root: str, storage_options: dict[str, str], table: str, version: int | None) -> pl.LazyFrame:
    """``table`` of the store at ``root`` at ``version`` (None: the table did not exist)."""
    if version is None:
        return pl.LazyFrame(schema=DATASETS[table].schema)
    return Store(root, storage_options=storage_options, version=version).scan(table)


def _task(
    root: str,
    *,
    storage_options: dict[str, str],
    versions: dict[str, int | None],
    shard: Shard,
    rules: list[Rule],
    window: Window,
) -> pl.DataFrame:
    """One Ray task: the shard's backtest over the pinned tables."""
    prices, facts = (_pinned_scan(root, storage_options, t, versions[t]) for t in _TABLES)
    return run_shard(shard, rules, prices, facts, window)


class RayExecutor:
    """Backtests split by entity over Ray tasks (see the module docstring)."""

    def __init__(self, address: str | None = None, *, shards: int | None = None) -> None:
        self.address = address
        self.shards = shards

    def _connect(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        return ray

    def backtest(
        self,
        rules: Sequence[Rule],
        store: Store,
        window: Window,
    ) -> pl.DataFrame:
        """Every state change of ``rules`` in ``window`` on ``store``'s prices and facts."""
        ray = self._connect()
        # one snapshot for the whole run: each table's version read once, here
        versions = {t: store.table_version(t) for t in _TABLES}
        root, opts = str(store.root), dict(store.storage_options)
        prices, facts = (_pinned_scan(root, opts, t, versions[t]) for t in _TABLES)
        shards = self.shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
        plan = plan_shards(rules, prices, facts, shards=shards, window=window)
        task = ray.remote(_task)
        rules_ref = ray.put(list(rules))
        refs = [task.remote(
            root, storage_options=opts, versions=versions, shard=shard, rules=rules_ref, window=window
        ) for shard in plan]
        return combine(ray.get(refs))
