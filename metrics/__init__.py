"""Financial-metrics time-series store and alerting: the library (see README)."""

from metrics.backtest import backtest
from metrics.evaluate import evaluate
from metrics.rules import Rule, load_rules
from metrics.store import Store, open_store

__all__ = ["Rule", "Store", "backtest", "evaluate", "load_rules", "open_store"]
