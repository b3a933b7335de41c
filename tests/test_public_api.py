"""The library's public API is explicit: a sorted ``__all__`` of names that really exist."""

from __future__ import annotations

import importlib
import subprocess
import sys

import metrics


def test_all_is_sorted_and_complete() -> None:
    """``metrics.__all__`` is sorted, unique, and every name resolves to an object of the package."""
    names = metrics.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        obj = getattr(metrics, name)
        assert obj.__module__.startswith("metrics."), name


def test_exported_members_match_public_namespace() -> None:
    """Every public name bound in ``metrics`` (not a submodule) is listed in ``__all__``, once each
    lazily resolved name has been looked up, and ``dir(metrics)`` offers them all."""
    for name in metrics.__all__:
        getattr(metrics, name)
    assert set(metrics.__all__) <= set(dir(metrics))
    public = {n for n, v in vars(metrics).items()
              if not n.startswith("_") and not isinstance(v, type(importlib))}
    assert public == set(metrics.__all__)


def test_library_import_does_not_pull_the_scheduler() -> None:
    """Importing the library never imports APScheduler (jobs/ is the application)."""
    code = "import sys, metrics; print('apscheduler' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_library_import_loads_no_part() -> None:
    """``import metrics`` resolves its public names on first use: none of the parts (nor polars,
    SQLAlchemy or deltalake) is imported until a name is looked up; then only that name's module."""
    code = ("import sys, metrics; before = sorted(m for m in sys.modules if m.startswith('metrics.') "
            "or m.split('.')[0] in ('polars', 'sqlalchemy', 'deltalake')); metrics.ConfigError; "
            "metrics.query; print(before, 'sqlalchemy' in sys.modules, "
            "'metrics.store.tables' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["[]", "False", "True"]
    missing = subprocess.run([sys.executable, "-c", "import metrics; metrics.no_such_name"],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "has no attribute 'no_such_name'" in missing.stderr


def test_the_sql_runner_and_price_universe_are_library_functions() -> None:
    """``metrics.query`` is the read-only SQL runner the CLI uses; it lives in the library, not in jobs/."""
    from metrics.store import query as query_module

    assert metrics.query is query_module.query
    assert "query" in metrics.__all__ and "QueryError" in metrics.__all__
