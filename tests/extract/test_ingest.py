"""ingest_paths: documents to stored facts, idempotent by content, failures recorded and reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from metrics.extraction.entities import Registry
from metrics.extraction.ingest import fact_id, ingest_paths
from metrics.store.schema import FACTS
from metrics.store.tables import Store

from .conftest import WriteDoc, copy_examples

NEWS = """英伟达第三季度营收大增
科技日报· 2025-11-20 07:00
英伟达第三季度营收570亿美元,同比增长62%,净利润319亿美元。
"""


def test_ingest_stores_facts_with_provenance(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """Each fact carries document, article, date, quote at its offsets, a stable id and the ingest time."""
    path = write_doc("nvda.txt", NEWS)
    report = ingest_paths([path], store, registry, now=now)
    assert report.ok and report.documents == 1 and report.facts >= 2
    facts = store.scan("facts").collect()
    assert facts.height == report.facts
    assert facts.schema == FACTS
    text = path.read_text(encoding="utf-8")
    for row in facts.iter_rows(named=True):
        assert row["doc"] == "nvda.txt" and row["article"] == "英伟达第三季度营收大增"
        assert row["published"] == dt.date(2025, 11, 20)
        assert text[row["span_start"] : row["span_end"]] == row["quote"]
        assert row["fact_id"] == fact_id(
            row["doc_hash"], row["span_start"], row["span_end"], row["metric"], row["entity"]
        )
        assert row["ingested_at"] == now
    revenue = facts.filter(pl.col("metric") == "revenue").row(0, named=True)
    assert revenue["entity"] == "NVIDIA" and revenue["value_usd"] == revenue["value"] == 5.7e10


def test_ingesting_twice_keeps_one_copy(
    store: Store, registry: Registry, now: dt.datetime, tmp_path: Path
) -> None:
    """A second ingest of the same documents skips them by content hash and adds nothing."""
    inbox = copy_examples(tmp_path)
    first = ingest_paths([inbox], store, registry, now=now)
    assert first.ok and first.facts > 0
    second = ingest_paths([inbox], store, registry, now=now + dt.timedelta(hours=1))
    assert second.documents == 0 and second.skipped == first.documents and second.facts == 0
    facts = store.scan("facts").collect()
    assert facts.height == first.facts == facts.get_column("fact_id").n_unique()


def test_same_content_under_another_name_is_skipped(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """Two files with the same bytes are one document."""
    a = write_doc("a.txt", NEWS)
    b = write_doc("b.txt", NEWS)
    report = ingest_paths([a, b], store, registry, now=now)
    assert report.documents == 1 and report.skipped == 1


def test_dry_run_stores_nothing(store: Store, registry: Registry, now: dt.datetime, tmp_path: Path) -> None:
    """--dry-run extracts and reports the facts but writes no fact and no document record."""
    report = ingest_paths([copy_examples(tmp_path)], store, registry, now=now, dry_run=True)
    assert report.facts > 0
    assert store.scan("facts").collect().height == 0
    assert store.scan("documents").collect().height == 0


def test_dry_run_does_not_skip_ingested_documents(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """A dry run shows what a document holds even when it was ingested before."""
    path = write_doc("nvda.txt", NEWS)
    stored = ingest_paths([path], store, registry, now=now)
    again = ingest_paths([path], store, registry, now=now, dry_run=True)
    assert again.skipped == 0 and again.facts == stored.facts


def test_failures_are_recorded_and_do_not_stop_the_batch(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc, tmp_path: Path
) -> None:
    """Binary, empty, oversized and malformed documents fail by name; the good one is stored."""
    good = write_doc("good.txt", NEWS)
    write_doc("binary.txt", data=b"\x00\x01\x02 not text")
    write_doc("empty.md", data=b"")
    write_doc("bad.md", "---\ntitle: [oops\n---\nbody\n")
    with (tmp_path / "docs" / "huge.txt").open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)
    missing = tmp_path / "nope.txt"
    report = ingest_paths([good.parent, missing], store, registry, now=now)
    failed = {r.name for r in report.results if r.status == "failed"}
    assert failed == {"binary.txt", "empty.md", "bad.md", "huge.txt", "nope.txt"}
    assert report.documents == 1 and report.facts > 0
    assert all(any(n in str(e) for n in failed) for e in report.errors)
    docs = store.scan("documents").collect()
    assert set(docs.filter(pl.col("status") == "failed").get_column("name")) == failed - {"nope.txt"}
    assert docs.filter(pl.col("status") == "ok").get_column("name").to_list() == ["good.txt"]
    status = store.status()
    assert {d.name for d in status.failed_documents} == failed - {"nope.txt"}


def test_fixed_document_resolves_its_failure(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """When a document that failed is fixed and ingested again, status no longer lists it as failed."""
    path = write_doc("fixme.md", "---\ntitle: [oops\n---\nbody\n")
    assert not ingest_paths([path], store, registry, now=now).ok
    write_doc(
        "fixme.md",
        "---\ntitle: 英伟达第三季度营收大增\ndate: 2025-11-20\n---\n英伟达第三季度营收570亿美元。\n",
    )
    assert ingest_paths([path], store, registry, now=now + dt.timedelta(minutes=5)).ok
    assert store.status().failed_documents == ()


def test_unsupported_file_named_explicitly_fails(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """A file given by name with an unsupported suffix is a named failure; folders just skip such files."""
    pdf = write_doc("report.pdf", data=b"%PDF-1.7")
    write_doc("ok.txt", NEWS)
    report = ingest_paths([pdf], store, registry, now=now, dry_run=True)
    assert report.failed == 1 and "report.pdf" in str(report.errors[0])
    assert ingest_paths([pdf.parent], store, registry, now=now, dry_run=True).failed == 0


def test_document_text_is_only_data(
    store: Store, registry: Registry, now: dt.datetime, write_doc: WriteDoc
) -> None:
    """Markup and quotes in a document are stored verbatim as strings and never break the store."""
    nasty = (
        "<script>alert('x')</script> Robert'); DROP TABLE facts;--\n科技日报· 2025-11-20 07:00\n"
        "英伟达第三季度营收570亿美元<b onmouseover=x>,净利润319亿美元。\n"
    )
    report = ingest_paths([write_doc("nasty.txt", nasty)], store, registry, now=now)
    assert report.ok
    facts = store.scan("facts").collect()
    assert facts.height == report.facts
    assert set(facts.get_column("article")) <= {"<script>alert('x')</script> Robert'); DROP TABLE facts;--"}


def test_now_must_be_timezone_aware(store: Store, registry: Registry, write_doc: WriteDoc) -> None:
    """A naive clock reading is refused."""
    import pytest

    with pytest.raises(ValueError, match="timezone"):
        ingest_paths([write_doc("a.txt", NEWS)], store, registry, now=dt.datetime(2026, 1, 1))
