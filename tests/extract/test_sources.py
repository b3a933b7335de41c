"""Retrieved pages (a source line 'URL | date | language' under the headline), captions and credits,
publication and reference dates, value_usd only at the publication date's rate, and the figures no
known company takes (`ingest --unattributed`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from metrics.extraction.dating import source_line
from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Unattributed, extract_article
from metrics.extraction.ingest import ingest_paths
from metrics.store.fx import to_usd
from metrics.store.tables import Store

from .conftest import NOW, WriteDoc

PAGE = (
    "[headline not in retrieved text] 台積電第三季財報 (某財經網)\n"
    "https://news.example.com/tw/2025/10/123 | {date} | zh-Hant\n"
    "台積電第三季營收9,900億元，年增30%。（圖：路透）\n"
    "公司預計第四季營收將季增5%。 （財經日報）\n"
    "Credit: someone/Shutterstock.\n"
    "台積電第三季稅後純益4,500億元。\n"
)


@pytest.mark.parametrize(
    ("field", "published", "reference"),
    [
        ("2025-10-17", dt.date(2025, 10, 17), dt.date(2025, 10, 17)),
        ("2025-10-17 (page date; print story of the next day)", dt.date(2025, 10, 17), dt.date(2025, 10, 17)),
        ("date unknown (after results of 2025-10-16)", None, dt.date(2025, 10, 16)),
        ("date unknown", None, dt.date(2025, 10, 15)),  # the year and month of the URL path
        ("2025-13-45", None, dt.date(2025, 10, 15)),  # no such date: never taken
    ],
)
def test_source_line_dates(field: str, published: dt.date | None, reference: dt.date | None) -> None:
    """The date field states the publication date; a note's date or the URL path only hint at a
    reference date for relative periods."""
    src = source_line(f"https://news.example.com/tw/2025/10/123 | {field} | zh-Hant")
    assert src is not None and (src.published, src.reference) == (published, reference)
    assert source_line("台積電第三季營收 | 9,900億元") is None


def test_a_retrieved_page_is_one_article(write_doc: WriteDoc, registry: Registry) -> None:
    """Headline and source line open one article: captions, credits and '(outlet)' paragraphs neither split
    it nor end it, the placeholder is dropped from the headline, the body starts after the source line."""
    doc = read_document(write_doc("page.txt", PAGE.format(date="2025-10-17")))
    [a] = split_articles(doc)
    assert a.headline == "台積電第三季財報 (某財經網)"
    assert a.published == dt.date(2025, 10, 17)
    assert doc.text[a.body :].startswith("台積電第三季營收")
    fs = extract_article(a, registry)
    assert {(f.metric, f.value, f.unit, f.period) for f in fs} == {
        ("revenue", 9.9e11, "TWD", "2025Q3"),
        ("revenue_growth_yoy", 30.0, "pct", "2025Q3"),
        ("net_income", 4.5e11, "TWD", "2025Q3"),
    }


def test_unknown_date_still_resolves_periods_but_not_usd(
    tmp_path: Path, write_doc: WriteDoc, registry: Registry
) -> None:
    """'date unknown': published is null, relative periods use the hinted date, and value_usd is null
    (never another day's rate)."""
    path = write_doc(
        "page.txt", PAGE.replace("台積電第三季營收", "台積電上季營收").format(date="date unknown")
    )
    [a] = split_articles(read_document(path))
    assert a.published is None and a.reference == dt.date(2025, 10, 15)
    assert {f.period for f in extract_article(a, registry) if f.metric == "revenue"} == {"2025Q3"}
    report = ingest_paths([path], Store(tmp_path / "s"), registry, now=NOW, dry_run=True)
    assert report.rows.height and report.rows["value_usd"].null_count() == report.rows.height


def test_caption_sentence_gives_no_figures(write_doc: WriteDoc, registry: Registry) -> None:
    """A photo caption ending in '(圖：…)' is not read for figures."""
    text = (
        "比亚迪季报\n某财经 · 2025-10-30 08:00\n比亚迪营收大增三成(图:资料图)\n比亚迪第三季度营收1950亿元。\n"
    )
    [a] = split_articles(read_document(write_doc("cap.txt", text)))
    assert {f.metric for f in extract_article(a, registry)} == {"revenue"}


def test_fx_needs_the_day_and_never_looks_ahead() -> None:
    """No date, no rate (USD needs none); a weekend takes the Friday before, never the Monday after."""
    assert to_usd(100.0, "EUR", None) is None
    assert to_usd(100.0, "USD", None) == 100.0
    friday = to_usd(100.0, "EUR", dt.date(2025, 1, 3))
    assert to_usd(100.0, "EUR", dt.date(2025, 1, 5)) == friday  # Sunday
    assert to_usd(100.0, "TWD", dt.date(2025, 1, 3)) is None


def test_unattributed_figures(write_doc: WriteDoc, registry: Registry) -> None:
    """A figure whose metric is read but which no known company takes is listed with its sentence."""
    path = write_doc("x.txt", "星辰科技完成融资\n星辰科技宣布完成5亿元B轮融资,投后估值达到40亿元。\n")
    [a] = split_articles(read_document(path))
    missed: list[Unattributed] = []
    assert extract_article(a, registry, unattributed=missed) == []
    assert {(u.metric, u.value) for u in missed} == {("funding_raised", 5e8), ("valuation", 4e9)}
    assert all(u.sentence.startswith("星辰科技宣布") and u.quote in u.sentence for u in missed)


def test_cli_lists_unattributed_figures_not_facts(tmp_path: Path, write_doc: WriteDoc) -> None:
    """`ingest --dry-run --unattributed --format jsonl` prints those figures (with sentences), not facts."""
    path = write_doc("x.txt", "星辰科技完成融资\n星辰科技宣布完成5亿元B轮融资。腾讯第三季度收入1930亿元。\n")
    result = CliRunner().invoke(
        app,
        [
            "--root",
            str(tmp_path / "s"),
            "ingest",
            "--dry-run",
            "--unattributed",
            "--format",
            "jsonl",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["metric"], r["value"]) for r in rows] == [("funding_raised", 5e8)]
    assert "星辰科技宣布" in rows[0]["sentence"]
