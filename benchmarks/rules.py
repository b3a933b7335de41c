"""Benchmark: load, validate and compile 100,000 rules (a ~12 MB TOML file) against tomllib alone.

The file: seeded rules of 7 condition shapes over prices and facts series, each over one ticker or
entity, with ``for``, ``keep_firing_for``, channels and a summary. Timed, interleaved, median of
``--repeat`` runs each:

- ``tomllib``: ``tomllib.loads`` of the file's text in this process (the floor: parsing only);
- ``metrics rules check FILE``: the whole command in a child process (start-up, read, parse,
  validate every rule, compile each shape of condition once).

Prints both medians and the ratio (target <= 1.5). Run: ``.venv/bin/python benchmarks/rules.py
[--rules 100000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    metrics = Path(sys.executable).with_name("metrics")
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
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            tomllib.loads(path.read_text(encoding="utf-8"))
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            check.append(time.perf_counter() - t0)
        size = path.stat().st_size / 1e6
    print(f"{args.rules:,} rules ({size:.1f} MB TOML), median of {args.repeat} runs")
    print(f"{'tomllib.loads':28}{statistics.median(floor):>8.2f} s")
    print(f"{'metrics rules check':28}{statistics.median(check):>8.2f} s   ({done.stdout.strip()[-30:]})")
    ratio = statistics.median(check) / statistics.median(floor)
    print(f"ratio: {ratio:.2f}  (target <= 1.5)")
    print(f"target rules loading {args.rules:,}: measured {statistics.median(check):.1f} s "
          f"(ratio {ratio:.2f} vs tomllib; target <= 1.5) {'PASS' if ratio <= 1.5 else 'MISS'}")


if __name__ == "__main__":
    main()
