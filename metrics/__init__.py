"""Financial-metrics time-series store and alerting: the library (see README, "How it fits together").

Three parts: ``store`` (the datasets and what is known when), ``extraction`` (figures from documents)
and ``alerting`` (rules, evaluation, the alert lifecycle, delivery), over the foundation ``errors``,
``log`` and ``settings``. The library never imports ``jobs`` (the application); the store imports
neither extraction nor alerting, and those two never import each other (``tests/test_boundaries.py``).

Everything users, notebooks and the daemon's jobs may rely on is re-exported here; the rest of the
modules are internal. ``tests/test_public_api.py`` keeps this list honest.

The names are resolved on first use (PEP 562 ``__getattr__``): ``import metrics`` loads none of
the parts, so a command that needs only the store does not pay for alerting or extraction.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from metrics.alerting.backtest import backtest
    from metrics.alerting.evaluate import evaluate
    from metrics.alerting.lifecycle import AlertState, Evaluation, Step, transition
    from metrics.alerting.outbox import deliver_due
    from metrics.alerting.rules import Rule, check_rules, load_rules
    from metrics.alerting.state import StateDB, open_db
    from metrics.alerting.tick import run_tick
    from metrics.errors import (
        CommitConflict,
        ConfigError,
        DeliveryError,
        DocumentError,
        Fenced,
        InputError,
        LockTimeout,
        MetricsError,
        PriceDataError,
        QueryError,
        RuleError,
        StoreError,
    )
    from metrics.extraction.documents import Article, Document, read_document, split_articles
    from metrics.extraction.entities import Company, Registry
    from metrics.extraction.extract import Fact, extract_article, extract_text
    from metrics.extraction.ingest import IngestReport, ingest_paths
    from metrics.settings import Settings, load_settings
    from metrics.store.fx import to_usd
    from metrics.store.prices import FetchReport, PriceSource, update_prices
    from metrics.store.query import query
    from metrics.store.tables import Store, open_store

_LAZY: dict[str, str] = {   # public name -> the module defining it (imported on first use)
    "AlertState": "metrics.alerting.lifecycle",
    "Article": "metrics.extraction.documents",
    "CommitConflict": "metrics.errors",
    "Company": "metrics.extraction.entities",
    "ConfigError": "metrics.errors",
    "DeliveryError": "metrics.errors",
    "Document": "metrics.extraction.documents",
    "DocumentError": "metrics.errors",
    "Evaluation": "metrics.alerting.lifecycle",
    "Fact": "metrics.extraction.extract",
    "Fenced": "metrics.errors",
    "FetchReport": "metrics.store.prices",
    "IngestReport": "metrics.extraction.ingest",
    "InputError": "metrics.errors",
    "LockTimeout": "metrics.errors",
    "MetricsError": "metrics.errors",
    "PriceDataError": "metrics.errors",
    "PriceSource": "metrics.store.prices",
    "QueryError": "metrics.errors",
    "Registry": "metrics.extraction.entities",
    "Rule": "metrics.alerting.rules",
    "RuleError": "metrics.errors",
    "Settings": "metrics.settings",
    "StateDB": "metrics.alerting.state",
    "Step": "metrics.alerting.lifecycle",
    "Store": "metrics.store.tables",
    "StoreError": "metrics.errors",
    "backtest": "metrics.alerting.backtest",
    "check_rules": "metrics.alerting.rules",
    "deliver_due": "metrics.alerting.outbox",
    "evaluate": "metrics.alerting.evaluate",
    "extract_article": "metrics.extraction.extract",
    "extract_text": "metrics.extraction.extract",
    "ingest_paths": "metrics.extraction.ingest",
    "load_rules": "metrics.alerting.rules",
    "load_settings": "metrics.settings",
    "open_db": "metrics.alerting.state",
    "open_store": "metrics.store.tables",
    "query": "metrics.store.query",
    "read_document": "metrics.extraction.documents",
    "run_tick": "metrics.alerting.tick",
    "split_articles": "metrics.extraction.documents",
    "to_usd": "metrics.store.fx",
    "transition": "metrics.alerting.lifecycle",
    "update_prices": "metrics.store.prices",
}

__all__ = [
    "AlertState",
    "Article",
    "CommitConflict",
    "Company",
    "ConfigError",
    "DeliveryError",
    "Document",
    "DocumentError",
    "Evaluation",
    "Fact",
    "Fenced",
    "FetchReport",
    "IngestReport",
    "InputError",
    "LockTimeout",
    "MetricsError",
    "PriceDataError",
    "PriceSource",
    "QueryError",
    "Registry",
    "Rule",
    "RuleError",
    "Settings",
    "StateDB",
    "Step",
    "Store",
    "StoreError",
    "backtest",
    "check_rules",
    "deliver_due",
    "evaluate",
    "extract_article",
    "extract_text",
    "ingest_paths",
    "load_rules",
    "load_settings",
    "open_db",
    "open_store",
    "query",
    "read_document",
    "run_tick",
    "split_articles",
    "to_usd",
    "transition",
    "update_prices",
]


def __getattr__(name: str) -> _typing.Any:
    """Import the module of public ``name`` on first use and bind it here (later lookups are plain)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
