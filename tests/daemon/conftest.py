"""Fixtures of the daemon tests: a tmp store and config, a real webhook receiver, CLI runners.

The daemon runs for real: in-process through ``jobs.cli.main`` (exit codes as the console script
gives them) or as a subprocess of ``.venv/bin/metrics`` where signals are involved. Time is fixed
with the daemon's hidden ``--now`` option, so evaluations land on known closes of the sample prices.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.http_server import serving

PROJECT = Path(__file__).resolve().parents[2]
METRICS_BIN = PROJECT / ".venv" / "bin" / "metrics"
SAMPLE_PRICES = PROJECT / "examples" / "prices" / "daily_sample.parquet"
EXAMPLE_DOCS = PROJECT / "examples" / "documents"
SECRET = "whsec_" + base64.b64encode(b"daemon-tests-secret-0123456789ab").decode()

# A Friday close of the sample (NYSE closes 20:00 UTC in summer), and the evening after it.
FRIDAY = dt.date(2026, 5, 22)
EVENING = "2026-05-22T22:00:00Z"


def _close_seen_rule(name: str, entities: str) -> str:
    """A rule of our own (the shipped ones may change): always true on the sample, both channels."""
    return f"""
[[rules]]
name = "{name}"
series = "prices.close"
entities = {entities}
condition = "value > 1"
for = "0"
keep_firing_for = "0d"
repeat_interval = "0"
severity = "info"
channels = ["log", "hook"]
summary = "{{entity}} closed at {{value:.2f}}"
"""


TEST_RULES = _close_seen_rule("nvda-close-seen", '["NVDA"]') + _close_seen_rule(
    "msft-close-seen", '["MSFT", "AMD"]'
)


@pytest.fixture(autouse=True)
def _logs_to_this_tests_stderr() -> None:
    """Structured logs go to the stderr pytest captures for this test (JSON, as when not on a tty)."""
    from metrics.log import configure

    configure("info", "json")


@dataclass
class Receiver:
    """A real HTTP webhook receiver that verifies signatures and drops duplicate ``webhook-id``s."""

    url: str = ""
    received: list[str] = field(default_factory=list)      # every verified POST's webhook-id
    times: list[float] = field(default_factory=list)       # when each of ``received`` came (time.time())
    unique: dict[str, dict[str, Any]] = field(default_factory=dict)  # first body per webhook-id
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, headers: dict[str, str], body: bytes) -> bool:
        msg_id = headers.get("webhook-id", "")
        ts = headers.get("webhook-timestamp", "")
        sig = headers.get("webhook-signature", "")
        if not (msg_id and ts and sig):
            return False
        # the daemon signs with the run's (possibly past) time, so check the signature, not the age
        expected = Webhook(SECRET).sign(msg_id, dt.datetime.fromtimestamp(int(ts), dt.UTC), body.decode())
        if not any(hmac.compare_digest(expected, s) for s in sig.split(" ")):
            return False
        with self.lock:
            self.received.append(msg_id)
            self.times.append(time.time())
            self.unique.setdefault(msg_id, json.loads(body))
        return True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free local port, deduplicating by ``webhook-id``."""
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            ok = rec.accept({k.lower(): v for k, v in self.headers.items()}, body)
            if not ok:
                rec.rejected += 1
            self.send_response(204 if ok else 400)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    with serving(Handler) as base:
        rec.url = f"{base}/hook"
        yield rec


US_COMPANIES = """
[[company]]
name = "NVIDIA"
ticker = "NVDA"
exchange = "XNAS"
currency = "USD"
fiscal_year_end = 1
aliases = ["英伟达", "輝達", "Nvidia"]

[[company]]
name = "Microsoft"
ticker = "MSFT"
exchange = "XNAS"
currency = "USD"
fiscal_year_end = 6
aliases = ["微软", "微軟"]
"""


def write_config(config: Path, root: Path, *, hook_url: str | None = None, rules: str | None = None,
                 replay_max_days: int = 10, extra: str = "", companies: str | None = None,
                 state_url: str | None = None) -> Path:
    """Write ``settings.toml`` (and ``rules.toml`` if given) into ``config``; the project's companies
    unless ``companies`` gives a registry of its own; the state database at ``state_url`` (default:
    SQLite under the root)."""
    config.mkdir(parents=True, exist_ok=True)
    if companies is not None:
        (config / "companies.toml").write_text(companies, encoding="utf-8")
    elif not (config / "companies.toml").exists():
        shutil.copy(PROJECT / "config" / "companies.toml", config / "companies.toml")
    if rules is not None:
        (config / "rules.toml").write_text(rules, encoding="utf-8")
    hook = (f'\n[channels.hook]\ntype = "webhook"\nurl = "{hook_url}"\nsecret = "{SECRET}"\ntimeout_s = 5\n'
            if hook_url else "")
    state = f'state_url = "{state_url}"\n' if state_url else ""
    (config / "settings.toml").write_text(f"""
root = "{root}"
inbox = "{EXAMPLE_DOCS}"
{state}
[prices]
fetch = false
seed_files = ["{SAMPLE_PRICES}"]

[scheduler]
replay_max_days = {replay_max_days}
{extra}
[channels.log]
type = "log"
{hook}""", encoding="utf-8")
    return config


@pytest.fixture
def daemon_env(tmp_path: Path, receiver: Receiver, state_url: str) -> tuple[Path, Path]:
    """(config dir, store root) of a daemon with our test rules and a webhook channel ``hook``, once
    per state database backend (SQLite under the root, a fresh PostgreSQL database)."""
    root = tmp_path / "store"
    config = write_config(tmp_path / "cfg", root, hook_url=receiver.url, rules=TEST_RULES,
                          companies=US_COMPANIES,
                          state_url=None if state_url.startswith("sqlite") else state_url)
    return config, root


@pytest.fixture
def sqlite_daemon_env(tmp_path: Path, receiver: Receiver) -> tuple[Path, Path]:
    """``daemon_env`` on SQLite only (what the file lock of one daemon per store is about)."""
    root = tmp_path / "store"
    config = write_config(tmp_path / "cfg", root, hook_url=receiver.url, rules=TEST_RULES,
                          companies=US_COMPANIES)
    return config, root


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_metrics(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run ``metrics ARGS`` in-process through the console-script entry point."""
    from jobs.cli import main

    capsys.readouterr()
    old = sys.argv
    sys.argv = ["metrics", *args]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    cap = capsys.readouterr()
    return Result(code, cap.out, cap.err)


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``.venv/bin/metrics ARGS`` as a subprocess, JSON logs on its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    env["METRICS_LOG_FORMAT"] = "json"
    return subprocess.Popen([str(METRICS_BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=PROJECT)


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log events of a stderr text (other lines ignored)."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


from tests.store.conftest import yahoo  # noqa: E402, F401 - Yahoo replayed from recorded responses
