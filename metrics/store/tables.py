"""The Parquet store: append-only, immutable part files under hive ``year=`` partitions.

Layout under the root::

    <root>/<dataset>/year=YYYY/part-<seq>-<rand>.parquet   facts, prices, alerts, documents
    <root>/state.db                                        SQLite state (other areas)
    <root>/.lock, <root>/.lock.flock                       the writer lock and who holds it

``seq`` is a per-dataset counter taken under the writer lock, so a larger number is a later write.
Rows with a null partition value go to ``year=0``. Every file is written sorted by the dataset's
sort columns (prices: ticker, date) in row groups of ``ROW_GROUP_ROWS`` rows with statistics, so
readers that filter on the leading sort column skip most of each file (4,096 rows: a ticker's year
of bars lies in one or two of the ~20 row groups of a year of prices).

**Writes.** One writer at a time: ``append`` and ``compact`` hold a file lock (``writer()``); a
second writer waits up to ``lock_timeout`` seconds, then gets ``LockTimeout`` naming the holder's
pid, host and since when. A part goes to a temp file in its target folder, is fsynced, renamed into
place and the folder fsynced (``write_parquet_atomic``): readers, which take no lock, see a whole file
or none. Each part holds at most one row per natural key (``append`` keeps the latest of a batch).

**Reads.** Queries see one row per natural key, the largest ``version`` column winning (ties: the
later part). Deduplication is paid only where keys may repeat: the key-column min/max statistics in
the part footers (read once per file, cached: parts never change) tell whether the parts of a
partition can share a key. A partition of one part, or of parts with disjoint key ranges (e.g. one
import plus the days fetched since), is read as is; only overlapping partitions are deduplicated.
Where the partition column is not part of the key (documents: ``ingested_at``), the whole dataset is
one such group.

**Point reads.** ``prices_for(tickers, start, end)`` is the fast path for one or a few tickers: the
partition years and the cached footer statistics (per-row-group ticker ranges) pick the parts that
can hold those tickers and dates before any file is opened, the rest is a plain filtered scan of them
(deduplicated only where the chosen parts may share a key).

**Compaction** (``compact``) rewrites each group that has more than one part as one part per
partition, without duplicates: it publishes the new parts first and removes the old ones after. A
reader that lists files meanwhile sees old and new parts together, whose key ranges overlap, so it
deduplicates and sees each row once: never a missing or a doubled row. The one transient effect:
a lazy query planned before the old parts were removed and executed after fails with
``FileNotFoundError``; run it again (``metrics query`` retries once).

**Damage.** A part whose footer cannot be read (truncated, overwritten) or whose columns are not the
dataset's is skipped by every scan, logged once per store object as ``store.corrupt_part`` naming
the file, listed by ``status()``, and left in place for an operator (compaction does not touch it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from filelock import FileLock, Timeout

from metrics.errors import LockTimeout
from metrics.log import get_logger
from metrics.store.pit import known_on, latest_bars, latest_facts
from metrics.store.schema import DATASETS, Dataset, conform

log = get_logger(__name__)

ROW_GROUP_ROWS = 4_096
# snappy: about 1.5x the bytes of zstd-1, but a third faster to decode (point reads) and faster to write
COMPRESSION: Literal["snappy"] = "snappy"
_PART_RE = re.compile(r"^part-(\d+)-")
_SEQ = "__seq"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What an append wrote: rows given, files published."""

    dataset: str
    rows: int
    files: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One part file and what its footer says: rows and the min/max of each key column."""

    path: Path
    seq: int
    year: str
    rows: int = 0
    key_ranges: tuple[tuple[Any, Any] | None, ...] = ()
    # min/max of the first key column in each row group (None: a group without statistics)
    group_ranges: tuple[tuple[Any, Any] | None, ...] = ()
    error: str | None = None     # set when the part is damaged; the other fields are then empty

    def may_hold(self, values: Iterable[Any]) -> bool:
        """False only when no row group's range of the first key column contains any of ``values``."""
        return any(r is None or r[0] <= v <= r[1] for r in self.group_ranges for v in values)


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """Rows as queries see them, stored rows, files, partitions and the date range of one dataset."""

    name: str
    rows: int
    stored_rows: int
    files: int
    partitions: int
    first: dt.date | None
    last: dt.date | None


@dataclass(frozen=True, slots=True)
class DamagedPart:
    """A part file the store skips, and why."""

    dataset: str
    path: Path
    error: str


@dataclass(frozen=True, slots=True)
class FailedDocument:
    """A document the registry records as failed."""

    name: str
    path: str
    error: str | None
    ingested_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """What ``Store.status`` reports; other areas add their own sections beside it in the CLI."""

    root: Path
    datasets: tuple[DatasetStatus, ...]
    damaged: tuple[DamagedPart, ...]
    failed_documents: tuple[FailedDocument, ...]


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What ``compact`` did to one dataset."""

    dataset: str
    groups: int                  # partitions (or whole datasets) rewritten
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    removed: tuple[Path, ...] = field(default=(), repr=False)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet_atomic(df: pl.DataFrame, target: Path, *, row_group_size: int = ROW_GROUP_ROWS) -> None:
    """Write ``df`` to ``target`` via a temp file in the same folder, fsync, rename, fsync the folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        df.write_parquet(tmp, compression=COMPRESSION, statistics=True,
                         row_group_size=row_group_size)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _seq_of(path: Path) -> int:
    m = _PART_RE.match(path.name)
    return int(m.group(1)) if m else 0


def _group_ranges(meta: Any, column: int) -> tuple[tuple[Any, Any] | None, ...]:
    """min/max of ``column`` in each row group of ``meta`` (None: a non-empty group without statistics)."""
    ranges: list[tuple[Any, Any] | None] = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(column).statistics
        if stats is not None and stats.has_min_max:
            ranges.append((stats.min, stats.max))
        elif group.num_rows:
            ranges.append(None)
    return tuple(ranges)


def _span(ranges: Sequence[tuple[Any, Any] | None]) -> tuple[Any, Any] | None:
    """The range covering all of ``ranges``; None when there are none or one is unknown."""
    if not ranges or any(r is None for r in ranges):
        return None
    return min(r[0] for r in ranges if r), max(r[1] for r in ranges if r)


def _read_part(path: Path, spec: Dataset) -> Part:
    """Read ``path``'s footer: rows and key ranges, or the reason it is unreadable."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # not at import: keeps CLI start-up light

    seq, year = _seq_of(path), path.parent.name.removeprefix("year=")
    try:
        meta = pq.read_metadata(path)
        names = meta.schema.names
        missing = [c for c in spec.schema if c not in names]
        if missing:
            return Part(path, seq, year, error=f"columns missing: {missing}")
        ranges = [_group_ranges(meta, names.index(col)) for col in spec.key]
        return Part(path, seq, year, rows=meta.num_rows, key_ranges=tuple(_span(r) for r in ranges),
                    group_ranges=ranges[0])
    except (OSError, ValueError) as e:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
        return Part(path, seq, year, error=f"{type(e).__name__}: {e}")


def _may_share_keys(a: Part, b: Part) -> bool:
    """False only when some key column's ranges are disjoint, so no key can be in both parts."""
    for ra, rb in zip(a.key_ranges, b.key_ranges, strict=True):
        if ra is not None and rb is not None and (ra[1] < rb[0] or rb[1] < ra[0]):
            return False
    return True


def _needs_dedup(parts: Sequence[Part]) -> bool:
    if len(parts) < 2:
        return False
    ordered = sorted(parts, key=lambda p: p.seq)
    return any(_may_share_keys(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:])


class Store:
    """A store rooted at ``root``; see the module docstring for the layout and guarantees."""

    def __init__(self, root: Path | str, *, lock_timeout: float = 60.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self._parts: dict[tuple[str, int, int], Part] = {}
        self._reported: set[Path] = set()
        self._values: dict[tuple[Path, str], frozenset[Any]] = {}
        self._lock = FileLock(str(self.root / ".lock") + ".flock", timeout=lock_timeout)
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def state_db_path(self) -> Path:
        return self.root / "state.db"

    @property
    def holder_path(self) -> Path:
        return self.root / ".lock"

    def dataset_dir(self, dataset: str) -> Path:
        return self.root / dataset

    # -- writing -----------------------------------------------------------------------------

    def _holder(self) -> str | None:
        try:
            info = json.loads(self.holder_path.read_text(encoding="utf-8"))
            since = dt.datetime.fromtimestamp(self.holder_path.stat().st_mtime, dt.UTC)
        except (OSError, ValueError):
            return None
        return f"pid {info.get('pid')} on {info.get('host')} since {since.isoformat(timespec='seconds')}"

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the store's single-writer lock (re-entrant in one thread).

        Waits up to ``lock_timeout`` seconds, then raises ``LockTimeout`` naming the holder: pid,
        host and since when (the time the holder took the lock).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as e:
            raise LockTimeout(f"store {self.root} is locked by another writer", holder=self._holder()) from e
        try:
            if self._lock.lock_counter == 1:
                info = {"pid": os.getpid(), "host": socket.gethostname()}
                self.holder_path.write_text(json.dumps(info), encoding="utf-8")
            yield
        finally:
            self._lock.release()

    def _next_seq(self, dataset: str) -> int:
        files = self.dataset_dir(dataset).glob("year=*/*.parquet")
        return max((_seq_of(p) for p in files), default=0) + 1

    def append(self, dataset: str, df: pl.DataFrame, *, now: dt.datetime | None = None) -> WriteResult:
        """Conform ``df`` to the dataset's schema and publish it as new parts (one a year).

        Rows of the batch that share a natural key are reduced to the latest (largest version,
        then last in the batch). ``now`` is accepted for symmetry with the other writers; part names
        take a sequence number, not a clock.
        """
        del now
        spec = DATASETS[dataset]
        data = conform(df, dataset)
        if data.is_empty():
            return WriteResult(dataset, 0, ())
        data = _unique_sorted(data, spec)
        with self.writer():
            seq = self._next_seq(dataset)
            targets = [(self.dataset_dir(dataset) / f"year={year}"
                        / f"part-{seq:010d}-{secrets.token_hex(4)}.parquet", part)
                       for year, part in _by_year(data)]
            _write_all(targets)
            files = [t for t, _ in targets]
        return WriteResult(dataset, data.height, tuple(files))

    # -- reading -----------------------------------------------------------------------------

    def part_files(self, dataset: str) -> list[Path]:
        """Every part file of ``dataset``, damaged ones included, in write order."""
        return sorted(self.dataset_dir(dataset).glob("year=*/*.parquet"), key=lambda p: (_seq_of(p), p.name))

    def parts(self, dataset: str) -> list[Part]:
        """Footer facts of every part of ``dataset`` (cached per file; parts are immutable)."""
        spec = DATASETS[dataset]
        out: list[Part] = []
        for path in self.part_files(dataset):
            try:
                st = path.stat()
            except FileNotFoundError:  # removed by a compaction since the listing
                continue
            key = (str(path), st.st_size, st.st_mtime_ns)
            with self._guard:
                part = self._parts.get(key)
            if part is None:
                part = _read_part(path, spec)
                with self._guard:
                    self._parts[key] = part
            if part.error is not None and path not in self._reported:
                self._reported.add(path)
                log.warning("store.corrupt_part", dataset=dataset, path=str(path), error=part.error)
            out.append(part)
        return out

    def _distinct(self, part: Part, column: str) -> frozenset[Any]:
        """The distinct values of ``column`` in ``part`` (cached: parts never change)."""
        key = (part.path, column)
        with self._guard:
            values = self._values.get(key)
        if values is None:
            values = frozenset(pl.scan_parquet(part.path).select(pl.col(column).unique()).collect()
                               .get_column(column).to_list())
            with self._guard:
                self._values[key] = values
        return values

    def damaged_parts(self, dataset: str | None = None) -> list[DamagedPart]:
        names = [dataset] if dataset else list(DATASETS)
        return [DamagedPart(n, p.path, p.error) for n in names for p in self.parts(n) if p.error]

    def _groups(self, dataset: str) -> list[list[Part]]:
        """Good parts grouped so that keys never repeat across groups: by partition, or all at once."""
        spec = DATASETS[dataset]
        good = [p for p in self.parts(dataset) if p.error is None]
        if spec.partition_by not in spec.key:
            return [good] if good else []
        by_year: dict[str, list[Part]] = {}
        for p in good:
            by_year.setdefault(p.year, []).append(p)
        return [by_year[y] for y in sorted(by_year)]

    def _scan_files(self, dataset: str, paths: Sequence[Path]) -> pl.LazyFrame:
        return pl.scan_parquet(list(paths), schema=DATASETS[dataset].schema, hive_partitioning=False)

    def _dedup(self, dataset: str, parts: Sequence[Part], where: pl.Expr | None = None) -> pl.LazyFrame:
        """One row per key of ``parts`` (rows first filtered by ``where``, which must be a condition
        on key columns only, so that it keeps or drops all the versions of a key alike)."""
        spec = DATASETS[dataset]
        scans = [self._scan_files(dataset, [p.path]) for p in parts]
        if where is not None:
            scans = [s.filter(where) for s in scans]
        frames = [s.with_columns(pl.lit(p.seq, pl.Int64).alias(_SEQ))
                  for s, p in zip(scans, parts, strict=True)]
        # the largest version wins, then the largest seq (the later part), then the later row
        return (pl.concat(frames, how="vertical")
                .sort([*spec.key, spec.version, _SEQ], nulls_last=False, maintain_order=True)
                .unique(subset=list(spec.key), keep="last", maintain_order=True)
                .drop(_SEQ))

    def scan_raw(self, dataset: str) -> pl.LazyFrame:
        """Every stored row of ``dataset`` (damaged parts skipped), duplicates included."""
        paths = [p.path for p in self.parts(dataset) if p.error is None]
        if not paths:
            return pl.LazyFrame(schema=DATASETS[dataset].schema)
        return self._scan_files(dataset, paths)

    def scan(self, dataset: str) -> pl.LazyFrame:
        """``dataset`` as queries see it: one row per natural key, the latest version.

        Groups whose parts cannot share a key are scanned together as plain Parquet (predicate and
        projection pushdown, row-group pruning); only groups that may repeat a key are deduplicated.
        """
        return self._scan_groups(dataset, self._groups(dataset))

    def _scan_groups(self, dataset: str, groups: Iterable[Sequence[Part]],
                     where: pl.Expr | None = None) -> pl.LazyFrame:
        """``scan`` over ``groups`` (from ``_groups``: keys never cross groups), rows filtered by
        ``where`` (a condition on key columns only, see ``_dedup``)."""
        plain: list[Path] = []
        frames: list[pl.LazyFrame] = []
        for group in groups:
            if _needs_dedup(group):
                frames.append(self._dedup(dataset, group, where))
            else:
                plain.extend(p.path for p in group)
        if plain:
            lf = self._scan_files(dataset, plain)
            frames.insert(0, lf if where is None else lf.filter(where))
        if not frames:
            return pl.LazyFrame(schema=DATASETS[dataset].schema)
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical", rechunk=False)

    def prices_for(self, tickers: str | Iterable[str], start: dt.date | None = None,
                   end: dt.date | None = None) -> pl.LazyFrame:
        """The bars of ``tickers`` dated ``start`` .. ``end`` (both included, None: unbounded), one
        row per (ticker, date) as ``scan`` gives them, sorted by ticker and date.

        Same rows as ``scan("prices").filter(...)``, but the parts are chosen before any file is
        opened: a part is read only when its year can hold the dates and one of its row groups'
        ticker ranges (footer statistics, cached) contains a wanted ticker; the chosen parts of a
        partition are deduplicated only when they may share a key.
        """
        wanted = sorted({tickers} if isinstance(tickers, str) else set(tickers))
        cond = pl.col("ticker").is_in(wanted) if len(wanted) != 1 else pl.col("ticker") == wanted[0]
        if start is not None:
            cond &= pl.col("date") >= start
        if end is not None:
            cond &= pl.col("date") <= end
        lo_year = start.year if start is not None else None
        hi_year = end.year if end is not None else None
        chosen: list[list[Part]] = []
        for group in self._groups("prices"):
            year = _year_of(group)
            if (lo_year is not None or hi_year is not None) and (
                    year == 0 or (lo_year is not None and year < lo_year)
                    or (hi_year is not None and year > hi_year)):
                continue
            chosen.append([p for p in group if wanted and p.may_hold(wanted)])
        return self._scan_groups("prices", chosen, cond).sort("ticker", "date")

    # -- point in time -----------------------------------------------------------------------

    def facts_as_of(self, date: dt.date) -> pl.LazyFrame:
        """Facts as known on ``date``: published on or before it, the latest statement per
        (entity, metric, period) (latest ``published``, then latest ``ingested_at``)."""
        return latest_facts(self.scan("facts"), date)

    def prices_as_of(self, date: dt.date) -> pl.LazyFrame:
        """The latest bar of every ticker dated on or before ``date`` (one row per ticker).

        Reads the newest partitions first and stops going back in time once every ticker known to
        the store has its bar, so "the latest close of everything" reads about one year of data.
        """
        groups = [g for g in self._groups("prices") if _year_of(g) <= date.year]
        found: list[pl.DataFrame] = []
        missing = set().union(*(self._distinct(p, "ticker") for g in groups for p in g))
        for group in reversed(groups):
            if not missing:
                break
            if not missing & set().union(*(self._distinct(p, "ticker") for p in group)):
                continue
            cond = known_on("prices", date) & pl.col("ticker").is_in(sorted(missing))
            latest = latest_bars(self._scan_groups("prices", [group], cond), date).collect()
            found.append(latest)
            missing -= set(latest.get_column("ticker").to_list())
        if not found:
            return pl.LazyFrame(schema=DATASETS["prices"].schema)
        return pl.concat(found).sort("ticker").lazy()

    def join_facts_prices(self, facts: pl.LazyFrame | None = None, prices: pl.LazyFrame | None = None, *,
                          columns: Sequence[str] = ("date", "close", "adj_close", "currency"),
                          tolerance: str | None = None) -> pl.LazyFrame:
        """Each fact with the price bar of its ticker as of its ``published`` date (backward asof).

        Price columns come prefixed ``price_`` (``price_date``, ``price_close``...). Facts without a
        ticker, a published date or an earlier bar get nulls. ``tolerance`` (e.g. ``"7d"``) bounds
        how old the bar may be.
        """
        f = facts if facts is not None else self.scan("facts")
        p = prices if prices is not None else self.scan("prices")
        right = p.select(pl.col("ticker"), pl.col("date").alias("__on"),
                         *(pl.col(c).alias(f"price_{c}") for c in columns))
        left = f.with_row_index("__row").sort("published", nulls_last=True)
        joined = left.join_asof(right.sort("__on"), left_on="published", right_on="__on", by="ticker",
                                strategy="backward", tolerance=tolerance, check_sortedness=False)
        return joined.sort("__row").drop("__row", "__on")

    # -- maintenance -------------------------------------------------------------------------

    def compact(self, *, now: dt.datetime, datasets: Iterable[str] | None = None,
                stale_tmp_after: dt.timedelta = dt.timedelta(hours=1)) -> list[CompactResult]:
        """Merge each group of several parts into one part per partition, duplicates removed.

        New parts are published before the old ones are removed (see the module docstring for what
        readers see meanwhile). Damaged parts are left alone. Temp files older than
        ``stale_tmp_after`` (left by a crashed writer) are removed.
        """
        results = []
        with self.writer():
            for name in datasets or DATASETS:
                results.append(self._compact_dataset(name))
                self._remove_stale_tmp(name, now - stale_tmp_after)
        for r in results:
            if r.groups:
                log.info("store.compacted", dataset=r.dataset, groups=r.groups,
                         files_before=r.files_before, files_after=r.files_after,
                         rows_before=r.rows_before, rows_after=r.rows_after)
        return results

    def _compact_dataset(self, dataset: str) -> CompactResult:
        spec = DATASETS[dataset]
        groups = [g for g in self._groups(dataset)
                  if len(g) > len({p.year for p in g}) or _needs_dedup(g)]
        files_before = files_after = rows_before = rows_after = 0
        removed: list[Path] = []
        seq = self._next_seq(dataset)
        for group in groups:
            data = _unique_sorted(self._dedup(dataset, group).collect(), spec)
            targets = []
            for year, part in _by_year(data):
                name = f"part-{seq:010d}-{secrets.token_hex(4)}.parquet"
                targets.append((self.dataset_dir(dataset) / f"year={year}" / name, part))
                seq += 1
            _write_all(targets)
            files_after += len(targets)
            for p in group:
                p.path.unlink(missing_ok=True)
                removed.append(p.path)
            for d in {p.path.parent for p in group}:
                _fsync_dir(d)
            files_before += len(group)
            rows_before += sum(p.rows for p in group)
            rows_after += data.height
        return CompactResult(dataset, len(groups), files_before, files_after, rows_before, rows_after,
                             tuple(removed))

    def _remove_stale_tmp(self, dataset: str, before: dt.datetime) -> None:
        for tmp in self.dataset_dir(dataset).glob("year=*/.*.tmp"):
            try:
                if tmp.stat().st_mtime < before.timestamp():
                    tmp.unlink()
                    log.info("store.stale_tmp_removed", path=str(tmp))
            except FileNotFoundError:
                continue

    def status(self) -> StoreStatus:
        """Rows, files, partitions and date range of every dataset; damaged parts; failed documents."""
        return StoreStatus(
            root=self.root,
            datasets=self.dataset_status(),
            damaged=tuple(self.damaged_parts()),
            failed_documents=self.failed_documents(),
        )

    def dataset_status(self) -> tuple[DatasetStatus, ...]:
        """Rows as queries see them, stored rows, files, partitions and date range of every dataset."""
        datasets = []
        for name, spec in DATASETS.items():
            parts = [p for p in self.parts(name) if p.error is None]
            col = pl.col(spec.partition_by)
            row = (self.scan(name).select(pl.len().alias("n"), col.min().alias("lo"), col.max().alias("hi"))
                   .collect().row(0, named=True))
            datasets.append(DatasetStatus(
                name, int(row["n"]), sum(p.rows for p in parts), len(parts), len({p.year for p in parts}),
                _as_date(row["lo"]), _as_date(row["hi"]),
            ))
        return tuple(datasets)

    def failed_documents(self) -> tuple[FailedDocument, ...]:
        """The documents the registry records as failed, oldest first."""
        failed = (self.scan("documents").filter(pl.col("status") == "failed")
                  .select("name", "path", "error", "ingested_at").sort("ingested_at").collect())
        return tuple(FailedDocument(**r) for r in failed.iter_rows(named=True))


def _as_date(value: Any) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def _year_of(group: Sequence[Part]) -> int:
    try:
        return int(group[0].year)
    except ValueError:
        return 0


def _unique_sorted(data: pl.DataFrame, spec: Dataset) -> pl.DataFrame:
    """One row per key (largest version, then the last in ``data``), sorted by the dataset's sort,
    with a ``__year`` column (the partition; 0 for a null partition value).

    Sort by key, version and position, then keep each row whose next row has another key: one
    multi-threaded sort and a vectorized comparison, cheaper than hashing the keys. (Sorting by
    year first would make the sort several times slower: inputs usually come sorted by key, which
    polars' sort exploits; ``_by_year`` splits the years afterwards, keeping the order.)
    """
    key = list(spec.key)
    ordered = data.with_row_index("__i").sort([*key, spec.version, "__i"], nulls_last=False)
    same_as_next = pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(-1)) for c in key)
    unique = ordered.filter(~same_as_next).drop("__i")
    if tuple(spec.sort) != tuple(spec.key):
        unique = unique.sort(list(spec.sort), nulls_last=True, maintain_order=True)
    return unique.with_columns(pl.col(spec.partition_by).dt.year().fill_null(0).alias("__year"))


def _by_year(data: pl.DataFrame) -> list[tuple[int, pl.DataFrame]]:
    """``data`` split by its ``__year`` column, in year order, each year's rows in their order."""
    years = data.partition_by("__year", maintain_order=True, include_key=False, as_dict=True)
    return sorted(((int(year), frame) for (year,), frame in years.items()), key=lambda item: item[0])


def _write_all(targets: Sequence[tuple[Path, pl.DataFrame]]) -> None:
    """Publish each (path, frame) atomically, several at a time (the writes release the GIL)."""
    if len(targets) < 2:
        for path, frame in targets:
            write_parquet_atomic(frame, path)
        return
    with ThreadPoolExecutor(max_workers=min(len(targets), os.cpu_count() or 2, 8)) as pool:
        for future in [pool.submit(write_parquet_atomic, frame, path) for path, frame in targets]:
            future.result()


def _latest_bar(prices: pl.LazyFrame) -> pl.LazyFrame:
    """The row of the largest ``date`` per ticker."""
    return prices.filter(pl.col("date") == pl.col("date").max().over("ticker"))


def open_store(root: Path | str = "parquet") -> Store:
    """Open the store at ``root`` for notebooks: ``open_store().scan("prices")`` is a LazyFrame."""
    return Store(root)
