"""The JSON API's response and request models: they make the OpenAPI description exact."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Alert(Model):
    """An alert instance (rule, entity) in the list."""

    id: str = Field(description="Fingerprint of (rule, entity).")
    rule: str
    entity: str
    state: str = Field(description="pending, firing or resolved (recently).")
    severity: str | None
    value: float | None
    summary: str | None
    active_since: dt.datetime | None
    fired_at: dt.datetime | None
    last_change: dt.datetime | None
    channels: list[str]
    series: str | None
    silenced: bool


class Transition(Model):
    alert_id: str
    state: str
    at: dt.datetime
    value: float | None
    severity: str | None
    summary: str | None
    statement: str | None


class Attempt(Model):
    attempt: int
    at: dt.datetime
    outcome: str
    error: str | None


class Notification(Model):
    id: int
    state: str
    channel: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    delivery_attempts: list[Attempt]


class Fact(Model):
    fact_id: str
    doc: str | None
    doc_hash: str | None
    article: str | None
    published: dt.date | None
    entity: str | None
    ticker: str | None
    metric: str | None
    value: float | None
    low: float | None
    high: float | None
    qualifier: str | None
    unit: str | None
    period: str | None
    kind: str | None
    quote: str | None
    span_start: int | None
    span_end: int | None
    value_usd: float | None
    repaired: bool | None
    ingested_at: dt.datetime | None


class AlertDetail(Alert):
    """An alert with its history, its notifications and the facts behind it."""

    condition: str | None
    threshold: float | None
    transitions: list[Transition]
    notifications: list[Notification]
    facts: list[Fact]


class Entity(Model):
    entity: str
    ticker: str | None
    facts: int


class LastPrice(Model):
    date: dt.date
    close: float | None
    currency: str | None


class Company(Model):
    """An entity's facts (by metric, then publication) and its price history's size and last close."""

    entity: str
    ticker: str | None
    facts: list[Fact]
    bars: int
    last_price: LastPrice | None


class FactPage(Model):
    total: int
    limit: int
    offset: int
    facts: list[Fact]


class Document(Model):
    doc_hash: str
    path: str | None
    name: str | None
    size: int | None
    encoding: str | None
    status: str | None
    error: str | None
    articles: int | None
    facts: int | None
    ingested_at: dt.datetime | None


class Segment(Model):
    text: str
    fact_id: str | None


class DocumentDetail(Document):
    """A document with its facts and its text (None with ``text_problem`` when it cannot be read)."""

    text: str | None
    text_problem: str | None
    facts: list[Fact]  # type: ignore[assignment]
    segments: list[Segment]


class JobRun(Model):
    job: str
    status: str
    finished_at: dt.datetime | None
    duration_s: float | None
    lag_s: float | None
    overdue: bool
    counts: str
    error: str | None


class DeadLetter(Model):
    id: int
    rule: str
    entity: str
    channel: str
    attempts: int
    last_error: str | None


class Deliveries(Model):
    queued: int
    delivered: int
    dead: int
    disabled: int
    silenced: int
    dead_letters: list[DeadLetter]
    disabled_endpoints: dict[str, dict[str, str | dt.datetime | None]]


class DatasetRows(Model):
    name: str
    rows: int


class Status(Model):
    now: dt.datetime
    daemon: str | None = Field(description="The daemon holding the store (the leader), if any.")
    jobs: list[JobRun]
    evaluated_to: dt.datetime | None
    closes_behind: int | None
    deliveries: Deliveries
    datasets: list[DatasetRows]
    rules: int
    rules_error: str | None


class Silence(Model):
    id: int
    rule: str
    entity: str | None
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime
    active: bool


class NewSilence(Model):
    """A silence to add: ``expires_at`` or ``duration`` (``30m``, ``2h``, ``3d``, ``1w``)."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(min_length=1, max_length=200)
    entity: str | None = Field(None, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: dt.datetime | None = None
    duration: str | None = Field(None, max_length=40)


class Problem(Model):
    detail: str
