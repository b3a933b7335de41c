"""Alerting: rules over the store's series, the alert lifecycle and delivery.

Owns rules (``rules``), evaluation (``evaluate``), the alert state machine (``lifecycle``), backtests
(``backtest``), one evaluation tick (``tick``), the state database (``state``), the outbox and its
channels (``outbox``, ``notify``) and how notifications read (``render``). May import ``metrics.store``
and the top-level ``errors``/``log``/``settings``; never extraction.
"""
