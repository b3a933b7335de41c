"""The compact job (daily): merge each dataset's small part files, dropping duplicate rows for good.

Compaction publishes the merged files atomically under the store's writer lock, so readers and the
other jobs never see a half-merged dataset; temp files left by a crashed writer are swept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.services import Services


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Compact every dataset of the store."""
    results = services.store.compact(now=now)
    return {
        "datasets": sum(1 for r in results if r.groups),
        "files_before": sum(r.files_before for r in results),
        "files_after": sum(r.files_after for r in results),
        "rows_before": sum(r.rows_before for r in results),
        "rows_after": sum(r.rows_after for r in results),
    }
