"""The store: one Delta Lake table per dataset (``deltalake``, delta-rs), on a local folder or S3.

Layout under the root (a folder, or ``s3://bucket/prefix``)::

    <root>/<dataset>/_delta_log/000...N.json              the table's commits (and checkpoints)
    <root>/<dataset>/year=YYYY/part-*.parquet             data files: facts, prices, alerts, documents

Every table has the dataset's declared columns (``schema.DATASETS``) plus ``year``, the partition
column: the year of the dataset's ``partition_by`` column, 0 when it is null. Scans never show
``year``. The state database and caches stay in the local ``--root`` folder (see ``settings``).

**Creation.** ``init()`` creates the missing tables, empty, once, before any writer (``metrics store
init``; the daemon at start). Writers never create a table on S3 (creating on first write loses rows
when several writers race); on a local root a writer that finds its table missing creates it empty
first (one put-if-absent commit carrying no rows: the loser of a race just re-reads the table).

**Writes** are MERGEs on the dataset's natural key: a row whose key is new is inserted; a row whose
key exists replaces it when its ``version`` column is as large or larger and some other column
differs. Rows that would change nothing are dropped before the MERGE, so re-importing the same bars
or re-ingesting a document commits nothing (``WriteResult.unchanged`` says how many). First by
partition: the first write records in its commit (``metrics.digests``) each data file's rows and
digest (an order-independent sum of row hashes, version aside), and later commits of this module
carry the record of the files still live forward; an incoming partition whose rows and digest equal
those of the live files of that year, every one of them recorded, is stored as it is and skipped
unread. Any partition another writer touched since (MERGE, OPTIMIZE, DELETE, append: files are
immutable, so its files changed) or whose digest differs is compared row by row: by a hash of each
row, first in place with the stored rows in their files' order, then looked up among them. The first
write into an empty table needs no MERGE: polars writes one file per partition (uploaded by a
few threads on S3), added in one commit that carries an application transaction so that a second
writer which also found the table empty conflicts and MERGEs on its retry. A commit that
conflicts with a concurrent one is retried from a fresh snapshot up to ``commit_attempts`` times with
jittered backoff, then ``CommitConflict`` is raised naming the table: never a silent loss.

**Sources.** A write given a ``source`` key (``prices.files.source_key``: the files' names, sizes and
sha256, the reader's version; the same key, the same rows) records, in the same record, what that
source produced: each year's rows and digest. The record carries the newest 32 sources forward (a
source's digests describe its rows whatever the table holds: always true). ``source_unchanged``
then proves a re-import of the same key unchanged from the log alone, its rows not even read: each
year the source produced is made, in the current snapshot, of recorded files whose rows and digests
add up to the source's. A commit since that touched such a year (another import's MERGE, a fetch
appending bars, compact's OPTIMIZE, any writer without our record) left files without a record or
other sums there: the proof fails and the re-import reads its rows and compares them as above.

**Reads** see one committed snapshot (a table version); there are no duplicates to remove at read.
A ``Store`` pinned to a version (``pinned(version=N)``) or to a commit time
(``pinned(as_of=T)``) reads every table as it was then: reproducible runs (time travel). Business
"as of" (``facts_as_of``, ``prices_as_of``) stays on ``published``, ``date`` and ``ingested_at``.

**Point reads.** ``prices_for(tickers, start, end)`` picks the data files from the table log (year
partition, per-file min/max of ``ticker`` and ``date``) before any file is opened.

**Maintenance.** ``compact`` is OPTIMIZE (small files merged; prices Z-ordered by ticker and date)
then VACUUM of files no snapshot younger than the retention (at least 7 days) needs. Readers keep
reading the snapshot they started with: compaction never changes what a query returns.

**Damage.** On a local root a data file whose footer cannot be read is skipped by every scan, logged
once per store object as ``store.corrupt_part`` naming the file, and listed by ``status()``.

(Over 400 lines: creation, MERGE writes with their retry, snapshot reads and point reads share the
Delta table handle and the commit protocol; split apart, the one-writer invariant would be spread thin.)
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from metrics.errors import CommitConflict, StoreError
from metrics.log import get_logger
from metrics.settings import Settings
from metrics.store.pit import latest_bars, latest_facts
from metrics.store.schema import DATASETS, YEAR, Dataset, conform, strictly_sorted, table_schema

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = get_logger(__name__)

ROW_GROUP_ROWS = 16_384
COMMIT_ATTEMPTS = 12
MIN_RETENTION = dt.timedelta(days=7)
_BACKOFF_S = 0.05
_STAT_CHARS = 32                 # longer strings get no min/max statistics (a prefix is no maximum)
_UPLOADS = 4                     # data files uploaded at once on S3 (each held in memory meanwhile)
_DIGESTS = "metrics.digests"     # commit metadata: the digest of each data file the commit added
_DIGEST_LOOKBACK = 25            # commits searched, newest first, for the latest digest record
_SOURCES_KEPT = 32               # source fingerprints a record carries forward (the newest)
_OLD_PART = re.compile(r"^part-\d{10}-[0-9a-f]{8}\.parquet$")   # the former layout's part names


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: rows given (one per key), rows inserted, updated, unchanged; the new version."""

    dataset: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    version: int | None = None   # the table version committed; None when nothing was written
    attempts: int = 1
    reason: str | None = None    # why nothing was written, when nothing was


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """Rows, files, partitions, date range and version of one dataset."""

    name: str
    rows: int
    stored_rows: int
    files: int
    partitions: int
    first: dt.date | None
    last: dt.date | None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class DamagedPart:
    """A data file the store skips, and why."""

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

    root: Path | str
    datasets: tuple[DatasetStatus, ...]
    damaged: tuple[DamagedPart, ...]
    failed_documents: tuple[FailedDocument, ...]


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What ``compact`` did to one dataset: OPTIMIZE's files, then VACUUM's removals."""

    dataset: str
    groups: int                  # partitions rewritten by OPTIMIZE
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    removed: tuple[str, ...] = field(default=(), repr=False)   # files deleted by VACUUM


@dataclass(frozen=True, slots=True)
class _Record:
    """The newest digest record of a table (``metrics.digests``): ``[rows, digest]`` of each live data
    file by path, and what each recorded source produced: by source key, ``years`` (``[rows, digest]``
    by year) and ``last`` (the largest partition value, ISO, or None)."""

    files: dict[str, list[int]]
    sources: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Files:
    """The data files of one table snapshot: path, rows, year and min/max of the first sort column."""

    version: int
    frame: pl.DataFrame          # columns: uri, rows, year, lo, hi, dlo, dhi


def is_remote(root: Path | str) -> bool:
    """True for an object-store URI (``s3://...``), False for a local folder."""
    return "://" in str(root) and not str(root).startswith("file://")


def storage_options_from(settings: Settings) -> dict[str, str]:
    """delta-rs storage options from ``settings.store`` (unset ones fall back to the ``AWS_*``
    variables, which delta-rs reads itself). Holds the secret: never log the result."""
    s = settings.store
    opts: dict[str, str] = {}
    if s.endpoint_url:
        opts["AWS_ENDPOINT_URL"] = s.endpoint_url
    if s.region:
        opts["AWS_REGION"] = s.region
    if s.access_key_id:
        opts["AWS_ACCESS_KEY_ID"] = s.access_key_id
    if s.secret_access_key is not None:
        opts["AWS_SECRET_ACCESS_KEY"] = s.secret_access_key.get_secret_value()
    if s.allow_http is not None:
        opts["AWS_ALLOW_HTTP"] = "true" if s.allow_http else "false"
    opts.update(s.options)
    return opts


class Store:
    """The tables under ``root``; see the module docstring for the layout and guarantees.

    ``storage_options`` are delta-rs's (S3 endpoint, region, keys); on an S3 root
    ``conditional_put=etag`` is added unless given, so commits are put-if-absent without a lock
    service. ``version``/``as_of`` pin every read to that table version or commit time.
    """

    def __init__(self, root: Path | str, *, storage_options: Mapping[str, str] | None = None,
                 version: int | None = None, as_of: dt.datetime | None = None,
                 commit_attempts: int = COMMIT_ATTEMPTS) -> None:
        self.remote = is_remote(root)
        self.root: Path | str = str(root).rstrip("/") if self.remote else Path(root)
        opts = dict(storage_options or {})
        if self.remote:
            opts.setdefault("conditional_put", "etag")
        self.storage_options = opts
        if version is not None and as_of is not None:
            raise ValueError("pin a store to a version or to a commit time, not both")
        self.version = version
        self.as_of = as_of
        self.commit_attempts = commit_attempts
        self._tables: dict[str, DeltaTable] = {}
        self._files: dict[str, _Files] = {}
        self._records: dict[str, tuple[int, _Record | None]] = {}   # the digest record by table version
        self._footers: dict[str, str | None] = {}
        self._reported: set[str] = set()
        self._guard = threading.Lock()              # the caches' dictionaries
        # one lock per table: a DeltaTable object is used by one thread at a time
        self._locks = {name: threading.RLock() for name in DATASETS}

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store of ``settings``: ``store.url`` if set, else the local ``root`` folder."""
        return cls(settings.store.url or settings.root, storage_options=storage_options_from(settings))

    def __repr__(self) -> str:
        pin = f", version={self.version}" if self.version is not None else (
            f", as_of={self.as_of.isoformat()!r}" if self.as_of is not None else "")
        return f"Store({str(self.root)!r}{pin})"

    def pinned(self, *, version: int | None = None, as_of: dt.datetime | None = None) -> Store:
        """This store read-only, every table read at ``version`` or as committed at ``as_of``."""
        return Store(self.root, storage_options=self.storage_options, version=version, as_of=as_of)

    def table_uri(self, dataset: str) -> str:
        if dataset not in DATASETS:
            raise StoreError(f"no such table: {dataset!r} (tables: {', '.join(DATASETS)})")
        return f"{self.root}/{dataset}" if self.remote else str(Path(self.root) / dataset)

    def dataset_dir(self, dataset: str) -> Path:
        """The local folder of ``dataset`` (local roots only)."""
        return Path(self.table_uri(dataset))

    # -- tables ------------------------------------------------------------------------------

    def _exists(self, dataset: str) -> bool:
        from deltalake import DeltaTable  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        return bool(DeltaTable.is_deltatable(self.table_uri(dataset), storage_options=self.storage_options))

    def init(self, datasets: Iterable[str] | None = None) -> list[str]:
        """Create the missing tables, empty; return the names created. Run once, before writers."""
        created = []
        for name in datasets or DATASETS:
            if self._create(name):
                created.append(name)
                log.info("store.table_created", table=name, root=str(self.root))
        return created

    def _create(self, dataset: str) -> bool:
        """Create ``dataset`` empty unless it exists; True when this call created it."""
        from deltalake import DeltaTable  # noqa: PLC0415 - deltalake is heavy; loaded only when used
        from deltalake.exceptions import DeltaError  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        if self._exists(dataset):
            return False
        folder = None if self.remote else self.dataset_dir(dataset)
        if folder is not None and any(_OLD_PART.match(p.name) for p in folder.glob("year=*/*")):
            raise StoreError(f"{self.dataset_dir(dataset)} holds part files of the former layout: "
                             "run `metrics store migrate` first")
        try:
            DeltaTable.create(self.table_uri(dataset), schema=table_schema(dataset), mode="error",
                              partition_by=[YEAR], storage_options=self.storage_options,
                              name=dataset, description=f"metrics {dataset}")
        except DeltaError as e:
            if self._exists(dataset):       # another process created it meanwhile: fine, it is empty
                return False
            raise StoreError(f"cannot create table {self.table_uri(dataset)}: {e}") from e
        return True

    def _load(self, dataset: str) -> DeltaTable | None:
        """The table's snapshot to read (the latest, or the pinned one); None if it does not exist."""
        from deltalake import DeltaTable  # noqa: PLC0415 - deltalake is heavy; loaded only when used
        from deltalake.exceptions import DeltaError, TableNotFoundError  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        uri = self.table_uri(dataset)
        with self._locks[dataset]:
            table = self._tables.get(dataset)
            try:
                if table is None:
                    table = DeltaTable(uri, storage_options=self.storage_options)
                    if self.version is not None:
                        table.load_as_version(self.version)
                    elif self.as_of is not None:
                        version = _version_at(table, self.as_of)
                        if version is None:        # the table did not exist yet then
                            return None
                        table.load_as_version(version)
                    self._tables[dataset] = table
                elif self.version is None and self.as_of is None:
                    table.update_incremental()
            except TableNotFoundError:
                return None
            except DeltaError as e:
                pin = self.version if self.version is not None else self.as_of
                if pin is not None:
                    raise StoreError(f"table {dataset} has no version as of {pin}: {e}") from e
                raise
            return table

    def _writable(self, dataset: str) -> DeltaTable:
        if self.version is not None or self.as_of is not None:
            raise StoreError(f"{self!r} is pinned to the past: it cannot write {dataset}")
        table = self._load(dataset)
        if table is None:
            if self.remote:
                raise StoreError(f"table {self.table_uri(dataset)} does not exist: run `metrics store init`")
            self._create(dataset)
            table = self._load(dataset)
            assert table is not None
        return table

    def table_version(self, dataset: str) -> int | None:
        """The version of ``dataset`` that reads see now (None: no such table yet)."""
        table = self._load(dataset)
        return None if table is None else table.version()

    def history(self, dataset: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The commits of ``dataset``, newest first (version, timestamp, operation, metrics)."""
        table = self._load(dataset)
        return [] if table is None else table.history(limit)

    # -- writing -----------------------------------------------------------------------------

    def append(self, dataset: str, df: pl.DataFrame, *, now: dt.datetime | None = None,
               source: str | None = None) -> WriteResult:
        """Conform ``df`` to the dataset's schema and MERGE it on the natural key (module docstring).

        Rows of the batch that share a key are reduced to the latest (largest version, then last in
        the batch). ``now``, when given, is recorded in the commit's metadata (``metrics.at``).
        ``source``, when given, is a key of what ``df`` was made from (the same key: the same rows,
        version aside; ``prices.files.source_key``): the commit records each year's rows and digest
        of ``df`` under it, for ``source_unchanged`` to prove a later re-import of the same source
        unchanged without reading it.
        """
        spec = DATASETS[dataset]
        data = conform(df, dataset)
        if data.is_empty():
            return WriteResult(dataset, 0)
        data = _unique_sorted(data, spec)
        digests: list[pl.DataFrame] = []          # the partitions' digests of ``data``, once needed

        def digested() -> pl.DataFrame:
            if not digests:
                digests.append(_partition_digests(data, spec))
            return digests[0]

        entry = None if source is None else (source, _source_entry(data, spec, digested()))
        meta = {"metrics.operation": "append"} | ({"metrics.at": now.isoformat()} if now else {})
        for attempt in range(1, self.commit_attempts + 1):
            table = self._writable(dataset)
            first = self._file_list(dataset, table).frame.is_empty()
            record = None if first else self._digest_record(dataset, table)
            unproven = data if first or not record or not record.files else self._unproven(
                dataset, table, data, digested(), record)
            changed = data if first else self._changed(dataset, table, unproven)
            if changed.is_empty():
                log.info("store.unchanged", table=dataset, rows=data.height)
                return WriteResult(dataset, data.height, unchanged=data.height, attempts=attempt,
                                   reason="every row is already stored as it is (version aside)")
            try:
                if first:
                    got = self._first_write(dataset, table, changed, meta | _carried(None, entry), digested())
                else:
                    got = self._merge(dataset, table, changed, meta | _carried(record, entry))
            except Exception as e:
                if not _is_conflict(e):
                    raise
                if attempt == self.commit_attempts:
                    raise CommitConflict(f"table {dataset}: commit conflicted {attempt} times, giving up",
                                         table=dataset, attempts=attempt) from e
                log.info("store.commit_retry", table=dataset, attempt=attempt, error=str(e).splitlines()[0])
                time.sleep(random.uniform(0, _BACKOFF_S * 2 ** min(attempt, 6)))  # noqa: S311
                continue
            inserted = int(got.get("num_target_rows_inserted", 0))
            updated = int(got.get("num_target_rows_updated", 0))
            with self._locks[dataset]:
                version = table.version()
            log.info("store.written", table=dataset, rows=data.height, inserted=inserted, updated=updated,
                     version=version, attempts=attempt)
            return WriteResult(dataset, data.height, inserted, updated, data.height - inserted - updated,
                               version, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def source_unchanged(self, dataset: str, source: str, *,
                         not_after: dt.date | None = None) -> WriteResult | None:
        """Nothing to write for a re-import of ``source`` (a key given to ``append``), proven without
        reading it: the table's newest digest record holds what ``source`` produced, year by year, and
        each of those years of the current snapshot is made of recorded files whose rows and digests
        add up to exactly that. Then the result says so (no commit); else None: read the source and
        ``append`` it, which compares what this cannot prove.

        Any commit since that touched such a year (MERGE, OPTIMIZE, DELETE, an append, another
        writer's) changed its files, and a file without a record, or a different sum, fails the proof.
        ``not_after``: None when the source's rows reach beyond that date (its reader would refuse it:
        let it say why).
        """
        if self.version is not None or self.as_of is not None:
            return None
        table = self._load(dataset)
        if table is None:
            return None
        if self._file_list(dataset, table).frame.is_empty():
            return None
        record = self._digest_record(dataset, table)
        entry = None if record is None else record.sources.get(source)
        if record is None or entry is None:
            return None
        last = entry.get("last")
        if not_after is not None and last is not None and str(last) > not_after.isoformat():
            return None
        years = entry.get("years", {})
        mine = pl.DataFrame({"year": [int(y) for y in years], "rows": [int(v[0]) for v in years.values()],
                             "digest": [int(v[1]) for v in years.values()]},
                            schema={"year": pl.Int32, "rows": pl.Int64, "digest": pl.UInt64})
        stored = self._stored_digests(dataset, table, record.files)
        proven = mine.join(stored, on=["year", "rows", "digest"], how="semi")
        if mine.is_empty() or proven.height != mine.height:
            return None
        rows = int(mine["rows"].sum())
        with self._locks[dataset]:
            version = table.version()
        log.info("store.source_unchanged", table=dataset, rows=rows, partitions=mine.height, version=version)
        return WriteResult(dataset, rows, unchanged=rows, reason=(
            f"the same source as an earlier import, and its {mine.height} partition(s) are unchanged in the "
            f"table since (version {version}): its rows were not even read"))

    def _digest_record(self, dataset: str, table: DeltaTable) -> _Record | None:
        """The newest digest record (``metrics.digests``, written by this module) among the last
        commits of ``table``'s snapshot, its files narrowed to those live in the snapshot; None when
        there is none, it was made by another polars (its hashes may differ) or the table may carry
        deletion vectors (a file's rows could change without its path changing). Kept by table
        version: a re-import that falls back to comparing rows reads the log once."""
        with self._locks[dataset]:
            version = table.version()
            cached = self._records.get(dataset)
            if cached is not None and cached[0] == version:
                return cached[1]
            record = self._read_record(dataset, table)
            self._records[dataset] = (version, record)
        return record

    def _read_record(self, dataset: str, table: DeltaTable) -> _Record | None:
        with self._locks[dataset]:
            if "deletionVectors" in (table.protocol().reader_features or []):
                return None
            found = None
            for limit in (1, _DIGEST_LOOKBACK):
                found = next((c[_DIGESTS] for c in table.history(limit) if _DIGESTS in c), None)
                if found is not None:
                    break
        if found is None:
            return None
        record = json.loads(found) if isinstance(found, str) else found
        if record.get("alg") != _digest_alg():
            return None
        prefix = self.table_uri(dataset) + "/"
        live = set(self._file_list(dataset, table).frame.get_column("uri").str.strip_prefix(prefix).to_list())
        files = {path: [int(n), int(d)] for path, (n, d) in record.get("files", {}).items() if path in live}
        sources = record.get("sources", {})
        return _Record(files, sources if isinstance(sources, dict) else {})

    def _stored_digests(self, dataset: str, table: DeltaTable, files: dict[str, list[int]]) -> pl.DataFrame:
        """Per year of ``table``'s snapshot whose live files all have a digest in ``files``: the sum of
        their rows and of their digests (columns year, rows, digest). A file whose row count in the log
        is not the recorded one counts as unrecorded (a file rewritten under the same path)."""
        prefix = self.table_uri(dataset) + "/"
        live = self._file_list(dataset, table).frame.select(
            pl.col("uri").str.strip_prefix(prefix).alias("path"), "year", pl.col("rows").alias("logged"))
        paths = list(files)
        known = pl.DataFrame({"path": paths, "rows": [files[p][0] for p in paths],
                              "digest": [files[p][1] for p in paths]},
                             schema={"path": pl.String, "rows": pl.Int64, "digest": pl.UInt64})
        recorded = pl.col("digest").is_not_null() & pl.col("rows").eq_missing(pl.col("logged"))
        return (live.join(known, on="path", how="left")
                .group_by("year").agg((~recorded).sum().alias("unknown"),
                                      pl.col("rows").sum(), pl.col("digest").sum())
                .filter(pl.col("unknown") == 0).drop("unknown"))

    def _unproven(self, dataset: str, table: DeltaTable, data: pl.DataFrame, mine: pl.DataFrame,
                  record: _Record) -> pl.DataFrame:
        """``data`` less the partitions proven stored as they are: every live file of the partition has
        a recorded digest, and their rows and digests add up to those of ``data``'s rows of that year
        (``mine``: ``_partition_digests(data)``). Files are immutable and their paths unique, so a
        partition another writer changed since (MERGE, OPTIMIZE, append) has a file without a record
        and is compared row by row (``_changed``)."""
        stored = self._stored_digests(dataset, table, record.files)
        proven = mine.join(stored, on=["year", "rows", "digest"], how="semi").get_column("year")
        if proven.is_empty():
            return data
        log.info("store.partitions_unchanged", table=dataset, partitions=proven.len())
        return data.filter(~pl.col(YEAR).is_in(proven.implode()))

    def _changed(self, dataset: str, table: DeltaTable, data: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``data`` (with ``year``) that are not stored as they are (version aside)."""
        spec = DATASETS[dataset]
        files = self._file_list(dataset, table)
        if files.frame.is_empty() or data.is_empty():
            return data
        first = spec.key[0]
        keys = data.get_column(first)
        chosen = files.frame
        if spec.partition_by in spec.key:
            chosen = chosen.filter(pl.col("year").is_in(data.get_column(YEAR).unique().implode()))
        overlaps = (pl.col("lo") <= keys.max()) & (pl.col("hi") >= keys.min())
        chosen = chosen.filter(pl.col("lo").is_null() | overlaps)
        if chosen.is_empty():
            return data
        stored = self._scan_files(dataset, chosen.sort("year", "lo", nulls_last=False))  # partition order
        if data.height * 10 < int(chosen["rows"].sum()):     # a few keys: skip the others' rows early
            stored = stored.filter(pl.col(first).is_in(keys.unique().implode()))
        # a row is unchanged when its key, partition and other values (version aside) are stored as they
        # are: compared by a 64-bit hash of them (a changed row passes for unchanged with odds ~1e-13)
        theirs = stored.with_columns(_year(spec)).select(_row_hash(spec).alias("h")).collect().get_column("h")
        mine = data.select(_row_hash(spec).alias("h")).get_column("h")
        suspects = _mismatched(data, mine, theirs)
        if suspects is not None and suspects.is_empty():
            return data.clear()
        if suspects is not None:
            data, mine = data[suspects], mine.gather(suspects)
        return data.filter(~mine.is_in(theirs.implode()))

    def _first_write(self, dataset: str, table: DeltaTable, rows: pl.DataFrame, meta: dict[str, str],
                     digests: pl.DataFrame | None = None) -> dict[str, Any]:
        """Append ``rows`` (one per key, with ``year``) to a table whose snapshot holds no rows: no MERGE
        to run, one file per partition written by polars (no second copy of the whole frame), each
        in the order of ``rows`` (so a re-import compares in place, ``_mismatched``).

        A blind append does not conflict with concurrent appends, so the commit carries the
        application transaction ``metrics.<dataset>.first-write``: of two writers that both found
        the table empty, the second fails with a conflict, is retried from a fresh snapshot (no
        longer empty) and MERGEs. Every first write goes through here, so a writer that read an
        empty snapshot always meets the marker in the commit that filled the table.
        """
        if digests is None:
            digests = _partition_digests(rows, DATASETS[dataset])
        with self._locks[dataset]:
            self._write_files(dataset, table, rows, digests, meta | {"metrics.write": "first"})
        return {"num_target_rows_inserted": rows.height}

    def _write_files(self, dataset: str, table: DeltaTable, rows: pl.DataFrame,
                     partition_digests: pl.DataFrame, meta: dict[str, str]) -> None:
        """Polars writes one data file per partition (its own Parquet writer: a fifth of the memory of
        delta-rs's, measured on 1.72 M bars); on S3 each file is written to memory and uploaded by a
        few threads while the next is written. Then one commit adds them with their statistics (rows,
        nulls, min and max) and records each file's digest (``metrics.digests``, with the sources
        ``meta`` carries there: ``partition_digests`` are those of ``rows``). Files of a commit that
        fails are never referenced (VACUUM removes them)."""
        from deltalake import CommitProperties, Transaction  # noqa: PLC0415 - deltalake is heavy; loaded only when used
        from deltalake.transaction import AddAction  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        digests = {int(r["year"]): (int(r["rows"]), int(r["digest"]))
                   for r in partition_digests.iter_rows(named=True)}
        actions: list[Any] = []
        record: dict[str, list[int]] = {}
        uploads: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=_UPLOADS) as pool:
            for part in _by_year(rows):
                year = int(part.get_column(YEAR)[0])
                name = f"{YEAR}={year}/part-00000-{uuid.uuid4()}-c000.snappy.parquet"
                data = part.drop(YEAR)
                if self.remote:
                    buffer = io.BytesIO()
                    data.write_parquet(buffer, compression="snappy", row_group_size=ROW_GROUP_ROWS,
                                       statistics=True)
                    size, mtime = buffer.tell(), int(time.time() * 1000)
                    while len([u for u in uploads if not u.done()]) >= _UPLOADS:   # bounded memory
                        wait(uploads, return_when=FIRST_COMPLETED)
                    uploads.append(pool.submit(self._upload, dataset, name, buffer))
                else:
                    path = self.dataset_dir(dataset) / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    data.write_parquet(path, compression="snappy", row_group_size=ROW_GROUP_ROWS,
                                       statistics=True)
                    size, mtime = path.stat().st_size, int(path.stat().st_mtime * 1000)
                actions.append(AddAction(name, size, {YEAR: str(year)}, mtime, True, _file_stats(data)))
                record[name] = list(digests[year])
        for upload in uploads:
            upload.result()                          # an upload that failed fails the write
        # blind appends do not conflict with each other: the application transaction makes a second
        # first write conflict (``_first_write``)
        carried = json.loads(meta[_DIGESTS]) if _DIGESTS in meta else {}
        commit = CommitProperties(
            custom_metadata=meta | {_DIGESTS: json.dumps({"alg": _digest_alg(), "files": record,
                                                          "sources": carried.get("sources", {})})},
            max_commit_retries=3,
            app_transactions=[Transaction(app_id=f"metrics.{dataset}.first-write", version=1)])
        table.create_write_transaction(actions, mode="append", schema=table_schema(dataset),
                                       partition_by=[YEAR], commit_properties=commit)
        table.update_incremental()

    def _upload(self, dataset: str, name: str, buffer: io.BytesIO) -> None:
        """Put one data file written to memory under the table on S3."""
        # delta-rs's own object store client (the table's options); its pyarrow wrapper hands the
        # stream a pyarrow Buffer, which the stream refuses
        from deltalake._internal import DeltaFileSystemHandler  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        handler = DeltaFileSystemHandler(self.table_uri(dataset), dict(self.storage_options))
        stream = handler.open_output_stream(name)
        try:
            stream.write(buffer.getvalue())
        finally:
            stream.close()  # type: ignore[attr-defined]  # present, missing from the stub

    def _merge(self, dataset: str, table: DeltaTable, rows: pl.DataFrame,
               meta: dict[str, str]) -> dict[str, Any]:
        from deltalake import CommitProperties, WriterProperties  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        spec = DATASETS[dataset]
        on = [f"t.{c} = s.{c}" for c in spec.key]
        if spec.partition_by in spec.key:
            on.append(f"t.{YEAR} = s.{YEAR}")
        v = spec.version
        newer = f"(t.{v} IS NULL OR s.{v} >= t.{v})"
        props = WriterProperties(compression="SNAPPY", max_row_group_size=ROW_GROUP_ROWS)
        with self._locks[dataset]:
            return table.merge(
                rows, " AND ".join(on), source_alias="s",
                target_alias="t", writer_properties=props, streamed_exec=False,
                commit_properties=CommitProperties(custom_metadata=meta, max_commit_retries=3),
            ).when_matched_update_all(predicate=newer).when_not_matched_insert_all().execute()

    # -- reading -----------------------------------------------------------------------------

    def _file_list(self, dataset: str, table: DeltaTable) -> _Files:
        """The data files of ``table``'s snapshot with their partition and stats (cached by version)."""
        with self._locks[dataset]:
            version = table.version()
            cached = self._files.get(dataset)
            if cached is not None and cached.version == version:
                return cached
            actions = pl.DataFrame(table.get_add_actions(flatten=True))
        spec = DATASETS[dataset]
        first, prefix = spec.key[0], self.table_uri(dataset)
        if actions.is_empty():
            frame = pl.DataFrame(schema={"uri": pl.String, "rows": pl.Int64, "year": pl.Int32,
                                         "lo": pl.String, "hi": pl.String, "dlo": pl.Date, "dhi": pl.Date})
        else:
            date = spec.partition_by
            has_dates = spec.schema[date] == pl.Date and f"min.{date}" in actions.columns
            frame = actions.select(
                (pl.lit(prefix + "/") + pl.col("path")).alias("uri"),
                pl.col("num_records").cast(pl.Int64).alias("rows"),
                pl.col(f"partition.{YEAR}").cast(pl.Int32).alias("year"),
                _stat(actions, f"min.{first}", pl.String).alias("lo"),
                _stat(actions, f"max.{first}", pl.String).alias("hi"),
                (pl.col(f"min.{date}") if has_dates else pl.lit(None, pl.Date)).alias("dlo"),
                (pl.col(f"max.{date}") if has_dates else pl.lit(None, pl.Date)).alias("dhi"),
            )
        files = _Files(version, frame)
        with self._locks[dataset]:
            self._files[dataset] = files
        return files

    def _good(self, dataset: str, uris: Sequence[str]) -> list[str]:
        """``uris`` less the damaged ones (local roots: footers checked once per file, files never change)."""
        if self.remote:
            return list(uris)
        spec = DATASETS[dataset]
        good = []
        for uri in uris:
            with self._guard:
                known = uri in self._footers
                error = self._footers.get(uri)
            if not known:
                try:
                    names = pl.read_parquet_schema(uri)
                    missing = [c for c in spec.schema if c not in names]
                    error = f"columns missing: {missing}" if missing else None
                except (OSError, pl.exceptions.PolarsError) as e:
                    error = f"{type(e).__name__}: {e}"
                with self._guard:
                    self._footers[uri] = error
            if error is None:
                good.append(uri)
            elif uri not in self._reported:
                self._reported.add(uri)
                log.warning("store.corrupt_part", dataset=dataset, path=uri, error=error)
        return good

    def _scan_files(self, dataset: str, files: pl.DataFrame) -> pl.LazyFrame:
        """The rows of ``files`` (rows of ``_Files.frame``), the declared columns (no ``year``: it is
        the year of ``partition_by``, see ``_with_year``)."""
        spec = DATASETS[dataset]
        uris = self._good(dataset, files.get_column("uri").to_list())
        if not uris:
            return pl.LazyFrame(schema=spec.schema)
        return pl.scan_parquet(uris, schema=spec.schema, hive_partitioning=False,
                               storage_options=self.storage_options or None)

    def part_files(self, dataset: str) -> list[str]:
        """The data files of ``dataset``'s current snapshot (URIs; local paths on a local root)."""
        table = self._load(dataset)
        return [] if table is None else self._file_list(dataset, table).frame.get_column("uri").to_list()

    def damaged_parts(self, dataset: str | None = None) -> list[DamagedPart]:
        names = [dataset] if dataset else list(DATASETS)
        out = []
        for name in names:
            uris = self.part_files(name)
            good = set(self._good(name, uris))
            out += [DamagedPart(name, Path(u), self._footers.get(u) or "unreadable") for u in uris
                    if u not in good]
        return out

    def scan(self, dataset: str, *, since: dt.date | None = None) -> pl.LazyFrame:
        """``dataset`` as committed in the snapshot read (the latest, or the pinned one): a LazyFrame
        with the declared schema, one row per natural key.

        ``since`` (datasets partitioned by a date: prices, facts) keeps the rows dated on or after
        it, reading only the data files whose year and date range can hold them (from the log)."""
        table = self._load(dataset)
        if table is None:
            return pl.LazyFrame(schema=DATASETS[dataset].schema)
        files = self._file_list(dataset, table).frame
        if since is None:
            return self._scan_files(dataset, files)
        recent = (pl.col("year") >= since.year) & (pl.col("dhi").is_null() | (pl.col("dhi") >= since))
        return self._scan_files(dataset, files.filter(recent)).filter(
            pl.col(DATASETS[dataset].partition_by) >= since)

    def prices_for(self, tickers: str | Iterable[str], start: dt.date | None = None,
                   end: dt.date | None = None) -> pl.LazyFrame:
        """The bars of ``tickers`` dated ``start`` .. ``end`` (both included, None: unbounded), sorted by
        ticker and date. Files are chosen from the log (year, ticker and date ranges) before reading."""
        wanted = sorted({tickers} if isinstance(tickers, str) else set(tickers))
        table = self._load("prices")
        if table is None or not wanted:
            return pl.LazyFrame(schema=DATASETS["prices"].schema)
        files = self._file_list("prices", table).frame
        hit = pl.lit(False)
        for t in wanted:
            hit |= pl.col("lo").is_null() | ((pl.col("lo") <= t) & (pl.col("hi") >= t))
        cond = pl.col("ticker").is_in(wanted) if len(wanted) > 1 else pl.col("ticker") == wanted[0]
        if start is not None:
            hit &= pl.col("dhi").is_null() | (pl.col("dhi") >= start)
            cond &= pl.col("date") >= start
        if end is not None:
            hit &= pl.col("dlo").is_null() | (pl.col("dlo") <= end)
            cond &= pl.col("date") <= end
        chosen = self._scan_files("prices", files.filter(hit))
        return chosen.filter(cond).sort("ticker", "date")

    # -- point in time -----------------------------------------------------------------------

    def facts_as_of(self, date: dt.date) -> pl.LazyFrame:
        """Facts as known on ``date``: published on or before it, the latest statement per
        (entity, metric, period) (latest ``published``, then latest ``ingested_at``)."""
        return latest_facts(self.scan("facts"), date)

    def prices_as_of(self, date: dt.date) -> pl.LazyFrame:
        """The latest bar of every ticker dated on or before ``date`` (one row per ticker).

        Reads the newest years first and stops going back once every ticker has its bar."""
        table = self._load("prices")
        if table is None:
            return pl.LazyFrame(schema=DATASETS["prices"].schema)
        files = self._file_list("prices", table).frame.filter(pl.col("year") <= date.year)
        missing = set(self._scan_files("prices", files).select(pl.col("ticker").unique()).collect()
                      .get_column("ticker").to_list())
        found: list[pl.DataFrame] = []
        for year in sorted(set(files.get_column("year").to_list()), reverse=True):
            if not missing:
                break
            year_files = files.filter(pl.col("year") == year)
            part = self._scan_files("prices", year_files).filter(pl.col("ticker").is_in(sorted(missing)))
            latest = latest_bars(part, date).collect()
            found.append(latest)
            missing -= set(latest.get_column("ticker").to_list())
        if not found:
            return pl.LazyFrame(schema=DATASETS["prices"].schema)
        return pl.concat(found).sort("ticker").lazy()

    # -- maintenance -------------------------------------------------------------------------

    def compact(self, *, now: dt.datetime, datasets: Iterable[str] | None = None,
                retention: dt.timedelta = MIN_RETENTION) -> list[CompactResult]:
        """OPTIMIZE each table (prices Z-ordered by ticker, date), then VACUUM files older than
        ``retention`` (at least 7 days) that no newer snapshot references."""
        from deltalake import CommitProperties  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        if retention < MIN_RETENTION:
            raise StoreError(f"vacuum retention {retention} is below the minimum of {MIN_RETENTION}")
        results = []
        for name in datasets or DATASETS:
            table = self._writable(name)
            before = self._file_list(name, table).frame
            crowded = before.group_by("year").len().filter(pl.col("len") > 1).get_column("year").to_list()
            commit = CommitProperties(custom_metadata={"metrics.operation": "compact",
                                                       "metrics.at": now.isoformat()}, max_commit_retries=3)
            if crowded:
                table = self._optimize(name, sorted(crowded), commit)
            with self._locks[name]:
                removed = table.vacuum(retention_hours=int(retention.total_seconds() // 3600), dry_run=False,
                                       enforce_retention_duration=False, commit_properties=commit)
            table = self._writable(name)
            after = self._file_list(name, table).frame
            rewritten = before.filter(~pl.col("uri").is_in(after.get_column("uri").implode()))
            groups = rewritten.get_column("year").n_unique()
            result = CompactResult(name, groups, before.height, after.height, int(before["rows"].sum()),
                                   int(after["rows"].sum()), tuple(removed))
            if result.files_before != result.files_after or removed:
                log.info("store.compacted", dataset=name, files_before=result.files_before,
                         files_after=result.files_after, rows=result.rows_after, vacuumed=len(removed))
            results.append(result)
        return results

    def _optimize(self, name: str, years: list[int], commit: Any) -> DeltaTable:
        """OPTIMIZE the partitions ``years`` of ``name`` (prices Z-ordered by ticker, date), retrying
        conflicts from a fresh snapshot; returns the table after it."""
        from deltalake import WriterProperties  # noqa: PLC0415 - deltalake is heavy; loaded only when used

        props = WriterProperties(compression="SNAPPY", max_row_group_size=ROW_GROUP_ROWS)
        where = [(YEAR, "in", [str(y) for y in years])]
        for attempt in range(1, self.commit_attempts + 1):
            table = self._writable(name)
            try:
                with self._locks[name]:
                    if name == "prices":
                        table.optimize.z_order(["ticker", "date"], partition_filters=where,
                                               writer_properties=props, commit_properties=commit)
                    else:
                        table.optimize.compact(partition_filters=where, writer_properties=props,
                                               commit_properties=commit)
                return table
            except Exception as e:
                if not _is_conflict(e) or attempt == self.commit_attempts:
                    raise
                log.info("store.commit_retry", table=name, attempt=attempt, operation="optimize")
                time.sleep(random.uniform(0, _BACKOFF_S * 2 ** min(attempt, 6)))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self) -> StoreStatus:
        """Rows, files, partitions and date range of every dataset; damaged files; failed documents."""
        return StoreStatus(
            root=self.root,
            datasets=self.dataset_status(),
            damaged=tuple(self.damaged_parts()),
            failed_documents=self.failed_documents(),
        )

    def dataset_status(self) -> tuple[DatasetStatus, ...]:
        """Rows, files, partitions, date range and version of every dataset."""
        datasets = []
        for name, spec in DATASETS.items():
            table = self._load(name)
            if table is None:
                datasets.append(DatasetStatus(name, 0, 0, 0, 0, None, None, None))
                continue
            files = self._file_list(name, table).frame
            col = pl.col(spec.partition_by)
            row = (self.scan(name).select(pl.len().alias("n"), col.min().alias("lo"), col.max().alias("hi"))
                   .collect().row(0, named=True))
            datasets.append(DatasetStatus(
                name, int(row["n"]), int(files["rows"].sum()), files.height,
                files.get_column("year").n_unique(), _as_date(row["lo"]), _as_date(row["hi"]),
                table.version(),
            ))
        return tuple(datasets)

    def failed_documents(self) -> tuple[FailedDocument, ...]:
        """The documents the registry records as failed, oldest first."""
        failed = (self.scan("documents").filter(pl.col("status") == "failed")
                  .select("name", "path", "error", "ingested_at").sort("ingested_at").collect())
        return tuple(FailedDocument(**r) for r in failed.iter_rows(named=True))


def _version_at(table: DeltaTable, as_of: dt.datetime) -> int | None:
    """The last version of ``table`` committed at or before ``as_of`` (by the commits' own timestamps,
    in milliseconds: object stores' modification times may be coarser); None: created after."""
    limit = as_of.timestamp() * 1000
    versions = [int(c["version"]) for c in table.history() if c.get("timestamp", 0) <= limit]
    return max(versions) if versions else None


def _year(spec: Dataset) -> pl.Expr:
    """The partition column: the year of ``partition_by``, 0 when null."""
    return pl.col(spec.partition_by).dt.year().fill_null(0).cast(pl.Int32).alias(YEAR)


def _row_hash(spec: Dataset) -> pl.Expr:
    """A hash of every column but the version, partition included (same dtypes: same hash): the
    columns' own hashes (one seed each) added, much faster than hashing a struct."""
    columns = [*(c for c in spec.schema if c != spec.version), YEAR]
    return pl.sum_horizontal([pl.col(c).hash(seed=i) for i, c in enumerate(columns)])


def _digest_alg() -> str:
    """The name of the digest function: polars's hashes may change between its versions."""
    return f"rehashed-row-sum/polars-{pl.__version__}"


def _row_digest(spec: Dataset) -> pl.Expr:
    """A 64-bit hash of each row's columns but the version: the sum of the columns' hashes (one seed
    each), hashed again. Added up over a partition, a plain sum of column hashes could not tell two
    rows' values swapped between them; its hash can. (The partition is not hashed: digests are only
    ever compared partition by partition.)"""
    columns = [c for c in spec.schema if c != spec.version]
    return pl.sum_horizontal([pl.col(c).hash(seed=i) for i, c in enumerate(columns)]).hash(seed=len(columns))


def _partition_digests(data: pl.DataFrame, spec: Dataset) -> pl.DataFrame:
    """Per ``year`` of ``data``: its rows and the sum (modulo 2**64) of their row digests, which does
    not depend on the rows' order and adds up over a partition's files."""
    return (data.lazy().select(pl.col(YEAR).alias("year"), _row_digest(spec).alias("h"))
            .group_by("year").agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("h").sum().alias("digest"))
            .collect())


def _carried(record: _Record | None, entry: tuple[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """The commit metadata that carries ``record`` (the digests of files still live, the sources'
    digests) forward, so the newest commit keeps the record of the partitions it leaves alone, with
    the source ``entry`` (key, what it produced) first; the newest ``_SOURCES_KEPT`` sources are kept.
    A source's digests say what its rows are, whatever the table holds: always true, carried as they are."""
    files = {} if record is None else record.files
    sources = {} if record is None else dict(record.sources)
    if entry is not None:
        sources.pop(entry[0], None)
        sources = {entry[0]: entry[1], **sources}
    if not files and not sources:
        return {}
    kept = dict(list(sources.items())[:_SOURCES_KEPT])
    return {_DIGESTS: json.dumps({"alg": _digest_alg(), "files": files, "sources": kept})}


def _source_entry(data: pl.DataFrame, spec: Dataset, digests: pl.DataFrame) -> dict[str, Any]:
    """What a source produced: ``years`` (``[rows, digest]`` by year, from ``_partition_digests``)
    and ``last``, the largest ``partition_by`` value (ISO; None when all are null)."""
    last = data.get_column(spec.partition_by).max()
    years = {str(int(r["year"])): [int(r["rows"]), int(r["digest"])] for r in digests.iter_rows(named=True)}
    return {"years": years,
            "last": last.isoformat() if isinstance(last, (dt.date, dt.datetime)) else None}


def _file_stats(data: pl.DataFrame) -> str:
    """Delta statistics of a data file holding ``data``: rows, nulls, and the min and max of each
    column readers can skip files by (dates, numbers, timestamps to the millisecond widened outwards,
    strings of at most 32 characters; no NaN)."""
    aggs = [pl.len().alias("__rows")]
    for c, dtype in data.schema.items():
        aggs.append(pl.col(c).null_count().alias(f"n.{c}"))
        if dtype.is_numeric() or dtype in (pl.Date, pl.String) or isinstance(dtype, pl.Datetime):
            aggs += [pl.col(c).min().alias(f"lo.{c}"), pl.col(c).max().alias(f"hi.{c}")]
        if dtype.is_float():
            aggs.append(pl.col(c).is_nan().any().alias(f"nan.{c}"))
        if dtype == pl.String:
            aggs.append((pl.col(c).str.len_chars().max() > _STAT_CHARS).alias(f"nan.{c}"))
    row = data.select(aggs).row(0, named=True)
    lows: dict[str, Any] = {}
    highs: dict[str, Any] = {}
    for c, dtype in data.schema.items():
        lo, hi = row.get(f"lo.{c}"), row.get(f"hi.{c}")
        if lo is None or hi is None or row.get(f"nan.{c}") or (dtype.is_float() and not
                                                               (math.isfinite(lo) and math.isfinite(hi))):
            continue
        if isinstance(lo, dt.datetime):
            lo, hi = _stat_time(lo, up=False), _stat_time(hi, up=True)
        elif isinstance(lo, dt.date):
            lo, hi = lo.isoformat(), hi.isoformat()
        lows[c], highs[c] = lo, hi
    nulls = {c: int(row[f"n.{c}"]) for c in data.columns}
    return json.dumps({"numRecords": int(row["__rows"]), "minValues": lows, "maxValues": highs,
                       "nullCount": nulls})


def _stat_time(value: dt.datetime, *, up: bool) -> str:
    """A timestamp statistic: UTC, to the millisecond, rounded outwards (``up`` for a maximum)."""
    value = value.astimezone(dt.UTC) if value.tzinfo else value
    spare = value.microsecond % 1000
    if spare and up:
        value += dt.timedelta(microseconds=1000 - spare)
    elif spare:
        value -= dt.timedelta(microseconds=spare)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _by_year(data: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The rows of each ``year`` of ``data``, years ascending, each in ``data``'s order: slices when the
    years come in runs (facts, alerts, documents: sorted by their date), else one filter per year."""
    years = data.get_column(YEAR)
    if years.is_sorted():
        offset = 0
        for length in years.rle().struct.field("len").to_list():
            yield data.slice(offset, length)
            offset += length
        return
    for year in years.unique().sort().to_list():
        yield data.filter(pl.col(YEAR) == year)


def _mismatched(data: pl.DataFrame, mine: pl.Series, theirs: pl.Series) -> pl.Series | None:
    """Positions in ``data`` whose row hash ``mine`` differs from the stored one at the same place,
    the stored rows ``theirs`` being in partition order (their files read year by year, each file in
    the order it was written: a re-import of the same rows finds them in the same order). None when
    the counts differ. Only these rows need looking up among all the stored hashes: the common case
    of re-importing the same file compares in place, with no hash table."""
    if mine.len() != theirs.len():
        return None
    years = data.get_column(YEAR)
    order = None if years.is_sorted() else (
        data.select(pl.arg_sort_by(YEAR, maintain_order=True)).to_series())
    placed = mine if order is None else mine.gather(order)
    differ = placed.ne_missing(theirs)
    positions = pl.int_range(0, mine.len(), eager=True, dtype=pl.UInt32) if order is None else order
    return positions.filter(differ)


def _stat(actions: pl.DataFrame, column: str, dtype: type[pl.DataType]) -> pl.Expr:
    return pl.col(column).cast(dtype) if column in actions.columns else pl.lit(None, dtype)


def _is_conflict(error: Exception) -> bool:
    """True for a commit that lost a race to a concurrent one (worth retrying from a fresh snapshot)."""
    from deltalake.exceptions import CommitFailedError  # noqa: PLC0415 - deltalake is heavy; loaded only when used

    text = str(error)
    return isinstance(error, CommitFailedError) or "ConcurrentAppend" in text or "conflict" in text.lower() \
        or "Version mismatch" in text or "already exists" in text


def _as_date(value: Any) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def _unique_sorted(data: pl.DataFrame, spec: Dataset) -> pl.DataFrame:
    """One row per key (largest version, then the last in ``data``), sorted by the dataset's sort,
    with the ``year`` partition column (0 for a null partition value).

    Sort by key, version and position, then keep each row whose next row has another key: one
    multi-threaded sort and a vectorized comparison, cheaper than hashing the keys.
    """
    key = list(spec.key)
    year = _year(spec)
    if strictly_sorted(data, key) and tuple(spec.sort) == tuple(spec.key):
        return data.with_columns(year)       # already one row per key, in order: no copy
    ordered = data.with_row_index("__i").sort([*key, spec.version, "__i"], nulls_last=False)
    same_as_next = pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(-1)) for c in key)
    unique = ordered.filter(~same_as_next).drop("__i")
    if tuple(spec.sort) != tuple(spec.key):
        unique = unique.sort(list(spec.sort), nulls_last=True, maintain_order=True)
    return unique.with_columns(year)


def open_store(root: Path | str = "parquet", *, storage_options: Mapping[str, str] | None = None) -> Store:
    """Open the store at ``root`` (a folder or ``s3://bucket/prefix``) for notebooks:
    ``open_store().scan("prices")`` is a LazyFrame."""
    return Store(root, storage_options=storage_options)
