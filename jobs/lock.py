"""One daemon per store: an exclusive, non-blocking lock on ``<root>/daemon.lock``.

The lock is an ``flock`` on the file, so the kernel releases it when the holder dies (even by
SIGKILL): a stale file never blocks a restart. The file's content names the holder (pid, host,
start time) so a refused second daemon can say who holds the store.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from metrics.errors import LockTimeout

LOCK_NAME = "daemon.lock"


class DaemonLocked(LockTimeout):
    """Another daemon already runs on this store; ``holder`` names it."""


def describe_holder(text: str) -> str:
    """A readable holder from the lock file's JSON (or the raw text if it is not JSON)."""
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} since {info['started_at']}"
    except (ValueError, KeyError, TypeError):
        return text.strip() or "unknown holder"


class DaemonLock:
    """``with DaemonLock(root, now=...)``: hold the store's daemon lock or raise ``DaemonLocked``."""

    def __init__(self, root: Path, *, now: dt.datetime) -> None:
        self.path = Path(root) / LOCK_NAME
        self.started_at = now
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting; raise ``DaemonLocked`` naming the holder if it is taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise DaemonLocked(f"another daemon is running on store {self.path.parent}",
                               holder=holder) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": self.started_at.isoformat().replace("+00:00", "Z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Release the lock and empty the file (the holder's name is stale once released)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def current_holder(root: Path) -> str | None:
    """Who holds the daemon lock of the store at ``root`` (None when no daemon runs)."""
    path = Path(root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return describe_holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def holder_since(root: Path) -> dt.datetime | None:
    """When the daemon holding the lock of ``root`` started (None when no daemon runs)."""
    if current_holder(root) is None:
        return None
    try:
        info = json.loads((Path(root) / LOCK_NAME).read_text(encoding="utf-8"))
        return dt.datetime.fromisoformat(str(info["started_at"]).replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
