"""Exchange calendars: built once, saved in the cache folder, loaded back unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from metrics.store import calendars


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """A calendar cache folder in use for the test, with an empty in-memory cache."""
    saved = dict(calendars._cache)
    calendars._cache.clear()
    calendars.use_cache_dir(tmp_path / "calendars")
    yield tmp_path / "calendars"
    calendars.use_cache_dir(None)
    calendars._cache.clear()
    calendars._cache.update(saved)


def test_calendar_loaded_from_the_cache_folder_equals_the_built_one(cache_dir: Path) -> None:
    """A calendar saved by one process is loaded by the next with the same sessions and closes."""
    built = calendars.calendar("XNAS")
    assert [p.name.split("-")[0] for p in cache_dir.iterdir()] == ["XNAS"]
    calendars._cache.clear()
    loaded = calendars.calendar("XNAS")
    assert loaded is not built
    assert (loaded.name, loaded.tz, loaded.regular_close) == (built.name, built.tz, built.regular_close)
    assert loaded.sessions.dtype == built.sessions.dtype
    assert np.array_equal(loaded.sessions, built.sessions)
    assert loaded.closes == built.closes


def test_regular_close_without_building_matches_the_calendar(cache_dir: Path) -> None:
    """``regular_close`` gives the built calendar's name, time zone and close, and builds nothing."""
    got = calendars.regular_close("XKRX")
    assert not list(cache_dir.glob("*.npz"))
    cal = calendars.calendar("XKRX")
    assert got == (cal.name, cal.tz, cal.regular_close)
