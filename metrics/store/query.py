"""Read-only SQL over the store's tables: ``query(store, sql)`` returns a polars DataFrame.

The statement runs in polars SQL over lazy scans of the datasets (``store.scan(name)``, the Store's
public API) and nothing else. Read-only by contract, checked before anything runs:

* one statement, starting with ``SELECT``, ``WITH`` or ``(`` (a trailing ``;`` is allowed);
* no statement keyword that writes or changes tables (``INSERT``, ``UPDATE``, ``DELETE``, ``DROP``,
  ``CREATE``, ``TRUNCATE``, ``ALTER``, ...): polars SQL would run ``DELETE`` on its in-memory copy and
  print the remaining rows as if it had worked;
* no table function that reads files (``read_csv('/etc/shadow')``, ``read_parquet``, ``scan_*``):
  only the store's tables are queryable.

String literals, quoted identifiers and comments are blanked before the check, so a value such as
``where title = 'drop in sales'`` is fine. A refused or invalid statement raises ``QueryError``
(a ``UsageError``: exit 2 at the command line) naming the reason. A lazy query that meets a part file
removed by a concurrent compaction is retried once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from metrics.errors import QueryError
from metrics.store.schema import DATASETS

if TYPE_CHECKING:
    from metrics.store.tables import Store

_WRITES = ("insert", "update", "delete", "drop", "create", "truncate", "alter", "attach", "detach",
           "copy", "grant", "merge", "upsert", "vacuum", "pragma", "set", "install", "load", "export",
           "import")
_WRITE_RE = re.compile(r"\b(" + "|".join(_WRITES) + r")\b", re.IGNORECASE)
_FILE_FUNCTION_RE = re.compile(r"\b((?:read|scan)_\w+)\s*\(", re.IGNORECASE)
_LEXEMES = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`[^`]*`?|--[^\n]*|/\*.*?(?:\*/|$)""", re.DOTALL)


def tables() -> tuple[str, ...]:
    """The names ``query`` knows: the store's datasets."""
    return tuple(DATASETS)


def _blank(sql: str) -> str:
    """``sql`` with literals, quoted identifiers and comments replaced by a placeholder token."""
    return _LEXEMES.sub(" x ", sql)


def check_read_only(sql: str) -> None:
    """Raise ``QueryError`` unless ``sql`` is one statement that only reads the store's tables."""
    code = _blank(sql).strip()
    if not code:
        raise QueryError("empty statement")
    body = code[:-1].rstrip() if code.endswith(";") else code
    if ";" in body:
        raise QueryError("one statement at a time (found ';' inside)")
    if (match := _FILE_FUNCTION_RE.search(body)) is not None:
        raise QueryError(f"{match.group(1)}() reads files: only the store's tables "
                         f"({', '.join(tables())}) are queryable")
    if (match := _WRITE_RE.search(body)) is not None:
        raise QueryError(f"{match.group(1).upper()} is refused: query is read-only (SELECT or WITH only)")
    first = body.split(None, 1)[0].lower() if body.split() else ""
    if not (first in ("select", "with") or first.startswith("(")):
        raise QueryError(f"SQL error: expected SELECT or WITH, found {first!r} (query is read-only)")


def query(store: Store, sql: str) -> pl.DataFrame:
    """Run the read-only ``sql`` over the store's tables and return the result.

    Raises ``QueryError`` for a refused statement (see the module docstring) or an invalid one (a
    syntax error, an unknown table or column).
    """
    check_read_only(sql)
    # only the tables the statement names are opened: each at one snapshot (a pinned store may have
    # no such version of a table the statement does not read)
    named = [n for n in DATASETS if re.search(rf"\b{n}\b", sql, re.IGNORECASE)]
    ctx = pl.SQLContext({name: store.scan(name) for name in named}, eager=False)
    try:
        result = ctx.execute(sql)
        return result.collect() if isinstance(result, pl.LazyFrame) else result
    except (pl.exceptions.PolarsError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise QueryError(f"SQL error: {first}") from e
