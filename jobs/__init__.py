"""The daemon: scheduled jobs over the ``metrics`` library (the application, not the library).

``jobs.daemon.main`` is what ``metrics daemon`` runs. ``jobs.services`` wires the settings to the
library's objects; each job is a thin module with ``run(services, *, now) -> summary``
(``ingest``, ``prices`` (and ``prices.seed``), ``evaluate``, ``deliver``, ``compact``), run and
recorded by ``jobs.runner.execute`` and scheduled by ``jobs.scheduler`` (APScheduler 3.11, the only
module importing it). ``jobs.calendars`` the exchanges' close times, ``jobs.lock`` the one-daemon-
per-store lock, ``jobs.status`` the ``jobs`` section of ``metrics status``.
"""
