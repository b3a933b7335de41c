"""What the web view reads: the state database and the store, never their internals.

The state database is read with SQLAlchemy Core selects over the tables that
``metrics.alerting.state`` declares (and written only through ``StateDB``'s silence methods); the
store is read through ``Store.scan(name)`` LazyFrames only. Every function returns plain
dicts of JSON-ready scalars (NaN becomes None) that both the JSON API and the pages use.

An alert is an instance (rule, entity); its id is the Alertmanager-style fingerprint
``metrics.alerting.render.fingerprint(rule, entity)``. The alerts list holds the pending and firing
instances and the instances whose last change was a resolve within ``resolved_days`` of now.

(Over 400 lines: every query the web view makes, kept in one module so that the view's only
contact with the state database and the store is visible in one place.)
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from jobs.status import jobs_status
from metrics.alerting.render import fingerprint, threshold_of
from metrics.alerting.rules import Rule, load_rules
from metrics.alerting.state import (
    StateDB,
    alert_states,
    delivery_attempts,
    delivery_status,
    notifications,
    transitions,
)
from metrics.errors import ConfigError, DocumentError
from metrics.extraction.documents import read_document
from metrics.settings import Settings
from metrics.store.tables import Store

SMA = re.compile(r"\bsma_(\d+)\b")
FACT_ID = re.compile(r"\b[0-9a-f]{20}\b")
FACT_COLUMNS = (
    "fact_id",
    "doc",
    "doc_hash",
    "article",
    "published",
    "entity",
    "ticker",
    "metric",
    "value",
    "low",
    "high",
    "qualifier",
    "unit",
    "period",
    "kind",
    "quote",
    "span_start",
    "span_end",
    "value_usd",
    "repaired",
    "ingested_at",
)
DATASET_NAMES = ("prices", "facts", "alerts", "documents")


def clean(v: Any) -> Any:
    """A scalar fit for JSON: NaN and infinities become None."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: clean(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a document's text; ``fact_id`` set when it is a fact's quote (to be highlighted)."""

    text: str
    fact_id: str | None = None


def segments(text: str, spans: Sequence[tuple[int, int, str]]) -> list[Segment]:
    """``text`` cut at the facts' spans ``(start, end, fact_id)``; overlapping spans keep the first."""
    out: list[Segment] = []
    pos = 0
    for start, end, fid in sorted(spans):
        if start < pos or end <= start or end > len(text):
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], fid))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


class Reader:
    """Reads for the web view: alerts, facts, documents, status and silences.

    ``now`` is the clock (a test passes a fixed one). The rules file is read again when it changes
    (its severity, channels, series and condition describe the alerts); a bad file leaves the last
    good rules and reports the error in ``status``.
    """

    def __init__(
        self, settings: Settings, db: StateDB, store: Store, *, now: Callable[[], dt.datetime]
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.now = now
        self._lock = threading.Lock()
        self._rules: dict[str, Rule] = {}
        self._rules_stamp: tuple[float, int] | None = None
        self.rules_error: str | None = None

    # -- rules ----------------------------------------------------------------------------------

    def rules(self) -> dict[str, Rule]:
        """The rules of ``settings.rules_file`` by name (the last good load)."""

        path = self.settings.rules_file
        try:
            st = path.stat()
            stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._rules_stamp:
                self._rules_stamp = stamp
                if stamp is None:
                    self._rules, self.rules_error = {}, None
                else:
                    try:
                        rules = load_rules(path, channels=list(self.settings.channels))
                        self._rules, self.rules_error = {r.name: r for r in rules}, None
                    except ConfigError as e:
                        self.rules_error = str(e)
            return dict(self._rules)

    # -- alerts ---------------------------------------------------------------------------------

    def _instances(self) -> list[dict[str, Any]]:
        """Every alert instance with its latest transition (state, at, severity, summary)."""
        last = (
            sa.select(transitions.c.rule, transitions.c.entity, sa.func.max(transitions.c.at).label("at"))
            .group_by(transitions.c.rule, transitions.c.entity)
            .subquery()
        )
        latest = sa.select(
            transitions.c.rule,
            transitions.c.entity,
            transitions.c.state,
            transitions.c.at,
            transitions.c.severity,
            transitions.c.summary,
            transitions.c.value,
        ).join(
            last,
            sa.and_(
                transitions.c.rule == last.c.rule,
                transitions.c.entity == last.c.entity,
                transitions.c.at == last.c.at,
            ),
        )
        chans = sa.select(notifications.c.rule, notifications.c.entity, notifications.c.channel).distinct()
        with self.db.read() as conn:
            states = [dict(r._mapping) for r in conn.execute(sa.select(alert_states))]
            last_by = {(r.rule, r.entity): dict(r._mapping) for r in conn.execute(latest)}
            channels: dict[tuple[str, str], set[str]] = {}
            for r in conn.execute(chans):
                channels.setdefault((r.rule, r.entity), set()).add(r.channel)
        silences = self.db.silences(now=self.now())
        rules = self.rules()
        out = []
        for s in states:
            key = (s["rule"], s["entity"])
            t = last_by.get(key, {})
            rule = rules.get(s["rule"])
            state = s["state"]
            if state == "inactive" and t.get("state") == "resolved":
                state = "resolved"
            out.append(
                {
                    "id": fingerprint(*key),
                    "rule": s["rule"],
                    "entity": s["entity"],
                    "state": state,
                    "severity": t.get("severity") or (rule.severity if rule else None),
                    "value": clean(s["value"]),
                    "summary": t.get("summary"),
                    "active_since": s["active_since"],
                    "fired_at": s["fired_at"],
                    "last_change": t.get("at"),
                    "channels": sorted(channels.get(key, set()) | set(rule.channels if rule else ())),
                    "series": rule.series if rule else None,
                    "silenced": any(x.matches(s["rule"], s["entity"], now=self.now()) for x in silences),
                }
            )
        return out

    def alerts(
        self,
        *,
        rule: str | None = None,
        entity: str | None = None,
        severity: str | None = None,
        channel: str | None = None,
        state: str | None = None,
        resolved_days: int = 7,
        among: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Pending, firing and recently resolved alerts, filtered; firing first, then by last change.

        ``among``: filter these alerts (an earlier answer of this method) instead of reading them again.
        """
        cutoff = self.now() - dt.timedelta(days=resolved_days)
        order = {"firing": 0, "pending": 1, "resolved": 2}
        rows = []
        for a in self._instances() if among is None else among:
            if a["state"] not in order:
                continue
            if a["state"] == "resolved" and (a["last_change"] is None or a["last_change"] < cutoff):
                continue
            if (
                (rule and a["rule"] != rule)
                or (entity and a["entity"] != entity)
                or (severity and a["severity"] != severity)
                or (channel and channel not in a["channels"])
                or (state and a["state"] != state)
            ):
                continue
            rows.append(a)
        floor = dt.datetime.min.replace(tzinfo=dt.UTC)
        rows.sort(
            key=lambda a: (
                order[a["state"]],
                -(a["last_change"] or floor).timestamp(),
                a["rule"],
                a["entity"],
            )
        )
        return rows

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        """One alert with its transitions, notifications (with attempts) and facts; None if unknown."""
        found = next((a for a in self._instances() if a["id"] == alert_id), None)
        if found is None:
            return None
        rule_name, entity = found["rule"], found["entity"]
        rule = self.rules().get(rule_name)
        with self.db.read() as conn:
            trans = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(
                        transitions.c.alert_id,
                        transitions.c.state,
                        transitions.c.at,
                        transitions.c.value,
                        transitions.c.severity,
                        transitions.c.summary,
                        transitions.c.statement,
                    )
                    .where(transitions.c.rule == rule_name, transitions.c.entity == entity)
                    .order_by(transitions.c.at)
                )
            ]
            notes = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(
                        notifications.c.id,
                        notifications.c.state,
                        notifications.c.channel,
                        notifications.c.status,
                        notifications.c.attempts,
                        notifications.c.created_at,
                        notifications.c.next_attempt_at,
                        notifications.c.delivered_at,
                        notifications.c.last_error,
                    )
                    .where(notifications.c.rule == rule_name, notifications.c.entity == entity)
                    .order_by(notifications.c.id)
                )
            ]
            ids = [n["id"] for n in notes]
            attempts: dict[int, list[dict[str, Any]]] = {}
            for i in range(0, len(ids), 500):
                for r in conn.execute(
                    sa.select(delivery_attempts)
                    .where(delivery_attempts.c.notification_id.in_(ids[i : i + 500]))
                    .order_by(delivery_attempts.c.id)
                ):
                    attempts.setdefault(r.notification_id, []).append(
                        {"attempt": r.attempt, "at": r.at, "outcome": r.outcome, "error": r.error}
                    )
        for t in trans:
            t["value"] = clean(t["value"])
        for n in notes:
            n["delivery_attempts"] = attempts.get(n["id"], [])
        return {
            **found,
            "condition": rule.condition if rule else None,
            "threshold": threshold_of(rule.condition) if rule else None,
            "transitions": trans,
            "notifications": notes,
            "facts": self._facts_behind(rule, entity, trans),
        }

    def _facts_behind(
        self, rule: Rule | None, entity: str, trans: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The statements a fact rule fired on; for a price rule, the entity's facts published by then."""
        ids = sorted({m for t in trans for m in FACT_ID.findall(t.get("statement") or "")})
        facts = self.store.scan("facts")
        if ids:
            lf = facts.filter(pl.col("fact_id").is_in(ids))
        else:
            lf = facts.filter((pl.col("entity") == entity) | (pl.col("ticker") == entity))
            if trans:
                lf = lf.filter(pl.col("published") <= trans[-1]["at"].date())
            if rule is not None and rule.source == "facts":
                lf = lf.filter(pl.col("metric") == rule.column)
        return _rows(lf.sort("published", "fact_id", descending=True, nulls_last=True).head(20).collect())

    # -- series for charts ------------------------------------------------------------------------

    def alert_series(self, alert: dict[str, Any]) -> tuple[str, list[tuple[dt.date, float]]]:
        """The label and points of the series an alert watches (empty for unknown or derived rules)."""
        rule = self.rules().get(alert["rule"])
        entity = alert["entity"]
        if rule is None:
            return alert["rule"], []
        ats = [t["at"] for t in alert["transitions"]]
        if rule.source == "prices":
            first = min(ats).date() - dt.timedelta(days=180) if ats else None
            df = self._bars(entity, start=first, column=rule.column)
            return f"{entity} {rule.column}", [(d, float(v)) for d, v in df.iter_rows()]
        if rule.source == "facts":
            df = (
                self.store.scan("facts")
                .filter(pl.col("entity") == entity, pl.col("metric") == rule.column)
                .select("published", "value")
                .drop_nulls()
                .sort("published")
                .collect()
            )
            return f"{entity} {rule.column}", [(d, float(v)) for d, v in df.iter_rows()]
        return f"{entity} {rule.series}", []

    def moving_average(self, alert: dict[str, Any]) -> tuple[str, list[tuple[dt.date, float]]] | None:
        """For a price rule whose condition names ``sma_N``: that average over the alert's chart window."""
        rule = self.rules().get(alert["rule"])
        m = SMA.search(rule.condition) if rule is not None and rule.source == "prices" else None
        if rule is None or m is None:
            return None
        window = int(m.group(1))
        ats = [t["at"] for t in alert["transitions"]]
        shown = min(ats).date() - dt.timedelta(days=180) if ats else None
        start = shown - dt.timedelta(days=2 * window + 30) if shown is not None else None
        df = (self._bars(alert["entity"], start=start, column=rule.column)
              .with_columns(pl.col(rule.column).rolling_mean(window).alias("sma"))
              .drop_nulls("sma"))
        if shown is not None:
            df = df.filter(pl.col("date") >= shown)
        return f"sma_{window}", [(d, float(v)) for d, v in df.select("date", "sma").iter_rows()]

    def _bars(self, ticker: str, *, start: dt.date | None, column: str) -> pl.DataFrame:
        lf = self.store.scan("prices").filter(pl.col("ticker") == ticker)
        if start is not None:
            lf = lf.filter(pl.col("date") >= start)
        return lf.select("date", column).drop_nulls().sort("date").collect()

    def price_series(
        self, ticker: str, *, start: dt.date | None = None, column: str = "close"
    ) -> list[tuple[dt.date, float]]:
        """The daily ``column`` of ``ticker`` from ``start``."""
        df = self._bars(ticker, start=start, column=column)
        return [(d, float(v)) for d, v in df.iter_rows()]

    # -- facts, companies and documents -------------------------------------------------------------

    def facts(
        self,
        *,
        entity: str | None = None,
        metric: str | None = None,
        period: str | None = None,
        kind: str | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        doc_hash: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Facts matching the filters, newest published first: (total, one page)."""
        lf = self.store.scan("facts")
        if entity:
            lf = lf.filter((pl.col("entity") == entity) | (pl.col("ticker") == entity))
        for col, val in (("metric", metric), ("period", period), ("kind", kind), ("doc_hash", doc_hash)):
            if val:
                lf = lf.filter(pl.col(col) == val)
        if published_from is not None:
            lf = lf.filter(pl.col("published") >= published_from)
        if published_to is not None:
            lf = lf.filter(pl.col("published") <= published_to)
        df = lf.sort(
            ["published", "entity", "metric", "fact_id"],
            descending=[True, False, False, False],
            nulls_last=True,
        ).collect()
        return df.height, _rows(df.slice(offset, limit))

    def fact(self, fact_id: str) -> dict[str, Any] | None:
        """One fact by id."""
        df = self.store.scan("facts").filter(pl.col("fact_id") == fact_id).collect()
        return _rows(df)[0] if df.height else None

    def fact_context(self, fact: dict[str, Any], *, width: int = 160) -> dict[str, Any] | None:
        """The text around a fact's quote in its document (``before``, ``quote``, ``after``), or None."""
        doc_hash, start, end = fact.get("doc_hash"), fact.get("span_start"), fact.get("span_end")
        if not doc_hash or start is None or end is None:
            return None
        df = (
            self.store.scan("documents")
            .filter(pl.col("doc_hash") == doc_hash, pl.col("status") == "ok")
            .select("path")
            .collect()
        )
        if not df.height:
            return None
        text, _problem = _read_text(Path(str(df["path"][0])), str(doc_hash))
        if text is None or not 0 <= start < end <= len(text):
            return None
        lo, hi = max(0, start - width), min(len(text), end + width)
        return {
            "before": ("…" if lo else "") + text[lo:start],
            "quote": text[start:end],
            "after": text[end:hi] + ("…" if hi < len(text) else ""),
        }

    def entities(self) -> list[dict[str, Any]]:
        """Every entity with facts: name, ticker and number of facts."""
        df = (
            self.store.scan("facts")
            .group_by("entity")
            .agg(pl.col("ticker").drop_nulls().first(), pl.len().alias("facts"))
            .sort("entity")
            .collect()
        )
        return _rows(df)

    def company(self, entity: str) -> dict[str, Any] | None:
        """An entity (name or ticker): its facts by metric over time, its ticker and latest price."""
        facts = (
            self.store.scan("facts")
            .filter((pl.col("entity") == entity) | (pl.col("ticker") == entity))
            .sort("metric", "published", "period", nulls_last=True)
            .collect()
        )
        ticker = None
        name = entity
        if facts.height:
            name = str(facts["entity"][0])
            tickers = facts["ticker"].drop_nulls()
            ticker = str(tickers[0]) if len(tickers) else None
        elif self._prices(entity).select("date").head(1).collect().height:
            ticker = entity
        else:
            return None
        bars = (
            self._prices(ticker).select("date", "close", "currency").sort("date").collect()
            if ticker
            else None
        )
        last = _rows(bars.tail(1))[0] if bars is not None and bars.height else None
        return {
            "entity": name,
            "ticker": ticker,
            "facts": _rows(facts),
            "bars": bars.height if bars is not None else 0,
            "last_price": last,
        }

    def _prices(self, ticker: str) -> pl.LazyFrame:
        return self.store.scan("prices").filter(pl.col("ticker") == ticker)

    def documents(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Ingested and failed documents (with the reason), newest first."""
        lf = self.store.scan("documents")
        if status:
            lf = lf.filter(pl.col("status") == status)
        return _rows(lf.sort("ingested_at", descending=True).collect())

    def document(self, doc_hash: str) -> dict[str, Any] | None:
        """A document: its registry row, its facts and its text cut into highlighted segments."""
        df = self.store.scan("documents").filter(pl.col("doc_hash") == doc_hash).collect()
        if not df.height:
            return None
        row = _rows(df)[0]
        _total, facts = self.facts(doc_hash=doc_hash, limit=100_000)
        text, problem = None, None
        if row["status"] == "ok":
            text, problem = _read_text(Path(str(row["path"])), doc_hash)
        spans = [
            (int(f["span_start"]), int(f["span_end"]), str(f["fact_id"]))
            for f in facts
            if f["span_start"] is not None and f["span_end"] is not None
        ]
        return {
            **row,
            "facts": sorted(facts, key=lambda f: f["span_start"] or 0),
            "text": text,
            "text_problem": problem,
            "segments": segments(text, spans) if text is not None else [],
        }

    # -- status and silences ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Jobs (last runs, lags, the daemon holding the store), the outbox and dead letters, datasets."""

        now = self.now()
        jobs = jobs_status(self.db, self.settings, now=now)
        datasets = [
            {"name": name, "rows": int(self.store.scan(name).select(pl.len()).collect().item())}
            for name in DATASET_NAMES
        ]
        self.rules()
        return {
            "now": now,
            **jobs,
            "deliveries": delivery_status(self.db),
            "datasets": datasets,
            "rules": len(self._rules),
            "rules_error": self.rules_error,
        }

    def silences(self) -> list[dict[str, Any]]:
        """Every silence, newest first, with whether it is active now."""
        now = self.now()
        return [
            {
                "id": s.id,
                "rule": s.rule,
                "entity": s.entity,
                "reason": s.reason,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "active": s.created_at <= now < s.expires_at,
            }
            for s in reversed(self.db.silences())
        ]


def _read_text(path: Path, doc_hash: str) -> tuple[str | None, str | None]:
    """The document's text as ingested, or None and why not (moved, changed since ingest, unreadable)."""

    if not path.exists():
        return None, f"{path} is no longer there"
    try:
        doc = read_document(path)
    except DocumentError as e:
        return None, str(e)
    if doc.doc_hash != doc_hash:
        return None, f"{path} changed since it was ingested"
    return doc.text, None
