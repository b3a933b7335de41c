"""The webhook channel against a real local HTTP server: payload, signature, status mapping."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from typing import Any

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from metrics.alerting.notify import Notification
from metrics.alerting.notify.webhook import WebhookNotifier, parse_retry_after
from metrics.errors import ConfigError, EndpointGoneError, PermanentDeliveryError, TransientDeliveryError
from metrics.settings import WebhookChannel
from tests.alerts.conftest import WEBHOOK_SECRET, Receiver, free_port


def now() -> dt.datetime:
    """The real clock: Standard Webhooks receivers reject timestamps more than 5 minutes off."""
    return dt.datetime.now(dt.UTC)


def note(key: str = "key-1", **over: Any) -> Notification:
    p: dict[str, Any] = {
        "rule": "capex-raised", "entity": "Microsoft", "state": "firing", "severity": "info",
        "summary": "Microsoft raised capex guidance by 12.5%", "value": 8.0e10, "statement": "f-123",
        "period": "FY2026", "series": "facts.capex_guidance", "at": "2026-03-02T21:00:00Z",
        "started_at": "2026-03-02T21:00:00Z", "ended_at": None, "repeat": 0, "chart": None,
    }
    p.update(over)
    return Notification(key=key, rule=p["rule"], entity=p["entity"], state=p["state"], channel="hook",
                        payload=p, now=now())


def notifier(receiver: Receiver, **over: Any) -> WebhookNotifier:
    cfg = {"url": receiver.url, "secret": SecretStr(WEBHOOK_SECRET), "timeout_s": 5.0}
    cfg.update(over)
    return WebhookNotifier("hook", WebhookChannel(**cfg), external_url="https://metrics.example/")


def test_payload_is_signed_per_standard_webhooks(receiver: Receiver) -> None:
    """The standardwebhooks package verifies the signature; the JSON follows Alertmanager's shape."""
    n = notifier(receiver)
    n.send(note())
    n.close()
    [req] = receiver.requests
    doc = Webhook(WEBHOOK_SECRET).verify(req.body, req.headers)
    assert req.headers["webhook-id"] == "key-1"
    assert doc["version"] == "4" and doc["status"] == "firing" and doc["receiver"] == "hook"
    [alert] = doc["alerts"]
    assert alert["labels"] == {"alertname": "capex-raised", "rule": "capex-raised", "entity": "Microsoft",
                               "severity": "info"}
    assert alert["annotations"]["summary"] == "Microsoft raised capex guidance by 12.5%"
    assert alert["startsAt"] == "2026-03-02T21:00:00Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["value"] == 8.0e10 and alert["statement"] == "f-123" and len(alert["fingerprint"]) == 16
    assert doc["groupKey"] and doc["externalURL"] == "https://metrics.example/"


def test_tampered_body_fails_verification(receiver: Receiver) -> None:
    """A receiver detects a body changed after signing."""
    n = notifier(receiver)
    n.send(note())
    n.close()
    [req] = receiver.requests
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(req.body.replace(b"Microsoft", b"Microsoft!"), req.headers)


def test_resolved_payload_has_end_time(receiver: Receiver) -> None:
    """A resolve is sent with status resolved and its end time."""
    n = notifier(receiver)
    n.send(note(state="resolved", ended_at="2026-03-05T21:00:00Z"))
    n.close()
    doc = json.loads(receiver.requests[0].body)
    assert doc["status"] == "resolved" and doc["alerts"][0]["endsAt"] == "2026-03-05T21:00:00Z"


@pytest.mark.parametrize(("status", "error"), [
    (500, TransientDeliveryError), (503, TransientDeliveryError), (429, TransientDeliveryError),
    (408, TransientDeliveryError), (410, EndpointGoneError), (404, PermanentDeliveryError),
    (400, PermanentDeliveryError), (301, PermanentDeliveryError),
])
def test_status_codes_map_to_errors(receiver: Receiver, status: int, error: type[Exception]) -> None:
    """5xx, 408 and 429 are transient; 410 is gone (disables); other statuses are permanent."""
    receiver.reply(status)
    n = notifier(receiver)
    with pytest.raises(error):
        n.send(note())
    n.close()


def test_retry_after_seconds_is_parsed(receiver: Receiver) -> None:
    """A 429 with Retry-After in seconds carries that delay."""
    receiver.reply(429, {"Retry-After": "120"})
    n = notifier(receiver)
    with pytest.raises(TransientDeliveryError) as info:
        n.send(note())
    n.close()
    assert info.value.retry_after == 120.0


def test_retry_after_http_date_is_parsed() -> None:
    """Retry-After as an HTTP date becomes the seconds from the attempt time."""
    at = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
    header = email.utils.format_datetime(at + dt.timedelta(minutes=3), usegmt=True)
    assert parse_retry_after(header, now=at) == 180.0
    assert parse_retry_after("soon", now=at) is None
    assert parse_retry_after(None, now=at) is None


def test_connection_refused_is_transient() -> None:
    """Nobody listening is a transient error."""
    cfg = WebhookChannel(url=f"http://127.0.0.1:{free_port()}/hook", secret=SecretStr(WEBHOOK_SECRET))
    n = WebhookNotifier("hook", cfg)
    with pytest.raises(TransientDeliveryError):
        n.send(note())
    n.close()


def test_timeout_is_transient(receiver: Receiver) -> None:
    """A receiver slower than the channel's timeout is a transient error."""
    receiver.delay_s = 1.0
    n = notifier(receiver, timeout_s=0.2)
    with pytest.raises(TransientDeliveryError, match="timeout"):
        n.send(note())
    n.close()


def test_bad_secret_is_a_config_error(receiver: Receiver) -> None:
    """A secret that is not whsec_<base64> fails when the channel is built."""
    with pytest.raises(ConfigError, match="secret"):
        notifier(receiver, secret=SecretStr("whsec_not base64!"))


def test_markup_travels_as_data(receiver: Receiver) -> None:
    """Entity and summary text reach the receiver verbatim as JSON strings, never as markup."""
    n = notifier(receiver)
    n.send(note(entity="<script>x</script>", summary="a\r\nBcc: b"))
    n.close()
    alert = json.loads(receiver.requests[0].body)["alerts"][0]
    assert alert["labels"]["entity"] == "<script>x</script>"
    assert alert["annotations"]["summary"] == "a\r\nBcc: b"
    assert "bcc" not in receiver.requests[0].headers
