"""Exchange trading calendars: the one module that imports exchange-calendars.

An exchange is named by its ISO MIC. ``calendar_mic`` maps the MICs exchange-calendars has no
calendar of to the one they trade by (``XSHE`` -> ``XSHG``); ``canonical`` then resolves
exchange-calendars' own aliases (``XNAS`` -> ``XNYS``). ``exchange_of_ticker`` guesses a Yahoo
symbol's MIC from its suffix (``XNYS`` without one).

``calendar(exchange)`` is built on first use (exchange-calendars is imported then, not at import
time) and cached for the process; XKRX takes seconds. Sessions span 1990-2035 where the calendar
reaches that far, else exchange-calendars' default range. With ``use_cache_dir(path)`` (the
application passes a folder of the store) a built calendar is also saved there, one ``.npz`` per
exchange and exchange-calendars version, and later processes load it instead of building it
(without importing exchange-calendars). ``regular_close(exchange)`` reads an exchange's time zone
and close time without building its sessions at all.

The package ships the calendars a first start needs prebuilt (``calendar_data/``: ``BUNDLED``, the
default exchange and the exchange of the bundled price sample whose calendar takes seconds to
build), in the same format, for the exchange-calendars version they were built with: they are used
only when that version is installed (else the calendar is built as above), so a first ``make run``
imports neither exchange-calendars nor pandas. ``write_bundled()`` rebuilds them after an upgrade
(``tests/store/test_calendars.py`` fails until then).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from metrics.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EXCHANGE = "XNYS"
# exchange-calendars has no separate calendar for these MICs; they trade on the same days as
CALENDAR_ALIASES: dict[str, str] = {"XSHE": "XSHG", "XKOS": "XKRX", "XNSE": "XBOM", "ROCO": "XTAI"}
# Yahoo symbol suffix -> MIC of the exchange
SUFFIX_EXCHANGE: dict[str, str] = {
    "KS": "XKRX", "KQ": "XKOS", "SS": "XSHG", "SZ": "XSHE", "HK": "XHKG", "TW": "XTAI", "TWO": "ROCO",
    "T": "XTKS", "L": "XLON", "DE": "XETR", "PA": "XPAR", "AS": "XAMS", "TO": "XTSE", "AX": "XASX",
    "SW": "XSWX", "NS": "XNSE", "BO": "XBOM",
}
_RANGE = ("1990-01-01", "2035-12-31")
# prebuilt calendars shipped with the package (see the module docstring)
BUNDLED_DIR = Path(__file__).resolve().with_name("calendar_data")
BUNDLED = ("XNYS", "XKRX")


def exchange_of_ticker(ticker: str) -> str:
    """The MIC a Yahoo symbol trades on, from its suffix (``XNYS`` without one or if unknown)."""
    _, dot, suffix = ticker.rpartition(".")
    return SUFFIX_EXCHANGE.get(suffix.upper(), DEFAULT_EXCHANGE) if dot else DEFAULT_EXCHANGE


def calendar_mic(exchange: str) -> str:
    """The MIC whose exchange-calendars calendar ``exchange`` trades by (``XSHE`` -> ``XSHG``)."""
    return CALENDAR_ALIASES.get(exchange, exchange)


def canonical(exchange: str) -> str:
    """The calendar name ``exchange`` resolves to (``XNAS`` -> ``XNYS``); ``ConfigError`` if unknown."""
    import exchange_calendars as xcals  # noqa: PLC0415 - exchange_calendars is heavy; loaded only when used

    try:
        return str(xcals.resolve_alias(calendar_mic(exchange)))
    except xcals.errors.InvalidCalendarName as e:
        raise ConfigError(f"unknown exchange {exchange!r} (not an exchange-calendars MIC)",
                          key="exchange") from e


@dataclass(frozen=True, slots=True)
class Calendar:
    """A calendar as plain values: its sessions and their UTC close times."""

    name: str
    tz: ZoneInfo
    regular_close: dt.time
    sessions: np.ndarray                 # session dates, datetime64[D], ascending
    closes: np.ndarray                   # close of sessions[i], UTC, datetime64[us] (early closes included)

    @property
    def first(self) -> dt.date:
        return self.sessions[0].item()  # type: ignore[no-any-return]

    @property
    def last(self) -> dt.date:
        return self.sessions[-1].item()  # type: ignore[no-any-return]

    def closes_between(self, start: dt.datetime | None, end: dt.datetime) -> list[dt.datetime]:
        """The close times (UTC, aware) in ``(start, end]`` (``start`` None: from the first), in order;
        only those are made ``datetime`` objects."""
        lo = 0 if start is None else int(self.closes.searchsorted(_utc64(start), side="right"))
        hi = int(self.closes.searchsorted(_utc64(end), side="right"))
        return [c.replace(tzinfo=dt.UTC) for c in self.closes[lo:hi].tolist()]


def _utc64(t: dt.datetime) -> np.datetime64:
    """``t`` (aware) as a naive UTC ``datetime64[us]``, comparable with ``Calendar.closes``."""
    import numpy as np  # noqa: PLC0415 - numpy is heavy; loaded only when used

    return np.datetime64(t.astimezone(dt.UTC).replace(tzinfo=None), "us")


_cache: dict[str, Calendar] = {}  # by the MIC asked for (after ``calendar_mic``) and by name
_lock = threading.Lock()
_cache_dir: list[Path] = []  # where built calendars are saved (none: kept in memory only)


def use_cache_dir(path: Path | None) -> None:
    """Save built calendars under ``path`` and load them from there (None: memory only)."""
    _cache_dir[:] = [path] if path is not None else []


def calendar(exchange: str) -> Calendar:
    """The calendar of ``exchange`` (a MIC or an alias), built once per process (or loaded from the
    cache folder); ``ConfigError`` if unknown."""
    mic = calendar_mic(exchange)
    cal = _cache.get(mic)
    if cal is None:
        with _lock:
            cal = _cache.get(mic)
            if cal is None:
                cal = _load(mic)
                if cal is None:
                    name = canonical(exchange)
                    cal = _cache.get(name) or _build(name)
                    _save(mic, cal)
                _cache[mic] = _cache[cal.name] = cal
    return cal


def regular_close(exchange: str) -> tuple[str, ZoneInfo, dt.time]:
    """The calendar name, time zone and current regular close of ``exchange``, without building its
    sessions (exchange-calendars keeps them on the calendar's class); ``ConfigError`` if unknown."""
    cal = _cache.get(calendar_mic(exchange))
    if cal is not None:
        return cal.name, cal.tz, cal.regular_close
    import exchange_calendars as xcals  # noqa: PLC0415 - exchange_calendars is heavy; loaded only when used

    name = canonical(exchange)
    factory = getattr(xcals.calendar_utils.global_calendar_dispatcher, "_calendar_factories", {}).get(name)
    if factory is None or not hasattr(factory, "close_times"):  # not a plain calendar class: build it
        cal = calendar(exchange)
        return cal.name, cal.tz, cal.regular_close
    return name, ZoneInfo(str(factory.tz)), factory.close_times[-1][1]


@functools.cache
def _xcals_version() -> str | None:
    """The installed exchange-calendars version (looked up once: each lookup scans the installed
    distributions)."""
    try:
        return metadata.version("exchange-calendars")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return None


def _file_name(mic: str) -> str | None:
    """The name of ``mic``'s saved calendar for the installed exchange-calendars version."""
    version = _xcals_version()
    return None if version is None else f"{mic}-{version}-{_RANGE[0]}-{_RANGE[1]}.npz"


def _cache_file(mic: str) -> Path | None:
    name = _file_name(mic) if _cache_dir else None
    return _cache_dir[0] / name if name is not None else None


def _bundled_file(mic: str) -> Path | None:
    name = _file_name(mic) if mic in BUNDLED else None
    return BUNDLED_DIR / name if name is not None else None


def _load(mic: str) -> Calendar | None:
    """``mic``'s calendar from the cache folder, else from the package's prebuilt ones; None if
    neither has it for the installed exchange-calendars version."""
    for path in (_cache_file(mic), _bundled_file(mic)):
        if path is not None and path.exists() and (cal := _read(path)) is not None:
            return cal
    return None


def _read(path: Path) -> Calendar | None:
    import numpy as np  # noqa: PLC0415 - numpy is heavy; loaded only when used

    try:
        with np.load(path) as f:
            return Calendar(
                name=str(f["name"]),
                tz=ZoneInfo(str(f["tz"])),
                regular_close=dt.time.fromisoformat(str(f["regular_close"])),
                sessions=f["sessions"].astype("datetime64[D]"),
                closes=f["closes"].astype("datetime64[us]"),
            )
    except (OSError, ValueError, KeyError):  # a damaged cache file: build the calendar again
        return None


def _save(mic: str, cal: Calendar) -> None:
    path = _cache_file(mic)
    if path is None:
        return
    try:
        _write(path, cal)
    except OSError:  # a read-only store: keep the calendar in memory only
        return


def _write(path: Path, cal: Calendar, *, compressed: bool = False) -> None:
    """Save ``cal`` at ``path`` atomically (a temporary file renamed)."""
    import numpy as np  # noqa: PLC0415 - numpy is heavy; loaded only when used

    closes = cal.closes.astype("datetime64[us]")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(
            f, name=cal.name, tz=cal.tz.key, regular_close=cal.regular_close.isoformat(),
            sessions=cal.sessions, closes=closes.astype(np.int64))
        f.flush()
        os.fsync(f.fileno())
    Path(tmp).replace(path)


def write_bundled() -> list[Path]:
    """Build the ``BUNDLED`` calendars with the installed exchange-calendars and save them in the
    package (``calendar_data/``), replacing those of other versions; returns the files written."""
    written = []
    for mic in BUNDLED:
        path = _bundled_file(mic)
        if path is None:  # pragma: no cover - exchange-calendars is a dependency
            continue
        for old in BUNDLED_DIR.glob(f"{mic}-*.npz"):
            old.unlink()
        _write(path, _build(canonical(mic)), compressed=True)
        path.chmod(0o644)   # package data: readable by every user
        written.append(path)
    return written


def _exchange_calendar(name: str) -> Any:
    """exchange-calendars' calendar ``name`` over ``_RANGE`` (or its default range)."""
    import exchange_calendars as xcals  # noqa: PLC0415 - exchange_calendars is heavy; loaded only when used

    with warnings.catch_warnings():  # pandas deprecations raised inside exchange-calendars
        warnings.simplefilter("ignore")
        try:
            return xcals.get_calendar(name, start=_RANGE[0], end=_RANGE[1])
        except ValueError:  # the calendar does not reach that far back
            return xcals.get_calendar(name)


def _build(name: str) -> Calendar:
    import numpy as np  # noqa: PLC0415 - numpy is heavy; loaded only when used

    cal = _exchange_calendar(name)
    with warnings.catch_warnings():  # pandas deprecations raised inside exchange-calendars
        warnings.simplefilter("ignore")
        closes = cal.closes
        return Calendar(
            name=cal.name,
            tz=ZoneInfo(str(cal.tz)),
            regular_close=cal.close_times[-1][1],
            sessions=np.asarray(closes.index.to_numpy().astype("datetime64[D]")),
            closes=utc_closes(closes),
        )


def utc_closes(closes: Any) -> np.ndarray:
    """exchange-calendars' close times (a pandas Series of aware timestamps) as naive UTC
    ``datetime64[us]``, converted at once (not one ``Timestamp`` at a time)."""
    import numpy as np  # noqa: PLC0415 - numpy is heavy; loaded only when used

    stamps = closes.dt.tz_convert(None) if closes.dt.tz is not None else closes
    return np.asarray(stamps.to_numpy(), dtype="datetime64[us]")
