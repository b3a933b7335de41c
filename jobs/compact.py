"""The compact job (daily): OPTIMIZE each Delta table (small files merged), then VACUUM (7-day retention).

Each step is one commit: readers and the other jobs keep reading their snapshot, never a half-merged
table; a concurrent writer's conflicting commit is retried (see ``metrics.store.tables``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.services import Services


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Compact every table of the store."""
    results = services.store.compact(now=now)
    return {
        "datasets": sum(1 for r in results if r.groups),
        "files_before": sum(r.files_before for r in results),
        "files_after": sum(r.files_after for r in results),
        "rows_before": sum(r.rows_before for r in results),
        "rows_after": sum(r.rows_after for r in results),
    }
