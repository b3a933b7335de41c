"""The project's error tree.

Every error carries what an operator needs to act on it: the file and line, the ticker,
the rule and field. Library code raises these (re-raising with ``from``); the CLI maps
them to exit codes (``ConfigError`` and ``UsageError`` -> 2, input failures -> 1).

::

    MetricsError
    ├── ConfigError            bad settings / companies / rules file (exit 2)
    │   └── RuleError          one rule is invalid: names the rule and the field
    ├── UsageError             bad command-line usage (exit 2)
    │   └── QueryError         a SQL statement refused (not read-only) or invalid
    ├── InputError             one input (file, document, ticker) failed; others go on (exit 1)
    │   ├── DocumentError      a document could not be read or split (file, reason)
    │   ├── PriceDataError     a price file or response is malformed (file, line/column)
    │   └── FetchError         a price source failed for a ticker (ticker, reason)
    ├── StoreError             the Delta tables or the state database
    │   ├── LockTimeout        another process holds a lock (names the holder)
    │   ├── Fenced             a replica no longer the leader tried to commit (names both epochs)
    │   └── CommitConflict     a table write lost every retry to concurrent commits (names the table)
    └── DeliveryError          a notification channel failed
        ├── TransientDeliveryError   retry later (5xx, 429, timeouts, connection refused)
        └── PermanentDeliveryError   never retry (4xx but 429, 410 Gone disables the endpoint)
            └── EndpointGoneError    410 Gone: the channel is disabled
"""

from __future__ import annotations

from pathlib import Path


class MetricsError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(MetricsError):
    """A configuration file or setting is invalid; ``source`` names the file, ``key`` the setting."""

    def __init__(self, message: str, *, source: str | Path | None = None, key: str | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        where = ": ".join(p for p in (self.source, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class RuleError(ConfigError):
    """One rule of a rules file is invalid; names the rule and the field."""

    def __init__(self, message: str, *, rule: str, field: str | None = None,
                 source: str | Path | None = None) -> None:
        self.rule = rule
        self.field = field
        key = f"rule {rule!r}" + (f", field {field!r}" if field else "")
        super().__init__(message, source=source, key=key)


class UsageError(MetricsError):
    """The command line was used wrongly."""


class QueryError(UsageError):
    """A SQL statement was refused (it would write, or read files) or is invalid."""


class InputError(MetricsError):
    """One input failed; the others are processed. ``source`` names it, ``line``/``column`` where."""

    def __init__(self, message: str, *, source: str | Path | None = None, line: int | None = None,
                 column: str | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.line = line
        self.column = column
        parts = [self.source or ""]
        if line is not None:
            parts.append(f"line {line}")
        if column is not None:
            parts.append(f"column {column!r}")
        where = ", ".join(p for p in parts if p)
        super().__init__(f"{where}: {message}" if where else message)


class DocumentError(InputError):
    """A document could not be decoded, parsed or split."""


class PriceDataError(InputError):
    """A price file or price response is malformed."""


class FetchError(InputError):
    """A price source failed for one ticker; ``unreachable`` when the source itself could not be
    reached (DNS, refused connection, timeout): the next tickers would likely fail the same way."""

    def __init__(self, message: str, *, ticker: str, unreachable: bool = False) -> None:
        self.ticker = ticker
        self.unreachable = unreachable
        super().__init__(message, source=f"ticker {ticker}")


class StoreError(MetricsError):
    """The store (Parquet datasets or state database) failed."""


class LockTimeout(StoreError):
    """The store's writer lock was not obtained in time; ``holder`` says who has it."""

    def __init__(self, message: str, *, holder: str | None = None) -> None:
        self.holder = holder
        super().__init__(f"{message} (held by {holder})" if holder else message)


class Fenced(StoreError):
    """A write of the leader's was refused: the replica's ``epoch`` is no longer the current one
    (``current``; None when it is no longer the leader at all). Nothing was written."""

    def __init__(self, message: str, *, epoch: int | None, current: int | None) -> None:
        self.epoch = epoch
        self.current = current
        super().__init__(f"{message} (epoch {epoch}, current {current})")


class CommitConflict(StoreError):
    """A write to a table conflicted with concurrent commits on every one of its attempts."""

    def __init__(self, message: str, *, table: str, attempts: int) -> None:
        self.table = table
        self.attempts = attempts
        super().__init__(message)


class DeliveryError(MetricsError):
    """A notification could not be delivered through a channel."""

    def __init__(self, message: str, *, channel: str, retry_after: float | None = None) -> None:
        self.channel = channel
        self.retry_after = retry_after
        super().__init__(f"channel {channel!r}: {message}")


class TransientDeliveryError(DeliveryError):
    """Worth retrying: server errors, 429, timeouts, refused connections."""


class PermanentDeliveryError(DeliveryError):
    """Never worth retrying: the receiver rejected the notification or is gone (410)."""


class EndpointGoneError(PermanentDeliveryError):
    """The receiver answered 410 Gone: the endpoint is disabled until an operator re-enables it."""
