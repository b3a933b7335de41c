"""Faults and hostile input: a corpus of mutated documents of our own (seeded random mutations:
truncation, deep nesting, huge runs, bad front matter, binary junk, huge numbers) goes through ingest.
Every document ends in facts or a clean DocumentError naming the file (the rest of the batch goes on),
within a time proportional to its size, and no non-finite value is ever stored."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_article
from metrics.extraction.ingest import ingest_paths
from metrics.store.tables import Store

from .conftest import NOW

SEED = 20251202
BASES = {
    "zh.txt": (
        "宁德时代三季度业绩\n财经日报 · 2025-10-21 19:02\n"
        "宁德时代前三季度营业收入2830亿元,同比下降9%,净利润490亿元,同比增长36%。"
        "公司预计第四季度毛利率维持在25%左右。\n"
    ),
    "tw.txt": (
        "台達電第三季財報\n台達電第三季營收新台幣1,200億元，年增25%，稅後純益150億元，年減3%。（工商日報）\n"
    ),
    "en.md": (
        "---\ntitle: Microsoft beats estimates\ndate: 2025-10-30\n---\n\n"
        "Microsoft said revenue rose 18% to $77.7 billion, above the $75.5 billion analysts expected. "
        "Shares rose 4% after hours.\n"
    ),
    "page.html": (
        "<html><head><title>Oracle results</title><meta property='article:published_time' "
        "content='2025-09-10'></head><body><article><h1>Oracle results</h1><p>Oracle said revenue "
        "rose 12% to $14.9 billion, and its cloud revenue rose 55%.</p></article></body></html>"
    ),
}


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def _deep_html(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice((2_000, 20_000, 60_000))
    return (
        b"<html><body>"
        + b"<div><span>" * depth
        + b"revenue $1 billion"
        + b"</span></div>" * depth
        + b"</body></html>"
    )


def _deep_yaml(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice((500, 5_000, 50_000))
    flow = "title: " + "[" * depth + "x" + "]" * depth
    block = "".join("  " * i + f"k{i}:\n" for i in range(min(depth, 3_000)))
    return f"---\n{rng.choice((flow, block))}\n---\n正文:营收100亿元。\n".encode()


def _bad_date(data: bytes, rng: random.Random) -> bytes:
    date = rng.choice(("2025-13-45", "2025-02-30", "0000-00-00", "9999-99-99", "2025-1-1T99:99"))
    return f"---\ntitle: t\ndate: {date}\n---\n腾讯第三季收入1930亿元。\n".encode()


def _letters(data: bytes, rng: random.Random) -> bytes:
    n = rng.choice((50_000, 160_000))
    alphabet = rng.choice(
        ("a", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "亿万千", "1 ", "1a", "$1,")
    )
    return data + "".join(rng.choice(alphabet) for _ in range(n)).encode()


def _junk(data: bytes, rng: random.Random) -> bytes:
    k = rng.randrange(len(data))
    return data[:k] + bytes(rng.randrange(256) for _ in range(rng.choice((10, 2_000)))) + data[k:]


def _huge_numbers(data: bytes, rng: random.Random) -> bytes:
    digits = "9" * rng.choice((30, 400, 5_000))
    forms = (
        f"营收{digits}亿美元。",
        f"revenue of ${digits} trillion. ",
        "净利润" + "亿" * 400 + "元。",
        f"营收{digits}.{digits}亿元。",
        "营收一" + "亿" * 200 + "元。",
        f"growth of {digits}%. ",
    )
    return data + "".join(rng.choice(forms) for _ in range(5)).encode()


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": _truncate,
    "deep_html": _deep_html,
    "deep_yaml": _deep_yaml,
    "bad_date": _bad_date,
    "letters": _letters,
    "junk": _junk,
    "huge_numbers": _huge_numbers,
}
SUFFIX = {"deep_html": ".html", "deep_yaml": ".md", "bad_date": ".md"}


def _corpus(root: Path, copies: int = 3) -> list[Path]:
    rng = random.Random(SEED)
    paths = []
    for name, mutate in MUTATIONS.items():
        for base_name, base in BASES.items():
            for k in range(copies):
                data = mutate(base.encode(), rng)
                suffix = SUFFIX.get(name, Path(base_name).suffix)
                p = root / f"{name}-{Path(base_name).stem}-{k}{suffix}"
                p.write_bytes(data)
                paths.append(p)
    return paths


SECONDS_PER_MB = 60.0  # linear: ordinary news runs at over 2 MB/s, a text of nothing but figures far slower
BASE_SECONDS = 1.5


@pytest.mark.slow
def test_mutated_documents_end_cleanly_in_bounded_time(tmp_path: Path, registry: Registry) -> None:
    """Each mutated document is read and extracted, or refused with a DocumentError, in time
    proportional to its size; no value is infinite or NaN."""
    for path in _corpus(tmp_path):
        t0 = time.perf_counter()
        try:
            doc = read_document(path)
            facts = [f for a in split_articles(doc) for f in extract_article(a, registry)]
        except Exception as e:
            from metrics.errors import DocumentError

            assert isinstance(e, DocumentError), f"{path.name}: {type(e).__name__}: {e}"
            assert str(path) in str(e)
            facts = []
        took = time.perf_counter() - t0
        limit = BASE_SECONDS + SECONDS_PER_MB * path.stat().st_size / 1e6
        assert took <= limit, f"{path.name}: {took:.1f} s for {path.stat().st_size} bytes"
        for f in facts:
            assert all(v is None or math.isfinite(v) for v in (f.value, f.low, f.high)), (path.name, f)


@pytest.mark.slow
def test_a_mutated_batch_goes_on_past_its_bad_documents(tmp_path: Path, registry: Registry) -> None:
    """Ingesting the whole corpus with the good documents: the bad ones are failed and named, the good
    ones stored, and every stored value (and value_usd) is finite."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _corpus(inbox, copies=1)
    for name, text in BASES.items():
        (inbox / f"good-{name}").write_text(text, encoding="utf-8")
    store = Store(tmp_path / "store")
    report = ingest_paths([inbox], store, registry, now=NOW)
    good = {r.name: r for r in report.results if r.name.startswith("good-")}
    assert all(r.status == "ok" for r in good.values()), good
    assert report.rows.filter(report.rows["doc"].str.starts_with("good-")).height >= 8
    for r in report.results:
        assert r.status in ("ok", "failed", "skipped")  # skipped: the same bytes as another file
        if r.status == "failed":
            assert r.error and r.name in r.error
    for col in ("value", "low", "high", "value_usd"):
        values = [v for v in report.rows[col].to_list() if v is not None]
        assert all(math.isfinite(v) for v in values), col
