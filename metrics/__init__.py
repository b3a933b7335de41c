"""Financial-metrics time-series store and alerting: the library (see README, "How it fits together").

Three parts: ``store`` (the datasets and what is known when), ``extraction`` (figures from documents)
and ``alerting`` (rules, evaluation, the alert lifecycle, delivery), over the foundation ``errors``,
``log`` and ``settings``. The library never imports ``jobs`` (the application); the store imports
neither extraction nor alerting, and those two never import each other (``tests/test_boundaries.py``).

Everything users, notebooks and the daemon's jobs may rely on is re-exported here; the rest of the
modules are internal. ``tests/test_public_api.py`` keeps this list honest.
"""

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
