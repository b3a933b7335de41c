"""The ingest job: read the inbox folder (``settings.inbox``) and store the facts it holds.

Documents already ingested are skipped by content hash (the library's document registry), so a
run over an unchanged inbox stores nothing. A document that fails is named in ``failures`` and
recorded as failed in the registry; the others are stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs.services import Services
from metrics.extraction.ingest import ingest_paths


def run(services: Services, *, now: dt.datetime) -> dict[str, Any]:
    """Ingest every document of the inbox not ingested before."""

    inbox = services.settings.inbox
    summary: dict[str, Any] = {"inbox": str(inbox), "documents": 0, "skipped": 0, "facts": 0,
                               "failed": 0, "failures": []}
    if not inbox.exists():
        summary["missing_inbox"] = True
        return summary
    report = ingest_paths([inbox], services.store, services.registry, now=now, dry_run=False)
    summary["documents"] = report.documents
    summary["skipped"] = report.skipped
    summary["facts"] = report.facts
    summary["failures"] = [str(e) for e in report.errors]
    summary["failed"] = len(summary["failures"])
    return summary
