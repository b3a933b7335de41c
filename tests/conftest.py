"""Fixtures every test area shares: a fresh store root, a config folder in tmp_path, shared data.

Each area (tests/store, tests/extract, tests/alerts, tests/daemon) keeps its own conftest.py. Data
of the project is found relative to this checkout: its own under ``tests/`` and ``examples/``, the
shared material in ``../shared`` beside the checkout (``shared_data``), never by an absolute path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from metrics.store.tables import Store
from tests.pgserver import PostgresServer, postgresql_server

# Property tests check laws, not speed: no per-example deadline (a loaded CI machine is no failure).
settings.register_profile("project", deadline=None)
settings.load_profile("project")

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT / "tests" / "data"
SHARED = PROJECT.parent / "shared"  # the shared material beside the checkout (read-only)


def find_shared(*parts: str) -> Path:
    """The path ``../shared/<parts>``; when it is missing the test skips, or fails when ``CI`` is set."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} not found: the shared material is expected at ../shared beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Callable[..., Path]:
    """``find_shared``: a path under ../shared, or a skip (a failure in CI) when it is missing."""
    return find_shared


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A real, empty store on disk."""
    return Store(tmp_path / "root")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the project's config folder that a test may edit."""
    dst = tmp_path / "config"
    shutil.copytree(PROJECT / "config", dst)
    return dst


@pytest.fixture(autouse=True)
def _clean_metrics_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's METRICS_* environment."""
    for key in list(os.environ):
        if key.startswith("METRICS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the session (skipped, or failed under CI_REQUIRE_POSTGRES,
    when the server binaries are missing)."""
    with postgresql_server(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state database URL, once per backend: a SQLite file in tmp_path, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'state.db').as_posix()}"
    url: str = request.getfixturevalue("pg_url")
    return url
