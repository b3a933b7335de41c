"""Alert rendering: escaping, header cleaning, summary formatting, webhook JSON, the chart."""

from __future__ import annotations

import datetime as dt
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from metrics.alerting.render import (
    chart_png,
    clean_header,
    digest_payload,
    fmt_value,
    html_body,
    subject,
    text_body,
    threshold_of,
    webhook_payload,
)

PAYLOAD = {"rule": "r", "entity": "E", "state": "firing", "severity": "critical", "summary": "E fell 12%",
           "value": 88.5, "series": "prices.close", "at": "2026-03-02T21:00:00Z",
           "started_at": "2026-03-01T21:00:00Z", "ended_at": None, "repeat": 0}


@given(st.text())
def test_clean_header_never_keeps_a_line_break(text: str) -> None:
    """Whatever the text, a cleaned header value has no CR, LF or other control character."""
    cleaned = clean_header(text)
    assert not any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in cleaned)
    assert len(cleaned) <= 200


@given(st.text())
def test_html_body_escapes_every_value(text: str) -> None:
    """No value can open a tag in the HTML body: '<' from data always arrives as &lt;."""
    value = "x" + text
    body = html_body({**PAYLOAD, "entity": value, "summary": value, "statement": value})
    plain = html_body({**PAYLOAD, "entity": "x", "summary": "x", "statement": "x"})
    assert body.count("<") == plain.count("<") and body.count(">") == plain.count(">")


def test_html_body_escapes_markup() -> None:
    """Markup in an entity or summary is shown as text."""
    body = html_body({**PAYLOAD, "entity": '<b onmouseover="x">', "summary": "<script>alert(1)</script>"})
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b onmouseover=&quot;x&quot;&gt;" in body


def test_subject_and_text_body() -> None:
    """The subject names state, severity, rule and entity on one line; the text lists the fields."""
    assert subject(PAYLOAD) == "[FIRING critical] r: E - E fell 12%"
    assert subject({**PAYLOAD, "summary": "a\r\nBcc: x@y"}) == "[FIRING critical] r: E - a Bcc: x@y"
    text = text_body(PAYLOAD)
    assert text.startswith("E fell 12%\n") and "Value:        88.50" in text


def test_fmt_value() -> None:
    """Numbers are shown readably; null and NaN as n/a."""
    assert fmt_value(8.0e10) == "80,000,000,000"
    assert fmt_value(0.01234) == "0.01234"
    assert fmt_value(97.5) == "97.50"
    assert fmt_value(None) == fmt_value(math.nan) == "n/a"


def test_webhook_payload_is_strict_json() -> None:
    """A NaN value becomes null, so the body is strict JSON."""
    doc = webhook_payload("k", "hook", {**PAYLOAD, "value": math.nan})
    assert json.loads(json.dumps(doc, allow_nan=False))["alerts"][0]["value"] is None


def test_chart_png_draws_series_and_threshold() -> None:
    """A series of at least two points gives a PNG; fewer, or none, give no chart."""
    chart = {"label": "X close", "dates": ["2026-01-01", "2026-01-02", "2026-01-03"],
             "values": [10.0, 9.0, None], "threshold": 9.5}
    png = chart_png(chart)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 60_000
    assert chart_png({**chart, "values": [1.0, None, None]}) is None
    assert chart_png(None) is None


def test_threshold_of_simple_conditions() -> None:
    """Only a plain `value <op> number` condition yields a threshold line."""
    assert threshold_of("value < 100") == 100.0
    assert threshold_of(" value >= -2.5e3 ") == -2500.0
    assert threshold_of("value < sma_200") is None
    assert threshold_of("change_pct_5 < -10") is None


def test_a_digest_renders_one_line_and_one_webhook_alert_per_member() -> None:
    """A digest's subject counts its alerts; its text lists each; its webhook body has one alert each."""
    firing = {**PAYLOAD, "kind": "firing", "key": "k1"}
    resolved = {**PAYLOAD, "entity": "F", "state": "resolved", "kind": "resolved", "summary": "F is back",
                "ended_at": "2026-03-02T21:00:00Z", "key": "k2"}
    digest = digest_payload([firing, resolved], at=dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC))
    assert subject(digest) == "[DIGEST] 1 alert firing, 1 resolved"
    assert text_body(digest).splitlines()[2:] == ["[FIRING critical] r: E fell 12%",
                                                   "[RESOLVED critical] r: F is back"]
    doc = webhook_payload("dk", "hook", digest)
    assert doc["status"] == "firing" and doc["commonAnnotations"]["summary"] == "1 alert firing, 1 resolved"
    assert [(a["labels"]["entity"], a["status"], a["idempotencyKey"]) for a in doc["alerts"]] == [
        ("E", "firing", "k1"), ("F", "resolved", "k2")]
    assert "<li>[RESOLVED critical] r: F is back</li>" in html_body(digest)
