"""Benchmark: the CLI's writers (``jobs.cli.output``) against polars' own writers, same frames, same run.

Frames: a backtest's state changes (rule, entity, state, at, value; 585 k rows like the 100-rule
backtest of ``daily_1999_2026.parquet``) as JSON lines, and the 1.72 M bars of
``../shared/data/prices/daily_1999_2026.parquet`` as CSV (``metrics query "select * from prices"
--format csv``) and as JSON lines. Each writer writes into a file in a temp folder; medians of
``--repeat`` interleaved runs, ratio = ours / polars' (target <= 1.5). The former row-by-row writer
is timed once on a slice for reference.

Run: ``.venv/bin/python benchmarks/output.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from jobs.cli.output import jsonable, write_csv, write_jsonl

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices" / "daily_1999_2026.parquet"
TARGET = 1.5


def state_changes(n: int = 585_000, seed: int = 5) -> pl.DataFrame:
    """Seeded rows shaped like a backtest's output."""
    rng = np.random.default_rng(seed)
    days = np.datetime64("2000-01-03") + rng.integers(0, 9600, n).astype("timedelta64[D]")
    return pl.DataFrame({
        "rule": [f"rule-{i:03d}" for i in rng.integers(0, 100, n)],
        "entity": [f"T{i:03d}.KS" if i % 7 == 0 else f"T{i:03d}" for i in rng.integers(0, 362, n)],
        "state": pl.Series(rng.choice(["pending", "firing", "resolved"], n)),
        "at": pl.Series(np.sort(days)).cast(pl.Date),
        "value": rng.lognormal(4, 1.5, n),
    })


def row_by_row_jsonl(df: pl.DataFrame, path: Path) -> None:
    with path.open("w") as f:
        for row in df.iter_rows(named=True):
            f.write(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


def row_by_row_csv(df: pl.DataFrame, path: Path) -> None:
    with path.open("w") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(df.columns)
        for values in df.iter_rows():
            w.writerow(["" if v is None else jsonable(v) for v in values])


def ours(writer: Callable[[pl.DataFrame, Any], None]) -> Callable[[pl.DataFrame, Path], None]:
    def run(df: pl.DataFrame, path: Path) -> None:
        with path.open("w") as f:
            writer(df, f)
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="metrics-bench-output-"))
    bars = pl.read_parquet(REAL)
    cases: list[tuple[str, pl.DataFrame, Callable[[pl.DataFrame, Path], None],
                      Callable[[pl.DataFrame, Path], None], Callable[[pl.DataFrame, Path], None]]] = [
        ("backtest jsonl (585 k changes)", state_changes(), ours(write_jsonl),
         lambda df, p: df.write_ndjson(p), row_by_row_jsonl),
        (f"query csv ({bars.height / 1e6:.2f} M bars)", bars, ours(write_csv),
         lambda df, p: df.write_csv(p), row_by_row_csv),
        (f"facts/ingest jsonl ({bars.height / 1e6:.2f} M bars)", bars, ours(write_jsonl),
         lambda df, p: df.write_ndjson(p), row_by_row_jsonl),
    ]
    print(f"{'median of ' + str(args.repeat):36}{'metrics':>10}{'polars':>10}{'ratio':>8}{'row by row':>12}")
    summary = []
    for label, df, mine, theirs, former in cases:
        times: dict[str, list[float]] = {"ours": [], "polars": []}
        for i in range(args.repeat):
            order = [("ours", mine), ("polars", theirs)]
            for name, fn in order if i % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                fn(df, tmp / f"{name}.out")
                times[name].append(time.perf_counter() - t0)
        part = df.head(50_000)
        t0 = time.perf_counter()
        former(part, tmp / "former.out")
        former_s = (time.perf_counter() - t0) * df.height / part.height
        a, b = statistics.median(times["ours"]), statistics.median(times["polars"])
        print(f"{label:36}{a:>9.2f}s{b:>9.2f}s{a / b:>8.2f}{former_s:>11.1f}s")
        summary.append((label, a, a / b))
    shutil.rmtree(tmp, ignore_errors=True)
    for label, a, ratio in summary:
        print(f"target output {label}: measured {a:.2f} s (ratio {ratio:.2f} vs polars' writer; target <= "
              f"{TARGET}) {'PASS' if ratio <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
