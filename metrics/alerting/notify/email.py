"""The email channel: SMTP with STARTTLS or SSL (certificate verified), plain text + HTML.

The only module that imports ``smtplib``. The ``Message-ID`` is ``<idempotency-key@metrics>``, the
same on every attempt, so a mailbox or a filter can drop duplicates. Headers are built from cleaned
values (no CR/LF), the HTML from escaped ones (``metrics.alerting.render``). When the payload carries a
price series, a small PNG chart of it and of the threshold is embedded inline (``cid:``).

Errors: SMTP 4xx replies and connection failures (refused, reset, timeout, TLS handshake) are
transient; 5xx replies are permanent.
"""

from __future__ import annotations

import email.utils
import smtplib  # noqa: TID251 - the one module allowed to
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from metrics.alerting.notify.base import Notification
from metrics.alerting.render import chart_png, clean_header, html_body, subject, text_body
from metrics.errors import PermanentDeliveryError, TransientDeliveryError
from metrics.log import get_logger
from metrics.settings import EmailChannel

log = get_logger(__name__)
# Serialize with long header lines so the Message-ID (a 64-hex key) is never folded onto a second
# line; body parts are already encoded (base64/quoted-printable at 76 columns) when this applies.
WIRE_POLICY = SMTP_POLICY.clone(max_line_length=998)


def message_id(key: str) -> str:
    """The stable Message-ID of the notification with idempotency key ``key``."""
    return f"<{clean_header(key, limit=120).replace(' ', '')}@metrics>"


def build_message(n: Notification, cfg: EmailChannel) -> EmailMessage:
    """The MIME message for ``n``: multipart/alternative (plain, HTML with an inline chart)."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = subject(n.payload)
    msg["From"] = clean_header(cfg.sender)
    msg["To"] = ", ".join(clean_header(a) for a in cfg.to)
    msg["Date"] = email.utils.format_datetime(n.now)
    msg["Message-ID"] = message_id(n.key)
    msg["X-Metrics-Idempotency-Key"] = clean_header(n.key)
    msg["X-Metrics-Rule"] = clean_header(n.rule)
    msg["X-Metrics-State"] = clean_header(n.state)
    msg.set_content(text_body(n.payload), subtype="plain", charset="utf-8")
    png = chart_png(n.payload.get("chart"))
    cid = f"<chart.{clean_header(n.key, limit=120).replace(' ', '')}@metrics>" if png else None
    msg.add_alternative(html_body(n.payload, chart_cid=cid), subtype="html", charset="utf-8")
    if png is not None and cid is not None:
        parts = msg.get_payload()
        assert isinstance(parts, list)
        html_part = parts[1]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(png, maintype="image", subtype="png", cid=cid, filename="chart.png")
    return msg


def _tls_context(cfg: EmailChannel) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class EmailNotifier:
    """Sends each notification as one mail to ``cfg.to`` through ``cfg.host:cfg.port``."""

    def __init__(self, channel: str, cfg: EmailChannel) -> None:
        self.channel = channel
        self.cfg = cfg

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        if cfg.security == "ssl":
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=_tls_context(cfg))
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
        if cfg.security == "starttls":
            try:
                smtp.starttls(context=_tls_context(cfg))
            except BaseException:
                smtp.close()
                raise
        return smtp

    def send(self, notification: Notification) -> None:
        cfg = self.cfg
        msg = build_message(notification, cfg)
        try:
            smtp = self._connect()
            try:
                if cfg.username:
                    pw = cfg.password.get_secret_value() if cfg.password else ""
                    smtp.login(cfg.username, pw)
                refused = smtp.sendmail(cfg.sender, list(cfg.to), msg.as_bytes(policy=WIRE_POLICY))
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            cls = TransientDeliveryError if codes and all(400 <= c < 500 for c in codes) else \
                PermanentDeliveryError
            raise cls(f"every recipient refused: {sorted(e.recipients)}", channel=self.channel) from e
        except smtplib.SMTPResponseException as e:
            text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) \
                else str(e.smtp_error)
            cls = TransientDeliveryError if 400 <= e.smtp_code < 500 else PermanentDeliveryError
            raise cls(f"SMTP {e.smtp_code}: {text}", channel=self.channel) from e
        except ssl.SSLCertVerificationError as e:
            raise TransientDeliveryError(f"TLS certificate of {cfg.host} not trusted: {e.verify_message}",
                                         channel=self.channel) from e
        except (smtplib.SMTPException, OSError) as e:
            raise TransientDeliveryError(f"{cfg.host}:{cfg.port}: {type(e).__name__}: {e}",
                                         channel=self.channel) from e
        if refused:
            log.warning("notify.email.refused", channel=self.channel, key=notification.key,
                        recipients=sorted(refused))
        log.debug("notify.email.sent", channel=self.channel, key=notification.key)

    def close(self) -> None:
        return None
