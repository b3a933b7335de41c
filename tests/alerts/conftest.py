"""Fixtures of the alerts area (rules, evaluation, lifecycle, delivery).

Sections are owned by their authors and only ever added to. DELIVERY section: a real SMTP server
(aiosmtpd; plain, STARTTLS and SSL with a self-signed certificate made here by ``openssl``), a real
local HTTP receiver (http.server in a thread) that answers scripted statuses and dedups by
``webhook-id``, the state database and small builders for rules and prices.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiosmtpd.controller import Controller

from metrics.alerting.rules import Rule, parse_rules
from metrics.alerting.state import StateDB, open_db
from tests.http_server import serving

# ------------------------------------------------------------------------ DELIVERY: helpers

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_rules(*specs: dict[str, Any]) -> list[Rule]:
    """Validated rules from dicts in the rules-file format (errors fail the test)."""
    rules, errors = parse_rules({"rules": list(specs)})
    assert not errors, errors
    return rules


def price_frame(ticker: str, start: dt.date, closes: list[float], *, now: dt.datetime) -> pl.DataFrame:
    """Daily bars of ``ticker`` from ``start`` (every calendar day) with the given closes."""
    dates = [start + dt.timedelta(days=i) for i in range(len(closes))]
    n = len(closes)
    return pl.DataFrame({
        "ticker": [ticker] * n, "date": dates, "open": closes, "high": closes, "low": closes,
        "close": closes, "adj_close": closes, "volume": [1000] * n, "currency": ["USD"] * n,
        "source": ["file:test"] * n, "fetched_at": [now] * n,
    })


def enqueue(db: StateDB, count: int, *, channel: str, now: dt.datetime, prefix: str = "key") -> list[str]:
    """Put ``count`` firing notifications for ``channel`` in the outbox, due at ``now``; their keys."""
    from metrics.alerting.state import notifications

    keys = [f"{prefix}-{i}" for i in range(count)]
    with db.write() as conn:
        for i, key in enumerate(keys):
            conn.execute(notifications.insert().values(
                idempotency_key=key, rule="r", entity=f"E{i}", state="firing", channel=channel,
                payload={"rule": "r", "entity": f"E{i}", "state": "firing", "severity": "warning",
                         "summary": f"E{i} fell", "value": float(i), "at": now.isoformat()},
                created_at=now, next_attempt_at=now, attempts=0, status="queued"))
    return keys


# ------------------------------------------------------------------------ DELIVERY: state db

@pytest.fixture
def db(state_url: str) -> Iterator[StateDB]:
    """A fresh state database, once per backend: SQLite (WAL) in tmp_path, a new PostgreSQL database."""
    d = open_db(state_url)
    yield d
    d.close()


@pytest.fixture
def db_url(state_url: str) -> str:
    """The URL of a fresh state database (opened by the test), once per backend."""
    return state_url


# ------------------------------------------------------------------------ DELIVERY: TLS

@dataclass(frozen=True)
class Certs:
    """A self-signed certificate for localhost/127.0.0.1 and its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A self-signed certificate made for the test session by the ``openssl`` command."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, capture_output=True,
    )
    return Certs(cert, key)


# ------------------------------------------------------------------------ DELIVERY: SMTP

class RecordingHandler:
    """An aiosmtpd handler that keeps every accepted message; ``replies`` scripts failures first."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.replies: deque[str] = deque()   # e.g. "451 4.3.0 try later", consumed one per DATA

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.popleft()
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted"


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self, mode: str, certs: Certs) -> None:
        self.mode = mode
        self.certs = certs
        self.host = "127.0.0.1"
        self.port = free_port()
        self.handler = RecordingHandler()
        self._controller: Controller | None = None

    def start(self) -> SMTPServer:
        kwargs: dict[str, Any] = {}
        if self.mode == "starttls":
            kwargs = {"tls_context": self.certs.server_context(), "require_starttls": True}
        elif self.mode == "ssl":
            kwargs = {"ssl_context": self.certs.server_context()}
        self._controller = Controller(self.handler, hostname=self.host, port=self.port,
                                      server_hostname="localhost", **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages, parsed."""
        out = []
        for _, _, raw in self.handler.envelopes:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out


@pytest.fixture
def smtp_server(tls_certs: Certs) -> Iterator[Callable[..., SMTPServer]]:
    """Factory: ``smtp_server("none" | "starttls" | "ssl", started=True)``; all stopped at teardown."""
    servers: list[SMTPServer] = []

    def make(mode: str = "starttls", *, started: bool = True) -> SMTPServer:
        s = SMTPServer(mode, tls_certs)
        servers.append(s)
        return s.start() if started else s

    yield make
    for s in servers:
        s.stop()


# ------------------------------------------------------------------------ DELIVERY: HTTP receiver

@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook receiver: scripted replies (status, headers), records requests, dedups by key."""

    url: str = ""
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)   # webhook-id -> body, first 2xx only
    duplicates: int = 0
    delay_s: float = 0.0
    on_request: Callable[[Received], None] | None = None        # called before the reply is sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (then 200 again)."""
        for _ in range(times):
            self.script.append((status, headers or {}))


def _handler_for(rcv: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with rcv.lock:
                status, extra = rcv.script.popleft() if rcv.script else (200, {})
                req = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                rcv.requests.append(req)
                key = req.headers.get("webhook-id", "")
                if 200 <= status < 300:
                    if key in rcv.accepted:
                        rcv.duplicates += 1
                    else:
                        rcv.accepted[key] = body
            if rcv.on_request is not None:
                rcv.on_request(req)
            if rcv.delay_s:
                threading.Event().wait(rcv.delay_s)
            reply = b"{}"
            try:
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the client gave up (timeout test, killed sender)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 in a thread; POST /hook answers from ``script`` (default 200)."""
    rcv = Receiver()
    with serving(_handler_for(rcv)) as base:
        rcv.url = f"{base}/hook"
        yield rcv



# ------------------------------------------------------------------------ RULES: data builders

ALERTS_DATA = Path(__file__).resolve().parent / "data"
UTC = dt.UTC


def empty_facts() -> pl.LazyFrame:
    """A facts table with no rows (the declared schema)."""
    from metrics.store.schema import FACTS

    return pl.LazyFrame(schema=FACTS)


def bars(ticker: str, closes: list[float | None], *, start: dt.date = dt.date(2024, 1, 1),
         business: bool = True) -> pl.DataFrame:
    """Bars of ``ticker`` on consecutive weekdays (or calendar days) from ``start``; None skips a day."""
    dates: list[dt.date] = []
    d = start
    while len(dates) < len(closes):
        if not business or d.weekday() < 5:
            dates.append(d)
        d += dt.timedelta(days=1)
    rows = [(dd, c) for dd, c in zip(dates, closes, strict=True) if c is not None]
    return pl.DataFrame({"ticker": [ticker] * len(rows), "date": [r[0] for r in rows],
                         "close": [float(r[1]) for r in rows]},
                        schema={"ticker": pl.String, "date": pl.Date, "close": pl.Float64})


def facts_frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    """A facts table from partial rows (entity, ticker, metric, value, period, published, ...)."""
    from metrics.store.schema import FACTS

    full = []
    for i, r in enumerate(rows):
        base: dict[str, Any] = {"fact_id": f"f{i}", "kind": "actual", "unit": "USD",
                                "ingested_at": dt.datetime(2025, 1, 1, tzinfo=UTC)}
        base.update(r)
        base.setdefault("value_usd", base["value"] if base["unit"] == "USD" else None)
        full.append(base)
    return pl.DataFrame(full).lazy().select(
        (pl.col(c) if c in full[0] or any(c in r for r in full) else pl.lit(None)).cast(t).alias(c)
        for c, t in FACTS.items())


@pytest.fixture(scope="session")
def real_prices() -> pl.LazyFrame:
    """Real daily bars 2023-2026 of NVDA, AAPL, MSFT, AMZN and 000660.KS (tests/alerts/data)."""
    return pl.read_parquet(ALERTS_DATA / "prices_2023_2026.parquet").lazy()
