"""The Parquet store: append-only, immutable part files under hive ``year=`` partitions.

Layout under the root: ``<dataset>/year=YYYY/part-<ts>-<uuid>.parquet`` for the datasets of
``metrics.schema.DATASETS`` (facts, prices, alerts, documents), plus ``state.db`` (SQLite) and
``.lock`` (the writer lock). Every write goes to a temp file in the target folder, is fsynced,
renamed into place and the folder fsynced, so readers never see half a file. One writer at a
time (file lock); readers take no lock. Queries see one row per natural key (latest ``version``
column wins); ``compact`` rewrites each partition as one file with duplicates removed for good.

(First cut: the store owner refines locking, compaction, corruption handling and speed.)
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from filelock import FileLock, Timeout

from metrics.errors import LockTimeout
from metrics.schema import DATASETS, conform


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What an append wrote: rows given, files published."""

    dataset: str
    rows: int
    files: tuple[Path, ...]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> None:
    """Write ``df`` to ``target`` via a temp file in the same folder, fsync and rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """A store rooted at ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path | str, *, lock_timeout: float = 60.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout

    @property
    def state_db_path(self) -> Path:
        return self.root / "state.db"

    def dataset_dir(self, dataset: str) -> Path:
        return self.root / dataset

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the store's single-writer lock; raises ``LockTimeout`` naming the holder."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / ".lock"
        lock = FileLock(str(lock_path) + ".flock", timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout as e:
            holder = lock_path.read_text(encoding="utf-8") if lock_path.exists() else None
            raise LockTimeout(f"store {self.root} is locked by another writer", holder=holder) from e
        try:
            lock_path.write_text(f"pid {os.getpid()}", encoding="utf-8")
            yield
        finally:
            lock.release()

    def append(self, dataset: str, df: pl.DataFrame, *, now: dt.datetime | None = None) -> WriteResult:
        """Conform ``df`` to the dataset's schema and publish it as new part files (one a year)."""
        spec = DATASETS[dataset]
        data = conform(df, dataset)
        if data.is_empty():
            return WriteResult(dataset, 0, ())
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%f")
        years = data.get_column(spec.partition_by).dt.year()
        data = data.with_columns(years.fill_null(0).alias("__year")).sort([*spec.sort], nulls_last=True)
        files = []
        with self.writer():
            for (year,), part in data.group_by("__year", maintain_order=True):
                target = self.dataset_dir(dataset) / f"year={year}" / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
                write_parquet_atomic(part.drop("__year"), target)
                files.append(target)
        return WriteResult(dataset, data.height, tuple(files))

    def part_files(self, dataset: str) -> list[Path]:
        return sorted(self.dataset_dir(dataset).glob("year=*/*.parquet"))

    def scan_raw(self, dataset: str) -> pl.LazyFrame:
        """Every stored row of ``dataset``, duplicates included."""
        spec = DATASETS[dataset]
        files = self.part_files(dataset)
        if not files:
            return pl.LazyFrame(schema=spec.schema)
        return pl.scan_parquet(files, schema=spec.schema, hive_partitioning=False)

    def scan(self, dataset: str) -> pl.LazyFrame:
        """``dataset`` as queries see it: one row per natural key, the latest version."""
        spec = DATASETS[dataset]
        return (self.scan_raw(dataset)
                .sort(spec.version, nulls_last=False)
                .unique(subset=list(spec.key), keep="last", maintain_order=False))


def open_store(root: Path | str = "parquet") -> Store:
    """Open the store at ``root`` for notebooks: ``open_store().scan("prices")`` is a LazyFrame."""
    return Store(root)
