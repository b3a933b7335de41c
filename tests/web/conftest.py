"""Fixtures of the web view: a store and state database with known alerts, built by the real pipeline.

One made-up company (Acme Widgets, ACME) and one bare ticker (BOLT): their daily closes are
written to the store, a document of our own (holding ``<script>`` in its headline and text) is
ingested, the rules below are evaluated tick by tick at each close, and the outbox is delivered
once (the ``ops`` webhook points at a closed port, so its attempts fail and are recorded).
Known outcome at ``NOW``: ``acme-under-100`` firing for ACME (pending, firing, resolved, pending,
firing), ``bolt-over-50`` resolved for BOLT on 2026-03-04 (fired 2026-01-05), and
``acme-revenue-reported`` firing for Acme Widgets (the revenue statement published 2026-03-02).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from metrics.alerting.notify import build_notifiers, close_notifiers
from metrics.alerting.outbox import deliver_due
from metrics.alerting.rules import load_rules
from metrics.alerting.state import open_db
from metrics.alerting.tick import run_tick
from metrics.extraction.entities import Registry
from metrics.extraction.ingest import ingest_paths
from metrics.settings import Settings, load_settings
from metrics.store.tables import Store

SECRET = "whsec_c2VjcmV0LW9mLXRoZS13ZWItdGVzdHMtMDEyMzQ1"
TOKEN = "tok-web-tests-6f1d2a"
START = dt.date(2026, 1, 5)          # a Monday
DAYS = 45                            # business days: the last is 2026-03-06
NOW = dt.datetime(2026, 3, 6, 22, 0, tzinfo=dt.UTC)

COMPANIES = """
[[company]]
name = "Acme Widgets"
ticker = "ACME"
exchange = "XNYS"
currency = "USD"
aliases = ["艾克米", "Acme Widgets Inc"]
"""

RULES = """
[[rules]]
name = "acme-under-100"
series = "prices.close"
entities = ["ACME"]
condition = "value < 100"
for = "1 bars"
severity = "critical"
channels = ["log"]
summary = "{entity} closed at {value:.2f}"

[[rules]]
name = "bolt-over-50"
series = "prices.close"
entities = ["BOLT"]
condition = "value > 50"
severity = "warning"
repeat_interval = "0"
channels = ["log"]
summary = "{entity} closed at {value:.2f}"

[[rules]]
name = "acme-revenue-reported"
series = "facts.revenue"
entities = ["Acme Widgets"]
condition = "value > 0"
severity = "info"
channels = ["ops"]
summary = "{entity} reported revenue of {value_usd}"
"""

# Our own words; the headline and the text carry markup that must be shown as text.
DOCUMENT = (
    '艾克米第三季度营收创新高 <script>alert("headline")</script>\n'
    "财经日报 · 2026-03-02 08:00\n\n"
    "艾克米公司周一公布，2025年第三季度营收120亿美元，同比增长15%。"
    '公司表示<script>alert("body")</script>这段文字只用于测试。\n'
)


def closes() -> list[float]:
    """ACME's closes: 110, a dip under 100 on days 20-24, 105, another dip from day 40 on."""
    return [110.0 - (i % 3) if i < 20 else 95.0 if i < 25 else 105.0 if i < 40 else 90.0 for i in range(DAYS)]


def business_days() -> list[dt.date]:
    days, d = [], START
    while len(days) < DAYS:
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    return days


def bars(ticker: str, values: list[float], fetched: dt.datetime) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({
        "ticker": [ticker] * n, "date": business_days(), "open": values, "high": values, "low": values,
        "close": values, "adj_close": values, "volume": [1000] * n, "currency": ["USD"] * n,
        "source": ["file:test"] * n, "fetched_at": [fetched] * n,
    })


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Site:
    """The built store: its settings (root, config) and the fixed clock."""

    settings: Settings
    now: dt.datetime
    document: Path


def write_config(folder: Path, *, webhook_port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "companies.toml").write_text(COMPANIES, encoding="utf-8")
    (folder / "rules.toml").write_text(RULES, encoding="utf-8")
    (folder / "settings.toml").write_text(
        '[channels.log]\ntype = "log"\n\n'
        f'[channels.ops]\ntype = "webhook"\nurl = "http://127.0.0.1:{webhook_port}/hook"\n'
        f'secret = "{SECRET}"\n\n[prices]\nfetch = false\nseed_files = []\n',
        encoding="utf-8")
    return folder


def build_site(base: Path) -> Site:
    """Store, state database and config under ``base``, filled by the real pipeline (see the module)."""
    config = write_config(base / "config", webhook_port=closed_port())
    settings = load_settings(config, root=base / "root", env={})
    store = Store(settings.root)
    first = dt.datetime.combine(START, dt.time(21), tzinfo=dt.UTC)
    store.append("prices", bars("ACME", closes(), first), now=first)
    store.append("prices", bars("BOLT", [60.0] * (DAYS - 3) + [50.0] * 3, first), now=first)
    inbox = base / "inbox"
    inbox.mkdir()
    document = inbox / "acme-q3.txt"
    document.write_text(DOCUMENT, encoding="utf-8")
    (inbox / "broken<img src=x>.txt").write_bytes(b"\x00\x01 not text")  # markup in a name and an error
    ingest_paths([inbox], store, Registry.load(settings.companies_file),
                 now=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    rules = load_rules(settings.rules_file, channels=list(settings.channels))
    db = open_db(settings.database_url)
    notifiers = build_notifiers(settings.channels)
    try:
        for day in business_days():
            at = dt.datetime.combine(day, dt.time(21), tzinfo=dt.UTC)
            run_tick(store, db, rules, now=at)
        deliver_due(db, notifiers, now=NOW - dt.timedelta(minutes=30))
    finally:
        close_notifiers(notifiers)
        db.close()
    return Site(settings=settings, now=NOW, document=document)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The known store, built once per session (tests that write use ``site``)."""
    return build_site(tmp_path_factory.mktemp("web-site"))


@pytest.fixture
def site(built_site: Site, tmp_path: Path) -> Iterator[Site]:
    """A private copy of the known store, for a test that adds or expires silences."""
    base = built_site.settings.root.parent
    shutil.copytree(base, tmp_path / "site", symlinks=True)
    root = tmp_path / "site" / "root"
    settings = load_settings(tmp_path / "site" / "config", root=root, env={})
    yield Site(settings=settings, now=built_site.now, document=built_site.document)
