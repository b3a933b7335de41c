"""The state database's migrations (Alembic): from empty on both backends, from a file made before
Alembic, concurrent upgrades, and no drift between the models and the revisions."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from metrics.alerting.migrations import HEAD, alembic_config, current_revision, sqlite_head, sqlite_statements
from metrics.alerting.migrations.versions import r0001_initial
from metrics.alerting.state import metadata, open_db

NOW = dt.datetime(2026, 3, 2, 21, 0, tzinfo=dt.UTC)
HA_TABLES = {"leadership", "replicas"}


def _drift(conn: sa.Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models, for the tables the
    models define (the HA tables of revision 0002 join the models on their own branch)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table in metadata.tables

    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include})
    return list(compare_metadata(ctx, metadata))


def test_head_is_the_last_revision() -> None:
    """``HEAD`` names the one head of the revision scripts, and they form one line from 0001."""
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]
    chain = [r.revision for r in script.walk_revisions("base", "heads")]
    assert chain == ["0003", "0002", "0001"]


def test_upgrade_from_empty_builds_every_table(state_url: str) -> None:
    """A new database, SQLite or PostgreSQL, is built by the revisions: every table of the models,
    the HA tables, Alembic's version at HEAD, and no drift from the models."""
    db = open_db(state_url)
    names = set(sa.inspect(db.engine).get_table_names())
    assert names == set(metadata.tables) | HA_TABLES | {"alembic_version"}
    with db.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        assert _drift(conn) == []
    assert db.migrate() == (HEAD, HEAD)     # a second open changes nothing
    db.close()


def _sqlite_master(path: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    finally:
        con.close()


def test_a_new_sqlite_file_is_built_as_the_revisions_build_it(tmp_path: Path) -> None:
    """A new SQLite file is built from ``sqlite_head`` without loading Alembic's scripts: the very
    schema (every object, its DDL text, in order) and version that running the revisions gives."""
    from alembic import command

    by_revisions = tmp_path / "revisions.db"
    engine = sa.create_engine(f"sqlite:///{by_revisions}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        assert sqlite_statements(conn) == list(sqlite_head.STATEMENTS)  # else: regenerate sqlite_head
    engine.dispose()
    assert sqlite_head.REVISION == HEAD
    db = open_db(f"sqlite:///{tmp_path / 'state.db'}")
    assert db.revisions == (None, HEAD)
    with db.engine.connect() as conn:
        assert current_revision(conn) == HEAD and _drift(conn) == []
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    db.close()
    assert _sqlite_master(tmp_path / "state.db") == _sqlite_master(by_revisions)


def test_ha_tables_are_exactly_as_specified(state_url: str) -> None:
    """Revision 0002 makes ``leadership`` and ``replicas`` with the agreed columns and nullability."""
    db = open_db(state_url)
    insp = sa.inspect(db.engine)
    cols = {c["name"]: c["nullable"] for c in insp.get_columns("leadership")}
    assert cols == {"name": False, "epoch": False, "holder": True, "since": True, "heartbeat_at": True}
    assert insp.get_pk_constraint("leadership")["constrained_columns"] == ["name"]
    cols = {c["name"]: c["nullable"] for c in insp.get_columns("replicas")}
    assert cols == {"replica_id": False, "host": False, "pid": False, "started_at": False,
                    "heartbeat_at": False, "role": False, "epoch": True}
    assert insp.get_pk_constraint("replicas")["constrained_columns"] == ["replica_id"]
    db.close()


def _old_style_file(path: Path, *, drop: dict[str, str]) -> None:
    """A state file as the former ``StateDB.migrate()`` left it: the 0001 tables made by
    ``create_all`` (``drop``: a column per table still missing, from an older release), a schema
    version row, some data, and no ``alembic_version``."""
    md = sa.MetaData()

    def table(name: str, *items: Any) -> None:
        cols = [i for i in items if not (isinstance(i, sa.Column) and drop.get(name) == i.name)]
        sa.Table(name, md, *cols)

    r0001_initial.create_tables(table)
    engine = sa.create_engine(f"sqlite:///{path}")
    md.create_all(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO notifications (idempotency_key, rule, entity, state, channel, payload, "
                "created_at, next_attempt_at, attempts, status) VALUES ('k1', 'r', 'E', 'firing', 'hook', "
                "'{\"state\": \"firing\"}', '2026-03-02 21:00:00.000000', '2026-03-02 21:00:00.000000', 0, "
                "'queued')")
    con.execute("INSERT INTO evaluations VALUES ('2026-03-02 21:00:00.000000', '2026-03-02 21:00:01.000000', "
                "1, 1, 0, 1)")
    con.commit()
    con.close()


def test_a_file_made_before_alembic_is_adopted(tmp_path: Path) -> None:
    """An old SQLite file (no ``alembic_version``, a column of an older release missing) is stamped
    0001 after its missing columns are added, then upgraded to HEAD; its data is kept and usable."""
    path = tmp_path / "state.db"
    _old_style_file(path, drop={"alert_states": "notified_at", "endpoints": "reason"})
    db = open_db(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        assert _drift(conn) == []
    assert db.last_evaluation() == NOW
    [row] = db.notifications()
    assert (row["idempotency_key"], row["status"], row["claimed_by"]) == ("k1", "queued", None)
    assert row["payload"] == {"state": "firing"}
    assert [r["idempotency_key"] for r in db.due_notifications(now=NOW, limit=10)] == ["k1"]
    db.close()


def test_a_partial_old_file_gets_its_missing_tables(tmp_path: Path) -> None:
    """An old file holding only some tables (and one of them short of a column) gets the rest."""
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE endpoints (channel VARCHAR(100) PRIMARY KEY, disabled_at DATETIME)")
    con.execute("INSERT INTO endpoints VALUES ('hook', '2026-01-01 00:00:00.000000')")
    con.commit()
    con.close()
    db = open_db(f"sqlite:///{path}")
    assert set(metadata.tables) <= set(sa.inspect(db.engine).get_table_names())
    assert {c["name"] for c in sa.inspect(db.engine).get_columns("endpoints")} == {"channel", "disabled_at",
                                                                                    "reason"}
    assert db.disabled_endpoints() == {"hook": {"disabled_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                                                "reason": None}}
    db.close()


def test_concurrent_upgrades_upgrade_once(state_url: str) -> None:
    """Six engines (as six daemons would) opening one new database at the same moment: each open
    succeeds (PostgreSQL: the advisory lock makes the others wait; SQLite: BEGIN IMMEDIATE) and the
    schema is built once."""
    pg_url = state_url
    barrier = threading.Barrier(6)
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait(10)
            db = open_db(pg_url)
            results.append(db.migrate())
            db.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert results == [(HEAD, HEAD)] * 6
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrade_to_base_and_up_again(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every revision's downgrade undoes its upgrade (down to nothing, then up to HEAD again)."""
    from alembic import command

    url = (f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite"
           else str(request.getfixturevalue("pg_url")))
    open_db(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db = open_db(url)
    with db.engine.connect() as conn:
        assert current_revision(conn) == HEAD and _drift(conn) == []
    db.close()


def test_store_init_upgrades_the_state_database(state_url: str, tmp_path: Path, config_dir: Path) -> None:
    """``metrics store init`` brings the state database (``METRICS_STATE_URL``) to HEAD and says so;
    run again, it finds it current."""
    from typer.testing import CliRunner

    from jobs.cli import app

    args = ["--root", str(tmp_path / "root"), "--config", str(config_dir), "store", "init"]
    first = CliRunner().invoke(app, args, env={"METRICS_STATE_URL": state_url})
    assert first.exit_code == 0, first.stderr
    assert f"upgraded from nothing to {HEAD}" in first.stderr
    again = CliRunner().invoke(app, args, env={"METRICS_STATE_URL": state_url})
    assert again.exit_code == 0 and f"at revision {HEAD}" in again.stderr
