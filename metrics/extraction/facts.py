"""What the extractor gives: a company figure (``Fact``) and a figure no known company takes
(``Unattributed``), both with offsets into the document text."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fact", "Unattributed"]


@dataclass(frozen=True, slots=True)
class Fact:
    """One company figure stated in a document (fields as in gold/SCHEMA.md)."""

    entity: str
    ticker: str | None
    metric: str
    value: float
    low: float | None
    high: float | None
    qualifier: str | None
    unit: str | None
    period: str | None
    kind: str
    quote: str
    span_start: int
    span_end: int
    repaired: bool = False


@dataclass(frozen=True, slots=True)
class Unattributed:
    """A figure whose metric is read but which no known company takes, with its sentence (for a user
    to see what the registry misses); spans index the document text like a fact's."""

    metric: str
    value: float
    unit: str | None
    quote: str
    sentence: str
    span_start: int
    span_end: int
    sentence_start: int
    sentence_end: int
