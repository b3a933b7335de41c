"""Start-up stays light: ``metrics --help`` and a query load none of the heavy libraries, and the
lazily loaded command modules list exactly what they register (``jobs.cli.COMMANDS``)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import COMMANDS, command_tree, load_commands

HEAVY = (
    "yfinance",
    "apscheduler",
    "exchange_calendars",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "deltalake",
    "prometheus_client",
    "sqlalchemy",
    "alembic",
    "pandas",
)
# the parts of the project a query of no table must not load either
STACK = ("metrics.alerting", "metrics.extraction", "jobs.daemon", "jobs.scheduler", "jobs.web")

# runs the console script's entry point, then prints the heavy modules it imported
PROBE = """
import atexit, sys
heavy = sys.argv[1].split(",")
atexit.register(lambda: print("loaded:", ",".join(sorted(
    h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules)))))
from jobs.cli import main
sys.argv = ["metrics", *sys.argv[2:]]
main()
"""


def _loaded(*args: str, cwd: Path) -> tuple[list[str], str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250"}
    res = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY + STACK), *args], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True)
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), res.stdout
    names = last.removeprefix("loaded:").strip()
    return (names.split(",") if names else []), res.stdout


def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].replace("\n", " ").strip()


def test_cli_import_loads_no_heavy_library() -> None:
    """`import jobs.cli` imports none of the heavy libraries (nor any command module)."""
    code = "import sys, jobs.cli; print(sorted(m for m in sys.modules if m.startswith('jobs.cli.')))"
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         check=True)
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in res.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert sorted(imported & set(HEAVY)) == []
    assert "jobs.cli.store" not in res.stdout and "jobs.cli.alerts" not in res.stdout


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    """`metrics --help` lists the commands without importing the heavy libraries or their modules."""
    loaded, out = _loaded("--help", cwd=tmp_path)
    assert loaded == []
    assert "query" in out and "daemon" in out


def test_query_of_no_table_imports_no_heavy_module(tmp_path: Path) -> None:
    """`metrics query "select 1"` runs on polars alone: no Delta, state database or alerting stack."""
    (tmp_path / "root").mkdir()
    loaded, out = _loaded("--root", "root", "query", "select 1 as one", "--format", "csv", cwd=tmp_path)
    assert loaded == []
    assert out.splitlines()[:2] == ["one", "1"]
    # the probe sees what a command does load: store init opens Delta and the state database
    loaded, _ = _loaded("--root", "root", "store", "init", cwd=tmp_path)
    assert {"deltalake", "sqlalchemy"} <= set(loaded)


def test_help_lists_every_command_with_its_help(tmp_path: Path) -> None:
    """Each command of the fully loaded tree is listed by `metrics --help` with the first paragraph of
    its own help, on one line."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250"}
    res = subprocess.run([sys.executable, "-c", PROBE, "none", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    rows = [" ".join(line.strip("│ ").split()) for line in res.stdout.splitlines()]
    tree = command_tree()
    listed = [name for name, cmd in tree.commands.items() if not cmd.hidden]
    assert listed == list(COMMANDS)
    for name in listed:
        assert f"{name} {_first_paragraph(tree.commands[name].help)}" in rows, name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_registry_matches_the_command_modules(name: str) -> None:
    """``COMMANDS`` names each command's module and its help as the module defines them, and each
    module registers only commands of the registry."""
    entry = COMMANDS[name]
    registered = load_commands(entry.module)
    assert name in registered
    assert entry.help == _first_paragraph(registered[name].help)
    assert set(registered) <= set(COMMANDS)
    assert {COMMANDS[n].module for n in registered} == {entry.module}


def _modules_after(code: str) -> set[str]:
    """The top-level names of the modules a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport sys\nprint(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(res.stdout.strip().splitlines()[-1].split(","))


def test_a_new_sqlite_state_database_is_built_without_alembic(tmp_path: Path) -> None:
    """The daemon's first start makes its SQLite state database without loading Alembic (the
    revisions' schema is replayed, ``metrics.alerting.migrations.sqlite_head``), nor the PostgreSQL
    dialect; an older database is still upgraded by Alembic."""
    url = f"sqlite:///{(tmp_path / 'state.db').as_posix()}"
    code = ("from metrics.alerting.state import open_db\n"
            f"db = open_db({url!r})\nassert db.revisions is not None and db.revisions[0] is None\n"
            "import sqlalchemy.dialects, sys\n"
            "assert 'sqlalchemy.dialects.postgresql' not in sys.modules\ndb.close()")
    assert "alembic" not in _modules_after(code)
    (tmp_path / "old.db").touch()
    old = f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    ddl = "CREATE TABLE endpoints (channel VARCHAR(100) PRIMARY KEY)"
    setup = (f"import sqlalchemy as sa\ne = sa.create_engine({old!r})\n"
             f"with e.begin() as c: c.exec_driver_sql({ddl!r})\n"
             f"from metrics.alerting.state import open_db\nopen_db({old!r}).close()")
    assert "alembic" in _modules_after(setup)
