"""Alerting: rules over the store's series, the alert lifecycle and delivery.

Owns rules (``rules``), a rule's series loaded point in time (``series``), the feature specs and the
two engines computing them (``features``), evaluation (``evaluate``), the alert state machine
(``lifecycle``), backtests (``backtest``), one evaluation tick (``tick``), the state database
(``state``), the outbox and its channels (``outbox``, ``notify``) and how notifications read
(``render``). May import ``metrics.store`` and the top-level ``errors``/``log``/``settings``; never
extraction, never ``jobs``, never the ``metrics`` package itself (``tests/test_boundaries.py``).
"""
