"""Exchange calendars: built once, saved in the cache folder, loaded back unchanged."""

from __future__ import annotations

import bisect
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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



def assert_same_calendar(got: calendars.Calendar, want: calendars.Calendar) -> None:
    """Name, time zone, regular close, sessions (values and dtype) and closes all equal."""
    assert (got.name, got.tz, got.regular_close) == (want.name, want.tz, want.regular_close)
    assert got.sessions.dtype == want.sessions.dtype
    assert np.array_equal(got.sessions, want.sessions)
    assert got.closes.dtype == want.closes.dtype == np.dtype("datetime64[us]")
    assert np.array_equal(got.closes, want.closes)


def old_closes(closes: Any) -> tuple[dt.datetime, ...]:
    """The close times as they were built before: one ``Timestamp`` at a time, aware, in UTC."""
    return tuple(c.to_pydatetime().astimezone(dt.UTC) for c in closes)


@pytest.mark.parametrize("mic", ["XNYS", "XKRX", "XHKG"])
def test_close_times_built_at_once_equal_the_per_session_ones(mic: str) -> None:
    """The closes converted at once (``utc_closes``) are the per-session conversion's, and
    ``closes_between`` gives what a bisection of those ``datetime`` objects gave."""
    raw = calendars._exchange_calendar(calendars.canonical(mic)).closes
    old = old_closes(raw)
    got = calendars.utc_closes(raw)
    assert [c.replace(tzinfo=dt.UTC) for c in got.tolist()] == list(old)
    cal = calendars.calendar(mic)
    assert np.array_equal(cal.closes, got)
    rng = np.random.default_rng(7)
    edges = [old[0] - dt.timedelta(days=3), old[-1] + dt.timedelta(days=3), old[5000],
             old[5000] - dt.timedelta(microseconds=1)]
    bounds = edges + [old[0] + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 23_000_000, 40)]
    for start in [None, *bounds]:
        for end in bounds:
            lo = 0 if start is None else bisect.bisect_right(old, start)
            assert cal.closes_between(start, end) == list(old[lo:bisect.bisect_right(old, end)])


def test_calendar_loaded_from_the_cache_folder_equals_the_built_one(cache_dir: Path) -> None:
    """A calendar saved by one process is loaded by the next with the same sessions and closes."""
    built = calendars.calendar("XNAS")
    assert [p.name.split("-")[0] for p in cache_dir.iterdir()] == ["XNAS"]
    calendars._cache.clear()
    loaded = calendars.calendar("XNAS")
    assert loaded is not built
    assert_same_calendar(loaded, built)


def test_regular_close_without_building_matches_the_calendar(cache_dir: Path) -> None:
    """``regular_close`` gives the built calendar's name, time zone and close, and builds nothing."""
    got = calendars.regular_close("XKRX")
    assert not list(cache_dir.glob("*.npz"))
    cal = calendars.calendar("XKRX")
    assert got == (cal.name, cal.tz, cal.regular_close)


@pytest.mark.parametrize("mic", calendars.BUNDLED)
def test_bundled_calendar_equals_a_fresh_build(mic: str) -> None:
    """The package's prebuilt calendar of ``mic`` is the one the installed exchange-calendars builds
    (after an upgrade: ``python -c 'from metrics.store.calendars import write_bundled; write_bundled()'``)."""
    path = calendars._bundled_file(mic)
    built = calendars._build(calendars.canonical(mic))
    if path is None or not path.exists():
        # another exchange-calendars than the prebuilt files': they are ignored and the calendar is
        # built (regenerate them with the command above to get the fast first start back)
        assert calendars._load(mic) is None
        return
    bundled = calendars._read(path)
    assert bundled is not None
    assert_same_calendar(bundled, built)


def test_bundled_calendars_load_without_exchange_calendars(tmp_path: Path) -> None:
    """A first start (empty cache folder) gets the bundled calendars without importing
    exchange-calendars or pandas, and writes nothing to the cache; another exchange is built."""
    code = (
        "import sys; from pathlib import Path; from metrics.store import calendars as c; "
        f"c.use_cache_dir(Path({str(tmp_path)!r})); "
        "[c.calendar(m) for m in c.BUNDLED]; "
        "print('exchange_calendars' in sys.modules, 'pandas' in sys.modules); "
        "c.calendar('XHKG'); print('exchange_calendars' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    prebuilt = all((f := calendars._bundled_file(m)) is not None and f.exists() for m in calendars.BUNDLED)
    # with another exchange-calendars than the prebuilt files', they are built (and cached) instead
    assert res.stdout.split() == (["False", "False", "True"] if prebuilt else ["True", "True", "True"])
    cached = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.npz"))
    assert cached == (["XHKG"] if prebuilt else sorted(["XHKG", *calendars.BUNDLED]))
