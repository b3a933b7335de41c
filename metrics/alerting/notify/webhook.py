"""The webhook channel: an Alertmanager-style JSON POST, signed per Standard Webhooks.

Headers (https://www.standardwebhooks.com): ``webhook-id`` (the idempotency key, the same on every
attempt), ``webhook-timestamp`` (seconds since the epoch of this attempt) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the ``whsec_`` secret, base64-decoded).

Outcomes: 2xx delivered; 410 Gone -> ``EndpointGoneError`` (the channel is disabled); 408, 425,
429 and 5xx, timeouts and connection errors -> transient (``Retry-After`` parsed, seconds or an
HTTP date); any other status -> permanent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import math

import httpx

from metrics.alerting.notify.base import Notification
from metrics.alerting.render import clean_header, webhook_payload
from metrics.errors import (
    ConfigError,
    EndpointGoneError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from metrics.log import get_logger
from metrics.settings import WebhookChannel

log = get_logger(__name__)
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TRANSIENT_STATUS = frozenset({408, 425, 429})


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (a bare base64 string is accepted too)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError("webhook secret is not whsec_<base64>", key="secret") from e
    if not key:
        raise ConfigError("webhook secret is empty", key="secret")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for ``body``."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def encode_body(n: Notification, *, external_url: str | None = None) -> bytes:
    """The exact bytes POSTed for ``n`` (compact JSON, UTF-8)."""
    doc = webhook_payload(n.key, n.channel, n.payload, external_url=external_url)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class WebhookNotifier:
    """POSTs each notification to ``cfg.url`` with an httpx client kept open between sends."""

    def __init__(self, channel: str, cfg: WebhookChannel, *, external_url: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.channel = channel
        self.cfg = cfg
        self.external_url = external_url
        self._key = secret_bytes(cfg.secret.get_secret_value())
        self._client = httpx.Client(timeout=cfg.timeout_s, follow_redirects=False, transport=transport,
                                    headers={k: clean_header(v) for k, v in cfg.headers.items()})

    def send(self, notification: Notification) -> None:
        body = encode_body(notification, external_url=self.external_url)
        ts = int(notification.now.timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "metrics-alerts/1",
            "webhook-id": notification.key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self._key, notification.key, ts, body),
        }
        try:
            resp = self._client.post(self.cfg.url, content=body, headers=headers)
        except httpx.TimeoutException as e:
            raise TransientDeliveryError(f"timeout after {self.cfg.timeout_s}s: {type(e).__name__}",
                                         channel=self.channel) from e
        except httpx.TransportError as e:
            raise TransientDeliveryError(f"{type(e).__name__}: {e}", channel=self.channel) from e
        status = resp.status_code
        if 200 <= status < 300:
            log.debug("notify.webhook.sent", channel=self.channel, key=notification.key, status=status)
            return
        reason = f"HTTP {status} {resp.reason_phrase}".strip()
        if status == 410:
            raise EndpointGoneError(f"{reason}: endpoint gone", channel=self.channel)
        if status in TRANSIENT_STATUS or status >= 500:
            retry_after = parse_retry_after(resp.headers.get("retry-after"), now=notification.now)
            raise TransientDeliveryError(reason, channel=self.channel, retry_after=retry_after)
        raise PermanentDeliveryError(reason, channel=self.channel)

    def close(self) -> None:
        self._client.close()
