"""Wires ``Settings`` to the library objects the jobs use: store, state db, registry, rules, notifiers.

``Services`` is built once per daemon process (``build_services``) and handed to every job's
``run(services, *, now)``. Heavy or fallible parts (the registry, notifiers, the price source) are
built on first use. ``stop`` is set by SIGTERM/SIGINT: long jobs check it between units of work
(a replayed evaluation, a document batch) and end early, leaving the rest for the next run.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from jobs.leader import Election
from metrics.alerting.leader import with_application_name
from metrics.alerting.notify import Notification, Notifier, build_notifiers, close_notifiers
from metrics.alerting.rules import Rule, load_rules
from metrics.alerting.state import StateDB, open_db
from metrics.errors import ConfigError, TransientDeliveryError
from metrics.extraction.entities import Registry
from metrics.log import get_logger
from metrics.settings import Settings
from metrics.store.calendars import use_cache_dir
from metrics.store.prices import PriceSource
from metrics.store.prices.universe import price_cache_dir
from metrics.store.tables import Store

log = get_logger(__name__)


class RulesHolder:
    """The rules in force: the last good load of the rules file, reloaded when its content changes.

    ``load`` is strict (a bad file raises, so the daemon refuses to start); ``refresh`` is forgiving
    (a bad file logs ``rules.reload_failed`` once per bad version and keeps the last good rules).
    """

    def __init__(self, path: Path, channels: list[str]) -> None:
        self.path = path
        self.channels = channels
        self.rules: list[Rule] = []
        self.error: str | None = None          # why the current file version is not in force
        self._digest: str | None = None        # content hash of the version in force
        self._failed: str | None = None        # content hash of the last version that failed

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def load(self) -> list[Rule]:
        """Load the rules file; raises ``ConfigError``/``RuleError`` naming the rule and field."""

        digest = self._read_digest()
        self.rules = load_rules(self.path, channels=self.channels)
        self._digest, self.error = digest, None
        return self.rules

    def refresh(self) -> bool:
        """Reload if the file changed; True when new rules are in force. Errors keep the old ones."""

        digest = self._read_digest()
        if digest == self._digest:
            return False
        try:
            rules = load_rules(self.path, channels=self.channels)
        except ConfigError as e:
            self.error = str(e)
            if digest != self._failed:
                self._failed = digest
                log.error("rules.reload_failed", file=str(self.path), error=str(e),
                          kept=len(self.rules))
            return False
        self.rules, self._digest, self.error, self._failed = rules, digest, None, None
        log.info("rules.reloaded", file=str(self.path), rules=len(rules))
        return True


class BrokenChannel:
    """Stands for a channel whose notifier could not be built: every send fails as transient."""

    def __init__(self, channel: str, error: str) -> None:
        self.channel = channel
        self.error = error

    def send(self, notification: Notification) -> None:
        del notification
        raise TransientDeliveryError(f"channel could not be built: {self.error}", channel=self.channel)

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Services:
    """Everything a job needs, built from one ``Settings``."""

    settings: Settings
    store: Store
    db: StateDB
    rules: RulesHolder
    stop: threading.Event = field(default_factory=threading.Event)
    price_source_override: PriceSource | None = None
    channel_errors: dict[str, str] = field(default_factory=dict)   # channels that could not be built
    election: Election | None = None    # the daemon's leadership (None: a lone process, always leads)

    def leads(self) -> bool:
        """True when this process may run the jobs that must run once (fetch, ingest, evaluate,
        compact): it is the leader, or no election runs (a CLI command, a test)."""
        return self.election is None or self.election.is_leader()

    @cached_property
    def registry(self) -> Registry:
        """The company registry of ``<config>/companies.toml`` (``ConfigError`` names the entry)."""

        return Registry.load(self.settings.companies_file)

    @cached_property
    def notifiers(self) -> dict[str, Notifier]:
        """A notifier per configured channel, each built on its own: one that cannot be built is
        logged (``notify.channel_failed``) and replaced by one that fails each send as transient (its
        notifications are retried, then dead-lettered), and the others deliver. The daemon checks
        them all at start."""

        result: dict[str, Notifier] = {}
        for name, cfg in self.settings.channels.items():
            try:
                result.update(build_notifiers({name: cfg}, external_url=self.settings.public_url))
            except Exception as e:  # one channel never takes the others down
                self.channel_errors[name] = f"{type(e).__name__}: {e}"
                log.error("notify.channel_failed", channel=name, error=self.channel_errors[name])
                result[name] = BrokenChannel(name, self.channel_errors[name])
        return result

    @cached_property
    def price_source(self) -> PriceSource:
        """Where fresh bars come from: Yahoo through yfinance unless a test or caller gave one."""
        if self.price_source_override is not None:
            return self.price_source_override
        # stamina, tenacity and yfinance load at the first fetch (a first start fetches nothing)
        from metrics.store.prices.yahoo import YahooSource  # noqa: PLC0415 - yfinance is heavy; loaded only when used

        return YahooSource(cache_dir=price_cache_dir(self.settings.root),
                           max_attempts=self.settings.prices.max_attempts)

    def close(self) -> None:
        """Release connections (notifiers, the state database)."""
        if "notifiers" in self.__dict__:

            close_notifiers(self.notifiers)
        self.db.close()


def build_services(settings: Settings, *, price_source: PriceSource | None = None,
                   application_name: str | None = None) -> Services:
    """Open the store and the state database of ``settings``; rules are not loaded yet.

    ``application_name`` names this process's PostgreSQL sessions (the daemon's replica id, so that
    a follower can end a stalled leader's sessions: ``metrics.alerting.leader.evict``).
    """
    store = Store.from_settings(settings)
    use_cache_dir(settings.root / "cache" / "calendars")  # exchange calendars built once per store
    url = settings.database_url
    db = open_db(with_application_name(url, application_name) if application_name else url)
    rules = RulesHolder(settings.rules_file, sorted(settings.channels))
    return Services(settings=settings, store=store, db=db, rules=rules,
                    price_source_override=price_source)
