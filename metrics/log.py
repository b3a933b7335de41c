"""structlog set-up: JSON lines to stderr when not on a terminal, readable text on one.

Events have stable namespaced names (``prices.fetched``, ``alert.transition``) with data as
key/values. Library modules only call ``get_logger``; the CLI and the daemon call ``configure`` once.
"""

from __future__ import annotations

import logging
import sys
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
