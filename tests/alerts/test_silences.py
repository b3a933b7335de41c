"""Silences (library and `metrics silence add|list|expire`) and the `metrics alerts` listing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from metrics.alerting.state import StateDB, open_db
from metrics.alerting.tick import run_tick
from metrics.errors import UsageError
from metrics.store.tables import Store
from tests.alerts.conftest import make_rules, price_frame

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
METRICS = Path(sys.executable).parent / "metrics"
RULES_TOML = """
[[rules]]
name = "tst-below-100"
series = "prices.close"
entities = ["TST"]
condition = "value < 100"
channels = ["log"]
"""


@pytest.fixture
def cli_env(tmp_path: Path) -> tuple[Path, Path]:
    """A config folder (log channel, one rule) and a store root for CLI runs."""
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "settings.toml").write_text('[channels.log]\ntype = "log"\n', encoding="utf-8")
    (config / "rules.toml").write_text(RULES_TOML, encoding="utf-8")
    return config, tmp_path / "root"


def run(env: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    config, root = env
    result = CliRunner().invoke(app, ["--root", str(root), "--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_silence_matches_rule_and_entity_until_expiry(db: StateDB) -> None:
    """A silence covers its rule (one entity or all) from its start until it expires."""
    one = db.add_silence("r", "NVDA", "earnings", now=NOW, expires_at=NOW + dt.timedelta(hours=2))
    every = db.add_silence("q", None, "noisy", now=NOW, expires_at=NOW + dt.timedelta(hours=1))
    assert one.matches("r", "NVDA", now=NOW) and not one.matches("r", "AMD", now=NOW)
    assert every.matches("q", "AMD", now=NOW) and not every.matches("r", "AMD", now=NOW)
    assert not one.matches("r", "NVDA", now=NOW + dt.timedelta(hours=2))
    assert [s.id for s in db.silences(now=NOW + dt.timedelta(minutes=90))] == [one.id]
    assert db.expire_silence(one.id, now=NOW + dt.timedelta(minutes=1))
    assert db.silences(now=NOW + dt.timedelta(minutes=90)) == []
    assert not db.expire_silence(one.id, now=NOW + dt.timedelta(minutes=2))


def test_silence_must_end_after_it_starts(db: StateDB) -> None:
    """A silence that expires before it starts is refused."""
    with pytest.raises(ValueError, match="expire"):
        db.add_silence("r", None, "x", now=NOW, expires_at=NOW)


def test_cli_silence_add_list_expire(cli_env: tuple[Path, Path]) -> None:
    """`silence add --for` creates an active silence, `list` shows it, `expire` ends it."""
    code, out, _ = run(cli_env, "silence", "add", "--rule", "tst-below-100", "--entity", "TST",
                       "--for", "2h", "--reason", "stock split", "--format", "json")
    assert code == 0
    [added] = json.loads(out)
    assert added["rule"] == "tst-below-100" and added["entity"] == "TST" and added["active"]
    created = dt.datetime.fromisoformat(added["created_at"])
    assert dt.datetime.fromisoformat(added["expires_at"]) - created == dt.timedelta(hours=2)
    code, out, _ = run(cli_env, "silence", "list", "--format", "jsonl")
    assert code == 0 and [json.loads(line)["reason"] for line in out.splitlines()] == ["stock split"]
    code, _, err = run(cli_env, "silence", "expire", str(added["id"]))
    assert code == 0 and "expired" in err
    assert run(cli_env, "silence", "list", "--format", "json")[1].strip() == "[]"
    code, out, _ = run(cli_env, "silence", "list", "--all", "--format", "json")
    assert [s["active"] for s in json.loads(out)] == [False]
    code, _, err = run(cli_env, "silence", "expire", str(added["id"]))
    assert code == 1 and "no such active silence" in err


def test_cli_silence_until_a_date(cli_env: tuple[Path, Path]) -> None:
    """`--until` takes an ISO date (midnight UTC)."""
    code, out, _ = run(cli_env, "silence", "add", "--rule", "tst-below-100", "--until", "2999-01-01",
                       "--reason", "x", "--format", "json")
    assert code == 0 and json.loads(out)[0]["expires_at"] == "2999-01-01T00:00:00Z"


@pytest.mark.parametrize("args", [
    ["--rule", "tst-below-100", "--reason", "x"],                               # neither --for nor --until
    ["--rule", "tst-below-100", "--reason", "x", "--for", "2h", "--until", "2999-01-01"],
    ["--rule", "tst-below-100", "--reason", "x", "--for", "soon"],
    ["--rule", "tst-below-100", "--reason", "x", "--until", "2001-01-01"],      # past
    ["--rule", "no-such-rule", "--reason", "x", "--for", "1h"],
    ["--rule", "tst-below-100", "--reason", " ", "--for", "1h"],
])
def test_cli_silence_add_usage_errors(cli_env: tuple[Path, Path], args: list[str]) -> None:
    """Bad `silence add` usage raises UsageError (exit 2 from main) and adds nothing."""
    config, root = cli_env
    result = CliRunner().invoke(app, ["--root", str(root), "--config", str(config), "silence", "add", *args])
    assert isinstance(result.exception, UsageError) and result.stdout == ""
    assert run(cli_env, "silence", "list", "--all", "--format", "json")[1].strip() == "[]"


def test_cli_usage_error_exits_2(cli_env: tuple[Path, Path]) -> None:
    """The installed `metrics` command exits 2 and names the problem on stderr."""
    config, root = cli_env
    proc = subprocess.run([str(METRICS), "--root", str(root), "--config", str(config), "silence", "add",
                           "--rule", "tst-below-100", "--reason", "x"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--for" in proc.stderr and "--until" in proc.stderr


def test_cli_alerts_lists_states_and_history(cli_env: tuple[Path, Path]) -> None:
    """`alerts` lists instances from the state database (filtered by --state); --history the transitions."""
    config, root = cli_env
    store = Store(root)
    start = dt.date(2025, 1, 1)
    store.append("prices", price_frame("TST", start, [120.0 - 2 * i for i in range(20)], now=NOW), now=NOW)
    db = open_db(f"sqlite:///{root / 'state.db'}")
    rules = make_rules({"name": "tst-below-100", "series": "prices.close", "entities": ["TST"],
                        "condition": "value < 100", "channels": ["log"]})
    run_tick(store, db, rules, now=dt.datetime(2025, 1, 15, 21, tzinfo=dt.UTC))
    db.add_silence("tst-below-100", None, "x", now=NOW - dt.timedelta(hours=1),
                   expires_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC))
    db.close()
    code, out, _ = run(cli_env, "alerts", "--format", "json")
    assert code == 0
    [row] = json.loads(out)
    assert (row["rule"], row["entity"], row["state"]) == ("tst-below-100", "TST", "firing")
    assert row["value"] == 92.0
    assert row["silenced"] is True
    assert json.loads(run(cli_env, "alerts", "--state", "pending", "--format", "json")[1]) == []
    code, out, _ = run(cli_env, "alerts", "--history", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("alert_id,rule,entity,state,at")
    assert len(out.splitlines()) == 2
    result = CliRunner().invoke(app, ["--root", str(root), "--config", str(config), "alerts", "--state", "x"])
    assert isinstance(result.exception, UsageError)
