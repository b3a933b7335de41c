"""The store: the datasets on disk and what feeds them.

Owns the tables (``tables``: facts, prices, alerts, documents), their declared schemas (``schema``),
what is known on a given day (``pit``: the one definition of point in time), market prices and their
sources (``prices``), currency conversion (``fx``) and exchange calendars (``calendars``). May import
``metrics.errors``, ``metrics.log`` and ``metrics.settings`` only; it knows nothing of extraction or
alerting, nor of ``jobs`` (``tests/test_boundaries.py``).
"""
