"""One daemon replica on a simulated clock, for the HA tests (``tests/daemon/test_ha.py``).

``python -m tests.daemon.ha_replica CONFIG ROOT WALL0 SIM0 SPEED SIM_END`` runs the real daemon
(``jobs.daemon.main``: its election, schedule and jobs) with a clock that every replica of a test
reads alike: ``SIM0 + (time.time() - WALL0) * SPEED``, held at ``SIM_END``. Closes thus come every
fraction of a second while leadership, heartbeats and failover run on the wall clock. JSON logs go
to stderr; SIGTERM stops it as it stops the daemon.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

from jobs.daemon import main
from metrics.log import configure
from metrics.settings import load_settings


def run(argv: list[str]) -> int:
    config, root, wall0, sim0, speed, sim_end = argv
    start = dt.datetime.fromisoformat(sim0)
    end = dt.datetime.fromisoformat(sim_end)
    w0, rate = float(wall0), float(speed)

    def clock() -> dt.datetime:
        return min(start + dt.timedelta(seconds=(time.time() - w0) * rate), end)

    configure("info", "json")
    settings = load_settings(Path(config), root=Path(root))
    return main(settings, clock=clock)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
