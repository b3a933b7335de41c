"""Convert a store of the former layout (hive Parquet parts, dedup at read) into Delta tables.

The former layout, under a local folder::

    <old>/<dataset>/year=YYYY/part-<seq>-<rand>.parquet

Each dataset is read as its queries saw it (one row per natural key: the largest ``version`` column
wins, then the later part by sequence number, then the later row; unreadable parts are skipped and
named), written to a Delta table staged beside the target, then verified: the staged table must
hold the same number of rows and the same checksum (an order-independent sum of row hashes) as the
source. Only a verified table takes its place; on a local root converted in place the old parts
are moved aside to ``<root>/.old-layout/<dataset>`` (nothing is deleted: remove that folder once
satisfied). A dataset that fails verification is left as it was and named in the error.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics.errors import StoreError
from metrics.log import get_logger
from metrics.store.schema import DATASETS
from metrics.store.tables import Store

log = get_logger(__name__)

_PART_RE = re.compile(r"^part-(\d+)-")
OLD_LAYOUT = ".old-layout"


@dataclass(frozen=True, slots=True)
class Migrated:
    """One dataset converted: rows and checksum of the source and of the new table, files read."""

    dataset: str
    parts: int
    skipped: tuple[str, ...]     # unreadable parts (named, not converted)
    rows: int
    checksum: int
    table_rows: int
    table_checksum: int
    moved_to: str | None         # where the old parts went (in-place conversion)


def old_parts(old: Path, dataset: str) -> list[Path]:
    """The former layout's part files of ``dataset`` under ``old``, in write order."""
    folder = old / dataset
    if not folder.is_dir() or (folder / "_delta_log").exists():
        return []
    parts = folder.glob("year=*/part-*.parquet")
    return sorted(parts, key=lambda p: (int(m.group(1)) if (m := _PART_RE.match(p.name)) else 0, p.name))


def read_old(old: Path, dataset: str) -> tuple[pl.DataFrame, list[Path], list[str]]:
    """``dataset`` of the former layout as its queries saw it; the parts read and those skipped."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    spec = DATASETS[dataset]
    frames, read, skipped = [], [], []
    for seq, path in enumerate(old_parts(old, dataset)):
        try:
            names = pq.read_metadata(path).schema.names
            missing = [c for c in spec.schema if c not in names]
            if missing:
                raise ValueError(f"columns missing: {missing}")
            frame = pl.read_parquet(path, columns=list(spec.schema), hive_partitioning=False)
        except (OSError, ValueError) as e:
            skipped.append(f"{path}: {e}")
            log.warning("store.migrate_skipped_part", dataset=dataset, path=str(path), error=str(e))
            continue
        frames.append(frame.cast(spec.schema).with_columns(pl.lit(seq, pl.Int64).alias("__seq")))
        read.append(path)
    if not frames:
        return pl.DataFrame(schema=spec.schema), read, skipped
    rows = (pl.concat(frames).with_row_index("__i")
            .sort([*spec.key, spec.version, "__seq", "__i"], nulls_last=False)
            .unique(subset=list(spec.key), keep="last", maintain_order=True)
            .drop("__seq", "__i"))
    return rows, read, skipped


def checksum(frame: pl.DataFrame, dataset: str) -> int:
    """An order-independent checksum of ``frame``'s rows (the dataset's columns, declared order)."""
    if frame.is_empty():
        return 0
    hashes = frame.select(list(DATASETS[dataset].schema)).hash_rows(seed=0)
    return int((hashes % (1 << 61)).cast(pl.Int64).sum())


def migrate(old: Path, target: Store, *, datasets: list[str] | None = None) -> list[Migrated]:
    """Convert the former layout under ``old`` into Delta tables of ``target`` (see the module doc).

    ``target`` may be the same local folder (converted in place) or another root (S3: ``old`` is
    left untouched). Raises ``StoreError`` naming the first dataset whose verification failed.
    """
    in_place = not target.remote and Path(target.root).resolve() == old.resolve()
    results = []
    for name in datasets or list(DATASETS):
        rows, read, skipped = read_old(old, name)
        if not read and not skipped:
            continue
        expected = checksum(rows, name)
        staged = _stage(target, name, in_place)
        staged.init([name])
        if not rows.is_empty():
            staged.append(name, rows)
        got = staged.scan(name).collect()
        got_sum = checksum(got, name)
        if got.height != rows.height or got_sum != expected:
            raise StoreError(f"migrate {name}: verification failed (source {rows.height} rows, checksum "
                             f"{expected}; new table {got.height} rows, checksum {got_sum}); "
                             "nothing replaced")
        moved = _swap(old, target, name, staged) if in_place else None
        final = Store(target.root, storage_options=target.storage_options).scan(name).collect()
        if final.height != rows.height or checksum(final, name) != expected:
            raise StoreError(f"migrate {name}: the table in place does not match its source")
        result = Migrated(name, len(read), tuple(skipped), rows.height, expected, final.height,
                          checksum(final, name), moved)
        log.info("store.migrated", dataset=name, parts=len(read), skipped=len(skipped), rows=rows.height,
                 checksum=expected, moved_to=moved)
        results.append(result)
    return results


def _stage(target: Store, dataset: str, in_place: bool) -> Store:
    """Where the new table is written before verification."""
    if in_place:
        return Store(Path(target.root) / ".migrate" / uuid.uuid4().hex[:8])
    if target.scan(dataset).head(1).collect().height:
        raise StoreError(f"migrate {dataset}: the table {target.table_uri(dataset)} holds rows already; "
                         "migrate into an empty root")
    return target


def _swap(old: Path, target: Store, dataset: str, staged: Store) -> str:
    """Move the old parts aside and the verified staged table into place (same local folder)."""
    aside = old / OLD_LAYOUT / dataset
    if aside.exists():
        raise StoreError(f"migrate {dataset}: {aside} exists already; move it away first")
    aside.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(target.root) / dataset
    folder.rename(aside)
    Path(staged.table_uri(dataset)).rename(folder)
    shutil.rmtree(Path(staged.root), ignore_errors=True)
    return str(aside)
