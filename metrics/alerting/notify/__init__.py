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

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from metrics.errors import ConfigError
from metrics.settings import EmailChannel, LogChannel, WebhookChannel


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification for one channel, as the outbox hands it to a notifier."""

    key: str                       # idempotency key: identical on every attempt
    rule: str
    entity: str
    state: str                     # firing | resolved
    channel: str
    payload: Mapping[str, Any]     # see metrics.alerting.render for the fields
    now: dt.datetime               # time of this attempt (signature timestamps, Date header)
    id: int = 0                    # outbox row id (0 when not from the outbox)
    attempt: int = 1               # 1 for the first attempt


@runtime_checkable
class Notifier(Protocol):
    """Sends notifications through one configured channel (see the module docstring)."""

    channel: str

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` or raise Transient/PermanentDeliveryError."""

    def close(self) -> None:
        """Release connections; the notifier is not used afterwards."""


def build_notifiers(channels: Mapping[str, Any], *, external_url: str | None = None) -> dict[str, Notifier]:
    """A notifier for every configured channel (``settings.channels``), keyed by channel name.

    ``external_url`` (``settings.public_url``) goes into webhook payloads as ``externalURL``. A
    webhook secret that is not ``whsec_<base64>`` raises ``ConfigError`` here, at start.
    """
    from metrics.alerting.notify.email import EmailNotifier
    from metrics.alerting.notify.log import LogNotifier
    from metrics.alerting.notify.webhook import WebhookNotifier

    result: dict[str, Notifier] = {}
    for name, cfg in channels.items():
        if isinstance(cfg, LogChannel):
            result[name] = LogNotifier(name)
        elif isinstance(cfg, EmailChannel):
            result[name] = EmailNotifier(name, cfg)
        elif isinstance(cfg, WebhookChannel):
            result[name] = WebhookNotifier(name, cfg, external_url=external_url)
        else:
            raise ConfigError(f"unknown channel type {type(cfg).__name__}", key=f"channels.{name}")
    return result


def close_notifiers(notifiers: Mapping[str, Notifier]) -> None:
    """Close every notifier of ``notifiers``."""
    for n in notifiers.values():
        n.close()


__all__ = ["Notification", "Notifier", "build_notifiers", "close_notifiers"]
