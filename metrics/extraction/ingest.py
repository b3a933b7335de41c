"""Ingesting documents: read, split, extract, and store facts with provenance.

``ingest_paths(paths, store, registry, *, now, dry_run=False)`` expands folders (recursively, the
suffixes of ``metrics.extraction.documents.SUFFIXES``, hidden files skipped), reads each document, skips one
whose content hash the ``documents`` registry already holds with status ``ok`` (unless
``dry_run``), splits it into articles, runs ``metrics.extraction.extract.extract_article`` on each, and builds
rows of the ``facts`` dataset:

- ``doc`` = file name, ``doc_hash`` = sha256 of the bytes, ``article`` = headline, ``published``;
- ``fact_id`` = sha256 of ``doc_hash|span_start|span_end|metric|entity``, first 20 hex digits: the
  same document always gives the same ids, so ingesting it twice stores no second copy;
- ``value_usd`` = ``metrics.store.fx.to_usd(value, unit, published)`` for currency units; null when
  the publication date is unknown or the currency has no rate that day (never another day's rate);
- ``ingested_at`` = ``now``.

One fact per id (a figure repeated at the same place is one fact). Every document is registered
in the ``documents`` dataset with status ``ok`` or ``failed`` (error, article and fact counts), so
``metrics status`` lists failures; when a path that failed before is ingested successfully, its
failed record is marked ``resolved``. A failing document never stops the batch: the report names
it, and so does any unexpected failure of one document (named as a ``DocumentError``). A value that
is not finite is never stored. Text from documents is only ever data here (stored as strings);
escaping for markup happens where alerts are rendered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from metrics.errors import DocumentError, InputError, MetricsError
from metrics.extraction.documents import (
    DEFAULT_MAX_BYTES,
    SUFFIXES,
    Article,
    Document,
    read_document,
    split_articles,
)
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, Unattributed, extract_article
from metrics.log import get_logger
from metrics.store.fx import to_usd
from metrics.store.schema import DOCUMENTS, FACTS, NON_MONEY_UNITS
from metrics.store.tables import Store


def _log() -> Any:
    # looked up per use: a logger bound at import would keep the stderr of that moment
    return get_logger(__name__)


Status = Literal["ok", "failed", "skipped"]
FLUSH_EVERY = 200  # documents per store write


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """What happened to one document."""

    path: Path
    name: str
    doc_hash: str | None
    status: Status
    error: str | None = None
    articles: int = 0
    facts: int = 0
    encoding: str | None = None


@dataclass(slots=True)
class IngestReport:
    """The outcome of one ingest: per-document results and the fact rows (FACTS schema)."""

    results: list[DocumentResult] = field(default_factory=list)
    rows: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FACTS))
    errors: list[MetricsError] = field(default_factory=list)
    dry_run: bool = False
    # figures no known company takes (when asked for): doc, article, metric, value, unit, quote, sentence
    unattributed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def documents(self) -> int:
        """Documents read and extracted (not skipped, not failed)."""
        return sum(r.status == "ok" for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skipped" for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)

    @property
    def facts(self) -> int:
        return self.rows.height

    @property
    def ok(self) -> bool:
        return self.failed == 0


def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[DocumentError]]:
    """The document files under ``paths`` (folders recursively, sorted) and errors for bad paths."""
    files: list[Path] = []
    errors: list[DocumentError] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.suffix.lower() in SUFFIXES and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            inside = p.resolve()
            for f in [f for f in found if not f.resolve().is_relative_to(inside)]:  # a symlink out
                _log().warning("ingest.outside_folder", path=str(f), target=str(f.resolve()),
                               folder=str(p), action="skipped")
                found.remove(f)
        elif p.is_file():
            if p.suffix.lower() not in SUFFIXES:
                errors.append(DocumentError(
                    f"unsupported file type {p.suffix or '(none)'!r} (accepted: {', '.join(SUFFIXES)})",
                    source=p))
                continue
            found = [p]
        else:
            errors.append(DocumentError("no such file or folder", source=p))
            continue
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files, errors


def fact_id(doc_hash: str, span_start: int, span_end: int, metric: str, entity: str) -> str:
    """Stable id of a fact: the same statement of the same document always gets the same id."""
    raw = f"{doc_hash}|{span_start}|{span_end}|{metric}|{entity}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


def _failed_key(path: Path) -> str:
    """Registry key of a document whose bytes could not be hashed (too large, unreadable)."""
    return "path:" + hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()


def _value_usd(value: float | None, unit: str | None, published: dt.date | None) -> float | None:
    """The value in USD at the publication date's rate; None without a date (never another day's
    rate), for a currency without a rate, or when the result is not finite."""
    if value is None or not unit or unit in NON_MONEY_UNITS or published is None:
        return None
    try:
        usd = to_usd(value, unit, published)
    except Exception as e:
        _log().warning("ingest.fx_failed", unit=unit, published=str(published), error=str(e))
        return None
    return usd if usd is not None and math.isfinite(usd) else None


def document_rows(doc: Document, articles: Sequence[Article], facts_per_article: Sequence[Sequence[Fact]], *,
                  now: dt.datetime) -> list[dict[str, Any]]:
    """Fact rows (FACTS columns) of one document, one per fact id."""
    rows: dict[str, dict[str, Any]] = {}
    for article, facts in zip(articles, facts_per_article, strict=True):
        for f in facts:
            if not all(v is None or math.isfinite(v) for v in (f.value, f.low, f.high)):
                continue  # never store a non-finite value (the grammar refuses them already)
            fid = fact_id(doc.doc_hash, f.span_start, f.span_end, f.metric, f.entity)
            if fid in rows:
                continue
            rows[fid] = {
                "fact_id": fid, "doc": doc.name, "doc_hash": doc.doc_hash, "article": article.headline,
                "published": article.published, "entity": f.entity, "ticker": f.ticker, "metric": f.metric,
                "value": f.value, "low": f.low, "high": f.high, "qualifier": f.qualifier, "unit": f.unit,
                "period": f.period, "kind": f.kind, "quote": f.quote, "span_start": f.span_start,
                "span_end": f.span_end,
                "value_usd": _value_usd(f.value, f.unit, article.published),
                "repaired": f.repaired, "ingested_at": now,
            }
    return list(rows.values())


def _registered(store: Store) -> tuple[set[str], dict[str, list[str]]]:
    """Hashes registered ok, and failed registry keys by path."""
    try:
        docs = store.scan("documents").select("doc_hash", "path", "status").collect()
    except Exception as e:
        _log().warning("ingest.registry_unreadable", error=str(e))
        return set(), {}
    ok = set(docs.filter(pl.col("status") == "ok").get_column("doc_hash").to_list())
    failed: dict[str, list[str]] = {}
    for h, p in docs.filter(pl.col("status") == "failed").select("doc_hash", "path").iter_rows():
        failed.setdefault(str(p), []).append(str(h))
    return ok, failed


def ingest_paths(paths: Iterable[Path | str], store: Store, registry: Registry, *, now: dt.datetime,
                 dry_run: bool = False, max_bytes: int = DEFAULT_MAX_BYTES,
                 progress: Callable[[Path], None] | None = None, unattributed: bool = False) -> IngestReport:
    """Ingest documents under ``paths``; see the module docstring. ``progress`` is called per file;
    with ``unattributed`` the report also lists the figures no known company takes."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    files, path_errors = expand_paths(paths)
    report = IngestReport(dry_run=dry_run)
    registered_ok, failed_by_path = _registered(store) if not dry_run else (set(), {})
    seen_hashes: dict[str, str] = {}
    fact_batches: list[pl.DataFrame] = []
    all_frames: list[pl.DataFrame] = []
    doc_rows: list[dict[str, Any]] = []

    for err in path_errors:
        report.errors.append(err)
        report.results.append(DocumentResult(Path(err.source or ""), Path(err.source or "").name, None,
                                             "failed", str(err)))
        _log().warning("ingest.failed", path=err.source, error=str(err))

    def flush() -> None:
        if dry_run:
            return
        if fact_batches:
            store.append("facts", pl.concat(fact_batches, how="vertical"), now=now)
            fact_batches.clear()
        if doc_rows:
            store.append("documents", pl.DataFrame(doc_rows, schema=DOCUMENTS), now=now)
            doc_rows.clear()

    def record(path: Path, key: str, status: str, *, size: int | None, encoding: str | None,
               error: str | None, articles: int, facts: int) -> None:
        doc_rows.append({"doc_hash": key, "path": str(path), "name": path.name, "size": size,
                         "encoding": encoding, "status": status, "error": error, "articles": articles,
                         "facts": facts, "ingested_at": now})

    pending = 0
    for path in files:
        if progress is not None:
            progress(path)
        try:
            doc = read_document(path, max_bytes=max_bytes)
        except Exception as caught:  # one document that breaks the reader never stops the batch
            e = caught if isinstance(caught, InputError) else DocumentError(
                f"unreadable: {type(caught).__name__}: {caught}".splitlines()[0], source=path)
            report.errors.append(e)
            key = _failed_key(path)
            size = path.stat().st_size if path.exists() else None
            report.results.append(DocumentResult(path, path.name, None, "failed", str(e)))
            record(path, key, "failed", size=size, encoding=None, error=str(e), articles=0, facts=0)
            _log().warning("ingest.failed", path=str(path), error=str(e))
            pending += 1
            continue
        if doc.doc_hash in registered_ok or doc.doc_hash in seen_hashes:
            why = (f"same content as {seen_hashes[doc.doc_hash]}" if doc.doc_hash in seen_hashes
                   else "already ingested")
            report.results.append(DocumentResult(path, doc.name, doc.doc_hash, "skipped", why,
                                                 encoding=doc.encoding))
            _log().info("ingest.skipped", path=str(path), reason=why)
            continue
        seen_hashes[doc.doc_hash] = doc.name
        try:
            articles = split_articles(doc)
            missed: list[list[Unattributed]] = [[] for _ in articles]
            facts = [extract_article(a, registry, unattributed=m)
                     for a, m in zip(articles, missed, strict=True)]
            rows = document_rows(doc, articles, facts, now=now)
            if unattributed:
                report.unattributed += [
                    {"doc": doc.name, "article": a.headline, "published": a.published, "metric": u.metric,
                     "value": u.value, "unit": u.unit, "quote": u.quote, "sentence": u.sentence,
                     "span_start": u.span_start, "span_end": u.span_end}
                    for a, ms in zip(articles, missed, strict=True) for u in ms]
        except Exception as e:
            err = DocumentError(f"extraction failed: {type(e).__name__}: {e}", source=path)
            report.errors.append(err)
            report.results.append(DocumentResult(path, doc.name, doc.doc_hash, "failed", str(err),
                                                 encoding=doc.encoding))
            record(path, doc.doc_hash, "failed", size=doc.size, encoding=doc.encoding, error=str(err),
                   articles=0, facts=0)
            _log().error("ingest.failed", path=str(path), error=str(err))
            pending += 1
            continue
        frame = pl.DataFrame(rows, schema=FACTS) if rows else pl.DataFrame(schema=FACTS)
        if frame.height:
            fact_batches.append(frame)
        report.results.append(DocumentResult(path, doc.name, doc.doc_hash, "ok", None, len(articles),
                                             frame.height, doc.encoding))
        record(path, doc.doc_hash, "ok", size=doc.size, encoding=doc.encoding, error=None,
               articles=len(articles), facts=frame.height)
        for old in failed_by_path.pop(str(path), []):
            record(path, old, "resolved", size=doc.size, encoding=doc.encoding,
                   error=f"superseded by {doc.doc_hash}", articles=0, facts=0)
        _log().info("ingest.document", path=str(path), articles=len(articles), facts=frame.height,
                 encoding=doc.encoding)
        if frame.height:
            all_frames.append(frame)
        pending += 1
        if pending >= FLUSH_EVERY:
            flush()
            pending = 0
    flush()
    if all_frames:
        report.rows = pl.concat(all_frames, how="vertical").unique(subset=["fact_id"], keep="first",
                                                                  maintain_order=True)
    _log().info("ingest.done", documents=report.documents, skipped=report.skipped, failed=report.failed,
             facts=report.facts, dry_run=dry_run)
    return report
