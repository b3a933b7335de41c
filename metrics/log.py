"""structlog set-up: JSON lines to stderr when not on a terminal, readable text on one.

Events have stable namespaced names (``prices.fetched``, ``alert.transition``) with data as
key/values. Library modules only call ``get_logger``; the CLI and the daemon call ``configure`` once.

Third-party libraries that use the standard ``logging`` module (yfinance, APScheduler, httpx) are
routed into the same structured stream: each record becomes one ``third_party.log`` event naming its
logger, so nothing reaches stderr as plain text.
"""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager
from typing import Any, Literal

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    """A logger writing to the *current* ``sys.stderr`` (test runners swap it between commands)."""
    return structlog.PrintLogger(sys.stderr)


def configure(level: str = "info", fmt: Literal["auto", "json", "console"] = "auto") -> None:
    """Send structured events to stderr, as JSON unless stderr is a terminal (or ``fmt`` says)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (structlog.processors.JSONRenderer(ensure_ascii=False) if use_json
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    _route_stdlib_logging(_LEVELS.get(level, logging.INFO))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


class _ToStructlog(logging.Handler):
    """Forwards standard-library log records to structlog as ``third_party.log`` events."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party log call must not break ours
            message = str(record.msg)
        method = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}.get(
            record.levelno, "error")
        getattr(structlog.get_logger().bind(logger=record.name), method)(
            "third_party.log", message=message.strip()[:2000])


def _route_stdlib_logging(level: int) -> None:
    """One ``_ToStructlog`` handler on the root logger (replacing an earlier one): warnings and
    worse, everything at ``debug`` (third-party info lines, one per HTTP request, are noise)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ToStructlog)]:
        root.removeHandler(handler)
    threshold = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    root.addHandler(_ToStructlog(level=threshold))
    if threshold == logging.DEBUG:
        root.setLevel(logging.DEBUG)


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A structlog logger; ``name`` becomes the ``logger`` key.

    Lazy: it resolves the configuration at each call, so a module-level logger created before
    ``configure`` (at import) still logs where and how ``configure`` says (stderr), never stdout.
    """
    return _LazyLogger({"logger": name, **initial} if name else dict(initial))


class _LazyLogger:
    """Binds its context to the configured logger at each call (``bind`` returns another lazy one)."""

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context

    def bind(self, **values: Any) -> _LazyLogger:
        return _LazyLogger({**self._context, **values})

    def __getattr__(self, method: str) -> Any:
        return getattr(structlog.get_logger().bind(**self._context), method)


def log_context(**values: Any) -> AbstractContextManager[None]:
    """Within it, every event logged from this thread carries ``values`` (the daemon binds the
    leader's ``epoch`` around each job run, so its ``tick.done`` lines say which leader committed)."""
    return structlog.contextvars.bound_contextvars(**values)
