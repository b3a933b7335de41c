"""Fixtures every test area shares: a fresh store root and a config folder in tmp_path.

Each area (tests/store, tests/extract, tests/alerts, tests/daemon) keeps its own conftest.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metrics.store.tables import Store

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT / "tests" / "data"


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
    import os

    for key in list(os.environ):
        if key.startswith("METRICS_"):
            monkeypatch.delenv(key)
