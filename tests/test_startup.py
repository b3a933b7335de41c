"""Start-up stays light: importing the CLI loads none of the heavy third-party libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "yfinance",
    "apscheduler",
    "exchange_calendars",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "deltalake",
    "prometheus_client",
)


def test_cli_import_loads_no_heavy_library() -> None:
    """`import jobs.cli` (what `metrics --help` runs) imports none of the heavy libraries."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import jobs.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert sorted(imported & set(HEAVY)) == []
