"""The log channel: each notification (a digest too) becomes one structured ``notify.log`` event."""

from __future__ import annotations

from metrics.alerting.notify import Notification
from metrics.log import get_logger

log = get_logger(__name__)


class LogNotifier:
    """Writes notifications to the log; never fails."""

    def __init__(self, channel: str = "log") -> None:
        self.channel = channel

    def send(self, notification: Notification) -> None:
        p = notification.payload
        if p.get("kind") == "digest":  # one event for the digest, its alerts' texts in it
            log.info("notify.log", channel=self.channel, key=notification.key, kind="digest",
                     state=notification.state, severity=p.get("severity"), summary=p.get("summary"),
                     at=p.get("at"),
                     alerts=[f"{a.get('kind')} {a.get('rule')}: {a.get('summary')}"
                             for a in p.get("alerts") or []])
            return
        log.info("notify.log", channel=self.channel, key=notification.key, rule=notification.rule,
                 entity=notification.entity, state=notification.state, kind=p.get("kind"),
                 severity=p.get("severity"), value=p.get("value"), summary=p.get("summary"),
                 at=p.get("at"))

    def close(self) -> None:
        return None
