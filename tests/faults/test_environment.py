"""Environment faults end to end: a full disk, a read-only store, an unreachable price source.

The disk faults mount a small or read-only tmpfs (root only; skipped where mounting is not allowed).
The offline daemon runs as a subprocess with every HTTPS request sent to a closed proxy port.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bad_inputs.test_bad_inputs import run_cli
from tests.conftest import PROJECT

SAMPLE = PROJECT / "examples" / "prices" / "daily_sample.parquet"
METRICS_BIN = PROJECT / ".venv" / "bin" / "metrics"


def _mount(target: Path, *options: str) -> bool:
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)],
                         capture_output=True, check=False)
    return res.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: room for a store's folders, not for the sample's prices."""
    target = tmp_path / "small"
    target.mkdir()
    if os.geteuid() != 0 or not _mount(target, "size=256k"):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_full_disk_is_one_line_naming_the_store(small_disk: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An import that fills the disk ends with one line naming the store root and exit 2, no traceback."""
    root = small_disk / "root"
    code, _, err = run_cli(["--root", str(root), "--config", str(PROJECT / "config"), "prices", "import",
                            str(SAMPLE)], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert f"error: {root}: no space left on the device" in err


def test_read_only_store_is_one_line_naming_the_file(small_disk: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing into a store on a read-only file system names the file and exits 2; reading still works."""
    root = small_disk / "root"
    config = str(PROJECT / "config")
    good = PROJECT / "tests" / "bad_inputs" / "files" / "prices" / "GOOD.csv"
    assert run_cli(["--root", str(root), "--config", config, "prices", "import", str(good)],
                   capsys, monkeypatch)[0] == 0
    other = small_disk / "OTHER.csv"  # new bars: a write is needed (the same bars again would change nothing)
    other.write_bytes(good.read_bytes())
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, _, err = run_cli(["--root", str(root), "--config", config, "prices", "import", str(other)],
                           capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert f"error: {root}" in err and "Read-only file system" in err
    code, out, _ = run_cli(["--root", str(root), "--config", config, "query",
                            "select count(*) as n from prices", "--format", "json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out) == [{"n": 3}]


def test_offline_daemon_once_prints_structured_events_only(tmp_path: Path) -> None:
    """Offline, `daemon --once` with the shipped config prints at most 10 lines that are not JSON events,
    and says once that the price source is unreachable, with the tickers deferred and the next try."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
                "NO_PROXY": "", "no_proxy": "", "METRICS_LOG_FORMAT": "json"})
    root = tmp_path / "store"
    res = subprocess.run([str(METRICS_BIN), "--root", str(root), "daemon", "--once",
                          "--now", "2026-05-22T22:00:00Z"], capture_output=True, text=True, env=env,
                         cwd=PROJECT, timeout=600, check=False)
    lines = res.stderr.splitlines()
    events = []
    plain = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            plain.append(line)
    assert len(plain) <= 10, plain[:20]
    assert "Traceback" not in res.stderr
    unreachable = [e for e in events if e.get("event") == "prices.source_unreachable"]
    assert len(unreachable) == 1, [e.get("event") for e in events]
    assert unreachable[0]["deferred"] > 0 and unreachable[0]["next_try"]
    failed = [e for e in events if e.get("event") == "prices.fetch_failed"]
    assert len(failed) <= 3
