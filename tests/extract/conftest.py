"""Fixtures of the extraction area (documents, registry, ingest); EXTRACT may add its own here.

Everything is real: the project's ``config/companies.toml`` registry, documents written to
``tmp_path`` in the encodings under test, a real store on disk (``store`` from tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from metrics.extraction.entities import Registry

PROJECT = Path(__file__).resolve().parents[2]
COMPANIES = PROJECT / "config" / "companies.toml"
EXAMPLES = PROJECT / "examples" / "documents"
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)

WriteDoc = Callable[..., Path]


def copy_examples(tmp_path: Path) -> Path:
    """A copy of the project's example documents in ``tmp_path/inbox``."""
    dst = tmp_path / "inbox"
    shutil.copytree(EXAMPLES, dst)
    return dst


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The project's company registry."""
    return Registry.load(COMPANIES)


@pytest.fixture
def now() -> dt.datetime:
    """A fixed, tz-aware clock reading for ingest."""
    return NOW


@pytest.fixture
def write_doc(tmp_path: Path) -> WriteDoc:
    """Write ``text`` (or raw ``data``) to ``tmp_path/docs/<name>`` in ``encoding`` and return the path."""

    def write(name: str, text: str = "", *, encoding: str = "utf-8", data: bytes | None = None) -> Path:
        path = tmp_path / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if data is not None else text.encode(encoding))
        return path

    return write
