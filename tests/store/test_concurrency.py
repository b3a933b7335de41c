"""Many writers and readers at once, on a local root and on S3: no row lost or doubled, snapshots whole."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from metrics.store.tables import Store
from tests.store.conftest import NOW, bars, days

PROJECT = Path(__file__).resolve().parents[2]
WRITERS = 8
OWN_DAYS = 40
SHARED_DAYS = 15

WRITER = textwrap.dedent("""
    import datetime as dt, json, sys
    from metrics.store.tables import Store
    from tests.store.conftest import NOW, bars, days
    root, options, worker = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    store = Store(root, storage_options=options)
    d0 = dt.date(2025, 1, 1)
    own = bars(f"W{worker}", days(d0, OWN), float(worker))
    shared = bars("SHARED", days(d0, SHARED), float(worker), fetched_at=NOW + dt.timedelta(hours=worker))
    common = bars("COMMON", days(d0, 10), 1.0)
    results = [store.append("prices", own, now=NOW), store.append("prices", shared, now=NOW),
               store.append("prices", own, now=NOW), store.append("prices", common, now=NOW)]
    print(json.dumps([[r.inserted, r.updated, r.unchanged, r.attempts] for r in results]))
""").replace("OWN", str(OWN_DAYS)).replace("SHARED)", f"{SHARED_DAYS})")


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})


@pytest.mark.slow
def test_eight_processes_appending_and_merging_lose_and_double_nothing(tables: Store) -> None:
    """8 processes append their own bars, MERGE the same shared keys and import the same bars at once:
    every row once, the largest fetched_at winning, each process's re-import unchanged."""
    options = json.dumps(tables.storage_options)
    procs = [_spawn(WRITER, str(tables.root), options, str(i)) for i in range(WRITERS)]
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    got = tables.scan("prices").collect()
    assert got.height == WRITERS * OWN_DAYS + SHARED_DAYS + 10
    assert got.group_by("ticker", "date").len().get_column("len").max() == 1
    shared = got.filter(pl.col("ticker") == "SHARED")
    assert set(shared.get_column("close")) == {float(WRITERS - 1)}
    for worker in range(WRITERS):
        own = got.filter(pl.col("ticker") == f"W{worker}").get_column("close").to_list()
        assert own == [float(worker)] * OWN_DAYS
    assert all(out[0][0] == OWN_DAYS and out[2][2] == OWN_DAYS for out in outputs)
    assert sum(out[3][0] for out in outputs) == 10       # the common bars inserted once in all


READS = {False: 1_000, True: 500}      # local, S3 (each read lists the log and the files on the server)
MIN_BATCHES = 10

READER_WRITER = textwrap.dedent("""
    import datetime as dt, json, sys
    from pathlib import Path
    from metrics.store.tables import Store
    from tests.store.conftest import NOW, bars, days
    root, options, stop, least = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    store = Store(root, storage_options=options)
    batch = 0
    while batch < least or not stop.exists():
        store.append("prices", bars(f"B{batch:04d}", days(dt.date(2024, 12, 27), 10)), now=NOW)
        batch += 1
        if batch % 5 == 0:
            store.compact(now=NOW, datasets=["prices"])
        print(batch, flush=True)
""")


@pytest.mark.slow
def test_readers_racing_appends_and_compaction_see_whole_snapshots(tables: Store, tmp_path: Path) -> None:
    """1,000 reads (500 on S3) while another process appends 10-row batches (over two year partitions) and
    compacts (OPTIMIZE, VACUUM) after every fifth: every count a multiple of 10, never fewer than the
    read before, the last read of a store opened afresh every tenth time; the writer still running
    when the last read is done; at the end every batch is there."""
    tables.append("prices", bars("SEED", days(dt.date(2024, 12, 27), 10)), now=NOW)
    stop = tmp_path / "stop"
    proc = _spawn(READER_WRITER, str(tables.root), json.dumps(tables.storage_options), str(stop),
                  str(MIN_BATCHES))
    reader = Store(tables.root, storage_options=tables.storage_options)
    counts: list[int] = []
    try:
        while len(counts) < READS[tables.remote] and proc.poll() is None:
            store = reader if len(counts) % 10 else Store(tables.root, storage_options=tables.storage_options)
            counts.append(store.scan("prices").select(pl.len()).collect().item())
        racing = proc.poll() is None
    finally:
        stop.touch()
        stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr[-3000:]
    assert racing, f"the writer stopped after {len(counts)} reads"
    batches = int(stdout.split()[-1])
    wrong = [c for c in counts if c % 10]
    assert len(counts) == READS[tables.remote]
    assert wrong == [], f"{len(wrong)} of {len(counts)} reads saw a partial snapshot"
    assert counts == sorted(counts), "a read saw fewer rows than the read before it"
    assert reader.scan("prices").select(pl.len()).collect().item() == 10 * (batches + 1)
    assert len(set(counts)) > 5        # the reads did overlap many commits, compactions among them
    assert batches >= 5
