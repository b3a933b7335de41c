"""A real PostgreSQL server for the tests: Debian's server binaries, a throw-away cluster.

``postgresql_server(tmp)`` runs ``initdb`` in a temporary folder, starts ``postgres`` on a free port
of 127.0.0.1 (no Unix socket outside that folder), creates no database beyond ``postgres`` and
stops the server when the context exits. As root the cluster is made and run as the ``postgres``
user (initdb refuses root); as any other user, as that user.

When the binaries are missing or the server cannot start, ``unavailable()`` decides: with
``CI_REQUIRE_POSTGRES`` set (``.ci/run`` sets it) the test fails, otherwise it is skipped with
a message saying what to install.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_VAR = "CI_REQUIRE_POSTGRES"
# Not METRICS_*: the settings refuse unknown METRICS_ variables. Read once at import.
REQUIRED = bool(os.environ.get(REQUIRE_VAR))
INSTALL_HINT = "install Debian's postgresql package (apt-get install -y postgresql)"
SUPERUSER = "metrics"


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster: where it listens and how to reach a database on it."""

    host: str
    port: int
    user: str
    datadir: Path

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """The SQLAlchemy URL of ``database`` on this server (trust authentication, no password)."""
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def server_binaries() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``/``postgres``: Debian's newest, or the ones on PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_owner(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as ``postgres`` when we are root (initdb and postgres refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def unavailable(reason: str) -> None:
    """Fail (``CI_REQUIRE_POSTGRES`` set) or skip the test, naming what is missing."""
    message = f"PostgreSQL unavailable: {reason}; {INSTALL_HINT}"
    if REQUIRED:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def postgresql_server(tmp: Path, *, timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Run a fresh cluster in ``tmp`` until the context exits; yields once it accepts connections."""
    bindir = server_binaries()
    if bindir is None:
        unavailable("initdb not found")
        raise AssertionError("unreachable")  # pragma: no cover
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (dev extra)")
    tmp.mkdir(parents=True, exist_ok=True)
    datadir = tmp / "pgdata"
    sockdir = tmp / "sock"
    sockdir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        # The cluster's owner must be able to reach and write its folders.
        for path in (tmp, *tmp.parents):
            if path == Path("/"):
                break
            os.chmod(path, os.stat(path).st_mode | 0o111)
        shutil.chown(tmp, "postgres")
        shutil.chown(sockdir, "postgres")
    init = subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(datadir), "-U", SUPERUSER,
                                     "--auth=trust", "--encoding=UTF8", "--no-sync", "-N"]),
                          capture_output=True, text=True, check=False)
    if init.returncode != 0:
        unavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()[-800:]}")
    port = _free_port()
    log = tmp / "postgres.log"
    if os.geteuid() == 0:
        log.touch()
        shutil.chown(log, "postgres")
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sockdir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    start = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-o", opts,
                                      "-w", "-t", str(int(timeout)), "start"]),
                           capture_output=True, text=True, check=False)
    if start.returncode != 0:
        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        unavailable(f"pg_ctl start failed ({start.returncode}): {start.stderr.strip()} {tail}")
    server = PostgresServer("127.0.0.1", port, SUPERUSER, datadir)
    try:
        _wait_ready(server, timeout)
        yield server
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_owner(stop), capture_output=True, check=False)


def _wait_ready(server: PostgresServer, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(host=server.host, port=server.port, user=server.user, dbname="postgres",
                            connect_timeout=2).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                unavailable(f"the server did not accept connections in {timeout} s: {exc}")
            time.sleep(0.1)
