"""What the sentence tests of the extractor share: the facts of a text of our own, published on
``NOV`` unless a test says otherwise, and two views of them."""

from __future__ import annotations

from datetime import date

from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_text

NOV = date(2025, 11, 20)


def facts(text: str, registry: Registry, published: date | None = NOV) -> list[Fact]:
    return extract_text(text, registry, published=published)


def by_metric(text: str, registry: Registry, published: date | None = NOV) -> dict[tuple[str, float], Fact]:
    """The facts by (metric, value rounded to 4 places)."""
    return {(f.metric, round(f.value, 4)): f for f in facts(text, registry, published)}


def triples(text: str, registry: Registry, published: date | None = NOV) -> set[tuple[str, str, float]]:
    """The (company, metric, value rounded to 4 places) of the facts."""
    return {(f.entity, f.metric, round(f.value, 4)) for f in facts(text, registry, published)}
