"""Notification channels: the ``Notifier`` protocol and its implementations (email, webhook, log).

A notifier sends one ``Notification`` and returns only once the receiver accepted it. It raises
``TransientDeliveryError`` when a later attempt may succeed (server errors, 429, timeouts, refused
connections; ``retry_after`` in seconds when the receiver said so), ``PermanentDeliveryError`` when
none will (``EndpointGoneError`` for 410 Gone, which disables the channel). It never retries by
itself: the outbox (``metrics.alerting.outbox``) owns the retry policy. Every attempt of one notification
carries the same idempotency ``key`` (``webhook-id`` header, email ``Message-ID``), so receivers
can drop the duplicates that at-least-once delivery implies.

Contract for implementations: ``send`` is safe to call again with the same notification; it
does not mutate the notification; it reads the attempt time from ``notification.now`` (never
the clock), and it never logs secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metrics.alerting.notify.base import Notification, Notifier
from metrics.alerting.notify.log import LogNotifier
from metrics.errors import ConfigError
from metrics.settings import EmailChannel, LogChannel, WebhookChannel


def build_notifiers(channels: Mapping[str, Any], *, external_url: str | None = None) -> dict[str, Notifier]:
    """A notifier for every configured channel (``settings.channels``), keyed by channel name.

    ``external_url`` (``settings.public_url``) goes into webhook payloads as ``externalURL``. A
    webhook secret that is not ``whsec_<base64>`` raises ``ConfigError`` here, at start.
    """

    result: dict[str, Notifier] = {}
    for name, cfg in channels.items():
        if isinstance(cfg, LogChannel):
            result[name] = LogNotifier(name)
        elif isinstance(cfg, EmailChannel):
            from metrics.alerting.notify.email import EmailNotifier  # noqa: PLC0415 - smtplib/ssl are loaded only for an email channel

            result[name] = EmailNotifier(name, cfg)
        elif isinstance(cfg, WebhookChannel):
            from metrics.alerting.notify.webhook import WebhookNotifier  # noqa: PLC0415 - httpx is heavy; loaded only for a webhook channel

            result[name] = WebhookNotifier(name, cfg, external_url=external_url)
        else:
            raise ConfigError(f"unknown channel type {type(cfg).__name__}", key=f"channels.{name}")
    return result


def close_notifiers(notifiers: Mapping[str, Notifier]) -> None:
    """Close every notifier of ``notifiers``."""
    for n in notifiers.values():
        n.close()


__all__ = ["Notification", "Notifier", "build_notifiers", "close_notifiers"]
