"""Benchmark: load, validate and compile 100,000 rules (a ~12 MB TOML file) against tomllib alone.

The file: seeded rules of 7 condition shapes over prices and facts series, each over one ticker or
entity, with ``for``, ``keep_firing_for``, channels and a summary. Timed, interleaved, median of
``--repeat`` runs each:

- ``tomllib``: ``tomllib.loads`` of the file's text in this process (the floor: parsing only);
- ``metrics rules check FILE``: the whole command in a child process (start-up, read, parse,
  validate every rule, compile each shape of condition once).

Prints both medians and the ratio (target <= 1.5). Run: ``.venv/bin/python benchmarks/rules.py
[--rules 100000] [--repeat 3] [--against DIR]``.

``--against DIR``: also the command of another copy of the code (e.g. ``git archive 85a9a25 | tar -x
-C DIR``), run by this venv's ``metrics`` with ``PYTHONPATH=DIR`` (checked: it must import DIR's
``metrics``), interleaved with the two above; prints its median, the ratios and whether both
commands print the same output.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

SHAPES = [
    ("prices.close", "value < {x:.2f}"),
    ("prices.close", "change_pct_5 <= -{x:.1f}"),
    ("prices.close", "value < sma_200 * {x:.3f}"),
    ("prices.close", "sma_20 < sma_50 and change_pct_20 < -{x:.1f}"),
    ("prices.close", "stale_bars >= {x:.0f}"),
    ("facts.revenue", "revision_pct > {x:.1f} and period like 'FY%'"),
    ("derived.net_margin", "value < {x:.1f}"),
]


def rules_toml(n: int, seed: int = 1) -> str:
    """``n`` seeded rules as a rules file."""
    rng = random.Random(seed)
    lines: list[str] = []
    for i in range(n):
        series, template = SHAPES[rng.randrange(len(SHAPES))]
        prices = series.startswith("prices")
        entity = f"T{rng.randrange(5000):04d}" if prices else f"Company {rng.randrange(500)}"
        lines += [
            "[[rules]]",
            f'name = "rule-{i:06d}"',
            f'series = "{series}"',
            f'entities = ["{entity}"]',
            f'condition = "{template.format(x=rng.uniform(1, 100))}"',
            f'for = "{rng.choice(["0", "2 bars", "1d"])}"',
            f'keep_firing_for = "{rng.choice(["0", "2d"])}"',
            'severity = "warning"',
            'channels = ["log"]',
            'summary = "{entity} {rule}: {value:.2f}"',
            "",
        ]
    return "\n".join(lines)


def _against_env(against: Path) -> dict[str, str]:
    """The environment that runs the code of ``against``; SystemExit unless it really does."""
    env = {**os.environ, "PYTHONPATH": str(against)}
    probe = subprocess.run(
        [sys.executable, "-c", "import jobs.cli, metrics.alerting.rules as r; print(r.__file__)"],
        env=env, cwd=tempfile.gettempdir(), check=True, capture_output=True, text=True,
    ).stdout.strip()
    if not Path(probe).is_relative_to(against):
        raise SystemExit(f"PYTHONPATH={against} imports {probe}, not the code of {against}")
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", type=Path, help="another copy of the code, timed the same way")
    args = ap.parse_args()
    metrics = Path(sys.executable).with_name("metrics")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    against = _against_env(args.against.resolve()) if args.against else None
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rules.toml"
        path.write_text(rules_toml(args.rules), encoding="utf-8")
        config = Path(d) / "config"
        config.mkdir()
        (config / "settings.toml").write_text('[channels.log]\ntype = "log"\n', encoding="utf-8")
        root = Path(d) / "root"
        cmd = [str(metrics), "--config", str(config), "--root", str(root), "rules", "check", str(path)]
        floor: list[float] = []
        check: list[float] = []
        before: list[float] = []
        same = True
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            tomllib.loads(path.read_text(encoding="utf-8"))
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, cwd=d, check=True, capture_output=True, text=True)
            check.append(time.perf_counter() - t0)
            if against is not None:
                t0 = time.perf_counter()
                old = subprocess.run(cmd, env=against, cwd=d, check=True, capture_output=True, text=True)
                before.append(time.perf_counter() - t0)
                same = same and (old.stdout, old.stderr) == (done.stdout, done.stderr)
        size = path.stat().st_size / 1e6
    load_end = os.getloadavg()
    print(f"{args.rules:,} rules ({size:.1f} MB TOML), median of {args.repeat} interleaved runs, "
          f"load average {load[0]:.2f} at the start, {load_end[0]:.2f} at the end")
    print(f"{'tomllib.loads':28}{statistics.median(floor):>8.2f} s")
    print(f"{'metrics rules check':28}{statistics.median(check):>8.2f} s   ({done.stdout.strip()[-30:]})")
    ratio = statistics.median(check) / statistics.median(floor)
    if against is not None:
        old_median = statistics.median(before)
        print(f"{'  the code of --against':28}{old_median:>8.2f} s   "
              f"(ratio {old_median / statistics.median(floor):.2f} vs tomllib; this code "
              f"{statistics.median(check) / old_median:.2f} of its time; "
              f"same output: {'yes' if same else 'NO'})")
    print(f"ratio: {ratio:.2f}  (target <= 1.5)")
    print(f"target rules loading {args.rules:,}: measured {statistics.median(check):.1f} s "
          f"(ratio {ratio:.2f} vs tomllib; target <= 1.5) {'PASS' if ratio <= 1.5 else 'MISS'}")


if __name__ == "__main__":
    main()
