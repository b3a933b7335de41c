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

With ``--baseline DIR`` (a copy of an older commit, e.g. ``git archive 85a9a25 | tar -x -C DIR``)
each daemon run is paired with one of the code in DIR, run with the same venv and
``PYTHONPATH=DIR`` (checked to import it from there; its bytecode compiled first), the two in
alternating order, and the median of the pairs' ratios is printed: a comparison that holds on a
loaded machine, where the absolute times do not.

Run: ``.venv/bin/python benchmarks/startup.py [--repeat N] [--daemon-runs N] [--baseline DIR]``.
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


def project_copy(where: Path, source: Path = PROJECT) -> Path:
    """A fresh copy of ``source``'s shipped config and examples under ``where`` (the store under it)."""
    where.mkdir(parents=True)
    shutil.copytree(source / "config", where / "config")
    shutil.copytree(source / "examples", where / "examples")
    return where


def baseline_env(base: Path) -> dict[str, str]:
    """The environment that runs the code in ``base`` (a copy of an older commit: ``git archive``)
    with this venv: ``PYTHONPATH=base``, checked to import ``metrics`` and ``jobs`` from there; its
    bytecode compiled first, as ``make venv`` compiles the project's."""
    env = {**os.environ, "PYTHONPATH": str(base)}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "metrics", "jobs"], cwd=base, check=True)
    code = "import jobs.cli, metrics; print(jobs.cli.__file__); print(metrics.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tempfile.gettempdir(), env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    if not out or not all(Path(f).resolve().is_relative_to(base) for f in out):
        raise SystemExit(f"--baseline {base}: the code imported is not the baseline's ({out})")
    return env


PHASES = ("daemon start", "seed", "ingest", "evaluate", "deliver")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used so far (Linux ``/proc``; None elsewhere): a
    figure the other processes of a loaded machine inflate less than the wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_alert(where: Path, timeout: float = 600.0,
                env: dict[str, str] | None = None) -> tuple[float, dict[str, float]]:
    """Seconds from the daemon's start (as ``make run`` starts it) to its first ``notify.log`` line
    (then it is stopped), and where they went: the daemon's start (interpreter, imports, settings,
    lock, registry, rules, tables and state database created; up to its ``daemon.started`` line),
    each start-up job's ``duration_s`` (from the daemon's own log) and the daemon's CPU time by then
    (``cpu``)."""
    env = {**(env or os.environ), "METRICS_LOG_FORMAT": "json", "NO_COLOR": "1"}
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


def print_runs(label: str, runs: list[float], phases: dict[str, list[float]], note: str) -> None:
    """The median time to the first alert of ``runs``, each phase's median and the daemon's CPU time."""
    print(f"{label:28}{statistics.median(runs):>8.2f}s  (runs: {', '.join(f'{t:.1f}' for t in runs)}{note})")
    for name in PHASES:
        print(f"{'  ' + name:28}{statistics.median(phases[name]):>8.2f}s")
    if any(phases["cpu"]):
        print(f"{'  daemon CPU time':28}{statistics.median(phases['cpu']):>8.2f}s  (user + system, to the "
              "first alert)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--daemon-runs", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="also time daemons whose calendars are cached")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="also time the daemon of the code in DIR (`git archive <commit> | tar -x -C DIR`), "
                         "run with this venv and PYTHONPATH=DIR, each run paired with one of this code")
    args = ap.parse_args()
    base_env = baseline_env(args.baseline.resolve()) if args.baseline else None
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
    base: list[float] = []
    base_phases: dict[str, list[float]] = {name: [] for name in (*PHASES, "cpu")}
    for k in range(args.daemon_runs):
        # with a baseline, each run is a pair, in alternating order (ABBA...): the same load on both
        runs = ["now"] if base_env is None else ["now", "base"][:: 1 if k % 2 == 0 else -1]
        for which in runs:
            if which == "now":
                total, parts = first_alert(project_copy(tmp / f"cold{k}"))
                daemon.append(total)
                into = phases
            else:
                assert args.baseline is not None
                total, parts = first_alert(project_copy(tmp / f"base{k}", args.baseline), env=base_env)
                base.append(total)
                into = base_phases
            for name, values in into.items():
                values.append(parts.get(name, 0.0))
    warm: list[float] = []
    if args.warm and args.daemon_runs:
        for k in range(args.daemon_runs):
            where = project_copy(tmp / f"warm{k}")
            if (tmp / "cold0" / "parquet" / "cache").exists():
                shutil.copytree(tmp / "cold0" / "parquet" / "cache", where / "parquet" / "cache")
            warm.append(first_alert(where)[0])
    if daemon:
        print_runs("daemon to first alert", daemon, phases, "")
    if base:
        print_runs("baseline to first alert", base, base_phases, f"; {args.baseline}")
        pairs = [a / b for a, b in zip(daemon, base, strict=True)]
        print(f"{'paired ratio now/baseline':28}{statistics.median(pairs):>8.2f}   (median of the "
              f"{len(pairs)} pairs: {', '.join(f'{r:.2f}' for r in pairs)})")
        if any(phases["cpu"]) and any(base_phases["cpu"]):
            cpu = [a / b for a, b in zip(phases["cpu"], base_phases["cpu"], strict=True) if b]
            print(f"{'  CPU time now/baseline':28}{statistics.median(cpu):>8.2f}")
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
