"""The email channel against a real aiosmtpd server: TLS, MIME, escaping, errors, recovery."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest

from metrics.alerting.notify import Notification, build_notifiers
from metrics.alerting.notify.email import EmailNotifier, build_message, message_id
from metrics.alerting.outbox import deliver_due
from metrics.alerting.state import StateDB, notifications
from metrics.errors import PermanentDeliveryError, TransientDeliveryError
from metrics.settings import DeliverySettings, EmailChannel
from tests.alerts.conftest import Certs, SMTPServer

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)


def payload(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "rule": "nvda-below-100", "entity": "NVDA", "state": "firing", "severity": "warning",
        "summary": "NVDA closed at 97.50", "value": 97.5, "statement": None, "period": None,
        "series": "prices.close", "at": "2026-03-02T21:00:00Z", "started_at": "2026-03-02T21:00:00Z",
        "ended_at": None, "repeat": 0, "chart": None,
    }
    base.update(over)
    return base


def note(key: str = "k" * 64, **over: Any) -> Notification:
    p = payload(**over)
    return Notification(key=key, rule=p["rule"], entity=p["entity"], state=p["state"], channel="mail",
                        payload=p, now=NOW)


def channel(server: SMTPServer, certs: Certs | None, **over: Any) -> EmailChannel:
    cfg: dict[str, Any] = {"host": "localhost", "port": server.port, "security": server.mode,
                           "to": ["desk@example.com"], "sender": "alerts@example.com", "timeout_s": 5,
                           "ca_file": certs.cert if certs else None}
    cfg.update(over)
    return EmailChannel(**cfg)


def test_starttls_with_verified_certificate(smtp_server: Callable[..., SMTPServer], tls_certs: Certs) -> None:
    """A STARTTLS relay whose certificate is trusted through ca_file receives one multipart mail."""
    server = smtp_server("starttls")
    EmailNotifier("mail", channel(server, tls_certs)).send(note())
    [msg] = server.messages
    assert msg["Message-ID"] == f"<{'k' * 64}@metrics>"
    assert msg["Subject"] == "[FIRING warning] nvda-below-100: NVDA - NVDA closed at 97.50"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and "NVDA closed at 97.50" in plain.get_content()
    assert html is not None and "<table>" in html.get_content()


def test_ssl_with_verified_certificate(smtp_server: Callable[..., SMTPServer], tls_certs: Certs) -> None:
    """An implicit-TLS (SSL) relay with a trusted certificate receives the mail."""
    server = smtp_server("ssl")
    EmailNotifier("mail", channel(server, tls_certs)).send(note())
    assert len(server.messages) == 1


def test_untrusted_certificate_is_refused(smtp_server: Callable[..., SMTPServer]) -> None:
    """Without the CA of the relay's self-signed certificate nothing is sent and the error is transient."""
    server = smtp_server("starttls")
    with pytest.raises(TransientDeliveryError, match="certificate"):
        EmailNotifier("mail", channel(server, None)).send(note())
    assert server.messages == []


def test_reply_codes_map_to_transient_and_permanent(smtp_server: Callable[..., SMTPServer],
                                                    tls_certs: Certs) -> None:
    """An SMTP 4xx reply is a transient failure and a 5xx reply a permanent one."""
    server = smtp_server("starttls")
    server.handler.replies.extend(["451 4.3.0 Mailbox busy, try later", "554 5.7.1 Rejected by policy"])
    notifier = EmailNotifier("mail", channel(server, tls_certs))
    with pytest.raises(TransientDeliveryError, match="451"):
        notifier.send(note())
    with pytest.raises(PermanentDeliveryError, match="554"):
        notifier.send(note())
    notifier.send(note())
    assert len(server.messages) == 1


def test_connection_refused_is_transient(smtp_server: Callable[..., SMTPServer], tls_certs: Certs) -> None:
    """A relay that is down gives a transient error."""
    server = smtp_server("starttls", started=False)
    with pytest.raises(TransientDeliveryError):
        EmailNotifier("mail", channel(server, tls_certs)).send(note())


def test_injection_from_document_text_is_neutralized(smtp_server: Callable[..., SMTPServer],
                                                     tls_certs: Certs) -> None:
    """Markup and CR/LF in an entity or summary neither add headers or recipients nor inject HTML."""
    server = smtp_server("starttls")
    evil = note(entity="Evil<script>alert(1)</script>\r\nBcc: thief@example.net",
                summary="Figure\r\nBcc: thief@example.net\r\n\r\n<img src=x onerror=alert(1)>")
    EmailNotifier("mail", channel(server, tls_certs)).send(evil)
    [(_, rcpts, raw)] = server.handler.envelopes
    [msg] = server.messages
    assert rcpts == ["desk@example.com"]
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"]) and "thief@example.net" in str(msg["Subject"])
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]


def test_chart_is_embedded_inline(tls_certs: Certs, smtp_server: Callable[..., SMTPServer]) -> None:
    """A price series in the payload becomes an inline PNG referenced by cid from the HTML."""
    server = smtp_server("starttls")
    chart = {"label": "NVDA close", "dates": [f"2026-02-{d:02d}" for d in range(1, 21)],
             "values": [110.0 - d for d in range(20)], "threshold": 100.0}
    EmailNotifier("mail", channel(server, tls_certs)).send(note(chart=chart))
    [msg] = server.messages
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = str(images[0]["Content-ID"]).strip("<>")
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert f"cid:{cid}" in html
    png = images[0].get_content()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_message_id_is_stable() -> None:
    """Two attempts of one notification carry the same Message-ID."""
    cfg = EmailChannel(host="localhost", to=["a@example.com"])
    first = build_message(note(key="abc"), cfg)
    again = build_message(note(key="abc"), cfg)
    assert first["Message-ID"] == again["Message-ID"] == message_id("abc") == "<abc@metrics>"


def _enqueue(db: StateDB, n: int) -> None:
    with db.write() as conn:
        for i in range(n):
            conn.execute(notifications.insert().values(
                idempotency_key=f"key-{i}", rule="r", entity=f"E{i}", state="firing", channel="mail",
                payload=payload(entity=f"E{i}"), created_at=NOW, next_attempt_at=NOW, attempts=0,
                status="queued"))


def test_relay_down_then_up_delivers_everything(db: StateDB, smtp_server: Callable[..., SMTPServer],
                                                tls_certs: Certs) -> None:
    """While the relay is down every notification is retried; once it is back all are delivered once."""
    server = smtp_server("starttls", started=False)
    _enqueue(db, 3)
    notifiers = build_notifiers({"mail": channel(server, tls_certs)})
    settings = DeliverySettings(max_attempts=5, backoff_base_s=10, backoff_max_s=60)
    rng = random.Random(7)
    down = deliver_due(db, notifiers, now=NOW, settings=settings, rng=rng)
    assert (down.delivered, down.retried) == (0, 3)
    server.start()
    later = NOW + dt.timedelta(minutes=5)
    up = deliver_due(db, notifiers, now=later, settings=settings, rng=rng)
    assert (up.delivered, up.retried, up.dead) == (3, 0, 0)
    assert sorted(m["Message-ID"] for m in server.messages) == [f"<key-{i}@metrics>" for i in range(3)]
    assert deliver_due(db, notifiers, now=later, settings=settings, rng=rng).attempted == 0
    assert db.notification_counts()["delivered"] == 3
