"""Financial-metrics time-series store and alerting: the library (see README)."""

from metrics.store import Store, open_store

__all__ = ["Store", "open_store"]
