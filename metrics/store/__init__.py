"""The store: the datasets on disk and what feeds them.

Owns the tables (``tables``: facts, prices, alerts, documents), their declared schemas (``schema``),
market prices and their sources (``prices``), currency conversion (``fx``) and exchange calendars
(``calendars``). May import ``metrics.errors``, ``metrics.log`` and ``metrics.settings`` only; it knows
nothing of extraction or alerting.
"""
