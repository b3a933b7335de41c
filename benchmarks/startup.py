"""Benchmark: start-up of the command line and of the daemon, each in fresh processes.

1. ``metrics --help`` and ``metrics query "select 1"`` against the bare import of the libraries
   they need (polars, typer, rich, structlog, pydantic-settings) in a fresh interpreter, the three
   interleaved, medians of ``--repeat`` (target: each <= 1.2x the bare import).
2. ``make run`` to the first alert: ``metrics daemon`` (it creates the tables and the state
   database itself) in a fresh copy of ``config/`` and ``examples/`` (empty store, offline: the first
   start fetches nothing), timed from its start to the first ``notify.log`` line on stderr, then
   stopped with SIGTERM
   (target <= 3 s). ``--daemon-runs`` runs; the first builds the exchange calendars of the store
   (``<root>/cache/calendars``), so each run gets a fresh copy (calendars built every time: the
   first start of a fresh clone; XNYS and XKRX ship prebuilt, see ``metrics.store.calendars``) and,
   with ``--warm``, a copy with the calendars already cached. The medians of where the time went
   follow: the daemon's start (tables and state database created) up to its ``daemon.started`` line, and
   each start-up job's ``duration_s`` (the rest: the lines in between, the process start), then the
   daemon's CPU time to the first alert (on a loaded machine, less inflated than the wall time).

Run: ``.venv/bin/python benchmarks/startup.py [--repeat N] [--daemon-runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BARE = "import polars, typer, rich, structlog, pydantic_settings"
CLI_TARGET, DAEMON_TARGET_S = 1.2, 3.0


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def project_copy(where: Path) -> Path:
    """A fresh copy of the shipped config and examples under ``where`` (the store under it)."""
    where.mkdir(parents=True)
    shutil.copytree(PROJECT / "config", where / "config")
    shutil.copytree(PROJECT / "examples", where / "examples")
    return where


PHASES = ("daemon start", "seed", "ingest", "evaluate", "deliver")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used so far (Linux ``/proc``; None elsewhere): a
    figure the other processes of a loaded machine inflate less than the wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_alert(where: Path, timeout: float = 600.0) -> tuple[float, dict[str, float]]:
    """Seconds from the daemon's start (as ``make run`` starts it) to its first ``notify.log`` line
    (then it is stopped), and where they went: the daemon's start (interpreter, imports, settings,
    lock, registry, rules, tables and state database created; up to its ``daemon.started`` line),
    each start-up job's ``duration_s`` (from the daemon's own log) and the daemon's CPU time by then
    (``cpu``)."""
    env = {**os.environ, "METRICS_LOG_FORMAT": "json", "NO_COLOR": "1"}
    metrics = str(BIN / "metrics")
    t0 = t1 = time.perf_counter()
    phases: dict[str, float] = {}
    proc = subprocess.Popen([metrics, "--root", "parquet", "--config", "config", "daemon"], cwd=where,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "notify.log" in line:
                elapsed = time.perf_counter() - t0
                if (cpu := cpu_seconds(proc.pid)) is not None:
                    phases["cpu"] = cpu
                return elapsed, phases
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "daemon.started":
                phases["daemon start"] = time.perf_counter() - t1
            elif event.get("event") == "job.finished" and event.get("job") in PHASES:
                phases[event["job"]] = float(event.get("duration_s", 0.0))
            if time.perf_counter() - t0 > timeout:
                break
        raise RuntimeError("the daemon logged no notify.log line")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--daemon-runs", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="also time daemons whose calendars are cached")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="metrics-bench-startup-"))
    root = tmp / "root"
    subprocess.run([str(BIN / "metrics"), "--root", str(root), "store", "init"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cases = {
        "bare import": [sys.executable, "-c", BARE],
        "metrics --help": [str(BIN / "metrics"), "--help"],
        'metrics query "select 1"': [str(BIN / "metrics"), "--root", str(root), "query", "select 1"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for cmd in cases.values():   # warm the file cache
        timed(cmd, tmp)
    for i in range(args.repeat):
        names = list(cases)
        for name in names[i % 3:] + names[: i % 3]:
            times[name].append(timed(cases[name], tmp))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"{'median of ' + str(args.repeat):28}{'time':>9}{'ratio':>8}")
    for name in cases:
        print(f"{name:28}{med[name]:>8.2f}s{med[name] / med['bare import']:>8.2f}")
    daemon: list[float] = []
    phases: dict[str, list[float]] = {name: [] for name in (*PHASES, "cpu")}
    for k in range(args.daemon_runs):
        total, parts = first_alert(project_copy(tmp / f"cold{k}"))
        daemon.append(total)
        for name, values in phases.items():
            values.append(parts.get(name, 0.0))
    warm: list[float] = []
    if args.warm and args.daemon_runs:
        for k in range(args.daemon_runs):
            where = project_copy(tmp / f"warm{k}")
            if (tmp / "cold0" / "parquet" / "cache").exists():
                shutil.copytree(tmp / "cold0" / "parquet" / "cache", where / "parquet" / "cache")
            warm.append(first_alert(where)[0])
    if daemon:
        print(f"{'daemon to first alert':28}{statistics.median(daemon):>8.2f}s  (runs: "
              f"{', '.join(f'{t:.1f}' for t in daemon)})")
        for name in PHASES:
            print(f"{'  ' + name:28}{statistics.median(phases[name]):>8.2f}s")
        if any(phases["cpu"]):
            print(f"{'  daemon CPU time':28}{statistics.median(phases['cpu']):>8.2f}s  (user + system, to "
                  "the first alert)")
    if warm:
        print(f"{'  calendars cached':28}{statistics.median(warm):>8.2f}s  (runs: "
              f"{', '.join(f'{t:.1f}' for t in warm)})")
    for name in list(cases)[1:]:
        ratio = med[name] / med["bare import"]
        verdict = "PASS" if ratio <= CLI_TARGET else "MISS"
        print(f"target start-up {name}: measured {med[name]:.2f} s (ratio {ratio:.2f} vs bare import of "
              f"{med['bare import']:.2f} s; target <= {CLI_TARGET}) {verdict}")
    if daemon:
        d = statistics.median(daemon)
        print(f"target make run to first alert: measured {d:.1f} s (target <= {DAEMON_TARGET_S:.0f} s) "
              f"{'PASS' if d <= DAEMON_TARGET_S else 'MISS'}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
