"""A flaky webhook receiver: at-least-once delivery holds, nothing lost, duplicates dropped by id.

A real local HTTP server answers a seeded random share of POSTs with 503 (``Retry-After: 0``) or by
dropping the connection, the rest verified and accepted. The daemon runs ``--once`` again and again
(hours apart, so every retry is due) until the outbox has nothing queued: every notification must
then be delivered, each one received at least once and kept once by its ``webhook-id``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import TEST_RULES, US_COMPANIES, Receiver, run_metrics, write_config
from tests.http_server import serving

RUNS = ("2026-05-22T22:00:00Z", "2026-05-23T02:00:00Z", "2026-05-23T06:00:00Z", "2026-05-23T10:00:00Z",
        "2026-05-23T14:00:00Z", "2026-05-23T18:00:00Z", "2026-05-23T22:00:00Z", "2026-05-24T02:00:00Z")


@pytest.fixture
def flaky() -> Iterator[tuple[Receiver, dict[str, int]]]:
    """A receiver failing a seeded 40 % of POSTs (503 or a dropped connection); counts per outcome."""
    rec = Receiver()
    rng = random.Random(8)
    counts = {"accepted": 0, "503": 0, "dropped": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with rec.lock:
                roll = rng.random()
            if roll < 0.3:
                counts["503"] += 1
                self.send_response(503)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            if roll < 0.4:
                counts["dropped"] += 1
                self.close_connection = True
                self.connection.close()
                return
            ok = rec.accept({k.lower(): v for k, v in self.headers.items()}, body)
            counts["accepted"] += ok
            self.send_response(204 if ok else 400)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    with serving(Handler) as base:
        rec.url = f"{base}/hook"
        yield rec, counts


def test_flaky_receiver_gets_every_notification(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                flaky: tuple[Receiver, dict[str, int]]) -> None:
    """With 40 % of POSTs failing, repeated runs deliver every notification; none is lost or dead."""
    rec, counts = flaky
    root = tmp_path / "store"
    extra = "\n[delivery]\nmax_attempts = 30\nbackoff_base_s = 1\nbackoff_max_s = 5\n"
    config = write_config(tmp_path / "cfg", root, hook_url=rec.url, rules=TEST_RULES,
                          companies=US_COMPANIES, extra=extra)
    args = ("--root", str(root), "--config", str(config))
    for now in RUNS:
        res = run_metrics(capsys, *args, "daemon", "--once", "--now", now)
        assert res.code in (0, 1), res.err[-2000:]
        assert "Traceback" not in res.err
        listed = run_metrics(capsys, *args, "outbox", "list", "--limit", "10000", "--format", "json")
        rows = [r for r in json.loads(listed.out) if r["channel"] == "hook"]
        if rows and all(r["status"] != "queued" for r in rows):
            break
    assert rows, "no webhook notification was queued"
    assert {r["status"] for r in rows} == {"delivered"}
    assert counts["503"] + counts["dropped"] > 0            # the faults really happened
    assert len(rec.unique) == len(rows)                     # each one kept once, none lost
    assert len(rec.received) >= len(rows)
