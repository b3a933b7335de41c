"""A flaky SMTP relay: every notification reaches the mailbox, each Message-ID kept once.

A real aiosmtpd server answers the first attempt of every message, and a seeded random share of the
later ones, with ``451 try later``; the daemon
runs ``--once`` hours apart (every retry due) until the outbox has nothing queued for the channel.
"""

from __future__ import annotations

import email
import email.policy
import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.daemon.conftest import US_COMPANIES, run_metrics, write_config
from tests.faults.test_flaky_webhook import RUNS

RULE = """
[[rules]]
name = "nvda-close-mailed"
series = "prices.close"
entities = ["NVDA", "MSFT"]
condition = "value > 1"
for = "0"
keep_firing_for = "0d"
repeat_interval = "0"
severity = "info"
channels = ["mail"]
summary = "{entity} closed at {value:.2f}"
"""


class FlakyHandler:
    """Refuses each message's first attempt and a seeded 30 % of the others with 451; keeps the
    Message-ID of each one accepted."""

    def __init__(self) -> None:
        self.rng = random.Random(11)
        self.accepted: list[str] = []
        self.seen: set[str] = set()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(bytes(envelope.original_content), policy=email.policy.default)
        key = str(msg["Message-ID"])
        first = key not in self.seen
        self.seen.add(key)
        if first or self.rng.random() < 0.3:
            self.refused += 1
            return "451 4.3.0 try later"
        self.accepted.append(key)
        return "250 Message accepted"


@pytest.fixture
def relay() -> Iterator[tuple[FlakyHandler, int]]:
    """The flaky relay on a free local port (plain SMTP)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    handler = FlakyHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_flaky_relay_gets_every_notification(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             relay: tuple[FlakyHandler, int]) -> None:
    """With every first attempt refused for now, repeated runs deliver all messages, none kept twice."""
    handler, port = relay
    root = tmp_path / "store"
    extra = (f'\n[delivery]\nmax_attempts = 30\nbackoff_base_s = 1\nbackoff_max_s = 5\n'
             f'[channels.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
             'to = ["ops@example.com"]\ntimeout_s = 5\n')
    config = write_config(tmp_path / "cfg", root, rules=RULE, companies=US_COMPANIES, extra=extra)
    args = ("--root", str(root), "--config", str(config))
    rows: list[dict[str, Any]] = []
    for now in RUNS:
        res = run_metrics(capsys, *args, "daemon", "--once", "--now", now)
        assert res.code in (0, 1), res.err[-2000:]
        assert "Traceback" not in res.err
        listed = run_metrics(capsys, *args, "outbox", "list", "--limit", "10000", "--format", "json")
        rows = [r for r in json.loads(listed.out) if r["channel"] == "mail"]
        if rows and all(r["status"] != "queued" for r in rows):
            break
    assert rows, "no e-mail notification was queued"
    assert {r["status"] for r in rows} == {"delivered"}
    assert handler.refused > 0
    assert len(set(handler.accepted)) == len(rows) == len(handler.accepted)
