"""The company registry: canonical names, tickers, exchanges, fiscal years and aliases.

``Registry.load(path)`` reads ``config/companies.toml``::

    [[company]]
    name = "Microsoft"          # canonical English name (as the gold files use it)
    ticker = "MSFT"             # Yahoo symbol; omit for private companies
    exchange = "XNAS"           # ISO MIC; omit if private
    currency = "USD"            # reporting currency (ISO 4217)
    fiscal_year_end = 6         # month the fiscal year ends (default 12)
    aliases = ["微软", "微軟", "Microsoft Corp"]
    ambiguous = ["苹果"]         # optional: aliases that are also common words (see below)
    case_sensitive = ["Snap"]   # optional: Latin aliases matched only as capitalized here or ALL CAPS
    listed = true               # optional, default: whether a ticker is given

and validates it: an unknown key, a missing or mistyped field, a bad month, a name, ticker or alias
used by two companies raise ``ConfigError`` naming the file and the entry.

``registry.find(text)`` finds company mentions in *normalized* text (``metrics.extraction.normalize``) with
one Aho-Corasick automaton (``wordindex.py``) over every alias in its normalized (simplified,
half-width) form, plus the alias as written, so raw text works too. Latin letters match
case-insensitively, and an alias that begins or ends with a Latin letter or digit only matches on a
word boundary ("Meta" is not found in "metadata", "AMD" not in "AMDX"). Overlapping candidates
resolve to the longest, left to right.

Ambiguous aliases (a company name that is also a common word or part of one: 苹果 the fruit, 小米
the grain, 浪潮 a wave, 高通 in 高通量) are still returned, flagged ``Mention.ambiguous = True``, so the
extractor decides from context (e.g. a financial cue nearby). Latin names that are English words
("Snap", "Meta", "Oracle", "Tesla") are listed under ``case_sensitive`` instead: they match only
with the registry's capitals or in ALL CAPS ("Snap", "SNAP", never "snap"), and are not flagged.

The canonical name is always an alias too.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from metrics.errors import ConfigError
from metrics.extraction.normalize import ascii_lower, normalize
from metrics.extraction.wordindex import WordIndex
from metrics.store.calendars import calendar_mic

_KEYS = frozenset({"name", "ticker", "exchange", "currency", "fiscal_year_end", "aliases", "ambiguous",
                   "case_sensitive", "listed"})
_MIC = re.compile(r"^[A-Z0-9]{4}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_START = itemgetter(0)  # sort keys of (start, end, value) occurrences
_END = itemgetter(1)


@dataclass(frozen=True, slots=True)
class Company:
    """One company of the registry."""

    name: str
    ticker: str | None
    exchange: str | None
    currency: str
    fiscal_year_end: int
    aliases: tuple[str, ...]
    listed: bool
    ambiguous: tuple[str, ...] = ()
    case_sensitive: tuple[str, ...] = ()

    @property
    def calendar(self) -> str | None:
        """The exchange-calendars name of the company's trading calendar (None if private)."""
        return calendar_mic(self.exchange) if self.exchange is not None else None


class Mention(NamedTuple):
    """A company named in a text: ``text[start:end]`` is ``alias`` (as normalized); a named tuple (built
    several times faster than a frozen dataclass: one per alias found)."""

    start: int
    end: int
    company: Company
    alias: str
    ambiguous: bool = False


def _key(alias: str) -> str:
    return ascii_lower(normalize(alias.strip()))


def _is_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass(slots=True)
class _Entry:
    company: Company
    alias: str
    ambiguous: bool
    check_start: bool
    check_end: bool
    exact_case: tuple[str, ...] = field(default_factory=tuple)


class Registry:
    """Companies and their aliases; see the module docstring."""

    def __init__(self, companies: Iterable[Company], *, source: str | Path | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.companies: tuple[Company, ...] = tuple(companies)
        self._by_name: dict[str, Company] = {}
        self._by_ticker: dict[str, Company] = {}
        self._by_key: dict[str, tuple[Company, str]] = {}
        entries: dict[str, _Entry] = {}
        for i, c in enumerate(self.companies):
            where = f"company #{i + 1} {c.name!r}"
            folded = c.name.casefold()
            if folded in self._by_name:
                raise ConfigError(f"duplicate company name (also {self._by_name[folded].name!r})",
                                  source=self.source, key=where)
            self._by_name[folded] = c
            if c.ticker is not None:
                t = c.ticker.upper()
                if t in self._by_ticker:
                    raise ConfigError(f"ticker {c.ticker!r} also used by {self._by_ticker[t].name!r}",
                                      source=self.source, key=where)
                self._by_ticker[t] = c
            ambiguous = {_key(a) for a in c.ambiguous}
            exact_forms: dict[str, set[str]] = {}
            for a in c.case_sensitive:
                exact_forms.setdefault(_key(a), set()).update((a.strip(), a.strip().upper()))
            for alias in (c.name, *c.aliases, *c.ambiguous, *c.case_sensitive):
                key = _key(alias)  # normalized once: each alias is indexed under two forms
                amb = key in ambiguous
                exact = tuple(sorted(exact_forms.get(key, ())))
                for form in {key, ascii_lower(alias.strip())}:
                    if len(form) < 2:
                        raise ConfigError(f"alias {alias!r} is too short to match safely",
                                          source=self.source, key=where)
                    owner = self._by_key.get(form)
                    if owner is not None and owner[0] is not c:
                        raise ConfigError(f"alias {alias!r} also belongs to {owner[0].name!r}",
                                          source=self.source, key=where)
                    if owner is None:
                        self._by_key[form] = (c, alias)
                    if form not in entries:
                        entries[form] = _Entry(c, alias, amb, _is_word_char(form[0]),
                                               _is_word_char(form[-1]), exact)
        self._index = WordIndex(entries)
        self._empty = not entries

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: Path | str) -> Registry:
        """Read and validate a companies file; ``ConfigError`` names the file and the entry."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError("companies file not found", source=path) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read companies file: {e}", source=path) from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"invalid TOML: {e}", source=path) from e
        extra = set(raw) - {"company"}
        if extra:
            raise ConfigError(f"unknown top-level keys {sorted(extra)} (expected [[company]] tables)",
                              source=path)
        entries = raw.get("company", [])
        if not isinstance(entries, list):
            raise ConfigError("'company' must be an array of tables ([[company]])", source=path)
        return cls((_company(e, i, path) for i, e in enumerate(entries)), source=path)

    # ------------------------------------------------------------------ queries
    def get(self, name_or_ticker: str) -> Company | None:
        """The company with this canonical name, ticker or alias (case-insensitive), or None."""
        s = name_or_ticker.strip()
        hit = self._by_name.get(s.casefold()) or self._by_ticker.get(s.upper())
        if hit is not None:
            return hit
        owner = self._by_key.get(_key(s)) or self._by_key.get(ascii_lower(s))
        return owner[0] if owner else None

    def listed(self) -> list[Company]:
        """The companies with a ticker, in file order."""
        return [c for c in self.companies if c.listed and c.ticker]

    @property
    def word_index(self) -> WordIndex[_Entry]:
        """The index of every alias form (for ``Found``: one pass over a whole document)."""
        return self._index

    def find(self, text: str, *, folded: str | None = None,
             found: list[tuple[int, int, _Entry]] | None = None) -> list[Mention]:
        """Company mentions in ``text``: longest, non-overlapping, left to right; ``folded`` is
        ``ascii_lower(text)`` when the caller has it, ``found`` what ``word_index`` finds in it."""
        if self._empty or not text:
            return []
        if folded is None:
            folded = ascii_lower(text)
        n = len(text)
        candidates: list[tuple[int, int, _Entry]] = []
        for start, end, entry in self._index.find(folded) if found is None else found:
            if entry.check_start and start > 0 and _is_word_char(folded[start - 1]):
                continue
            if entry.check_end and end < n and _is_word_char(folded[end]):
                continue
            if entry.exact_case and text[start:end] not in entry.exact_case:
                continue
            candidates.append((start, end, entry))
        candidates.sort(key=_END, reverse=True)  # by start, then longest first (two stable sorts)
        candidates.sort(key=_START)
        out: list[Mention] = []
        pos = 0
        for start, end, entry in candidates:
            if start < pos:
                continue
            out.append(Mention(start, end, entry.company, entry.alias, entry.ambiguous))
            pos = end
        return out

    def __len__(self) -> int:
        return len(self.companies)

    def __contains__(self, name_or_ticker: object) -> bool:
        return isinstance(name_or_ticker, str) and self.get(name_or_ticker) is not None


def _company(entry: object, i: int, path: Path) -> Company:
    if not isinstance(entry, dict):
        raise ConfigError("each [[company]] must be a table", source=path, key=f"company #{i + 1}")
    name = entry.get("name")
    where = f"company #{i + 1}" + (f" {name!r}" if isinstance(name, str) else "")

    def bad(msg: str) -> ConfigError:
        return ConfigError(msg, source=path, key=where)

    unknown = set(entry) - _KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(_KEYS))})")
    if not isinstance(name, str) or not name.strip():
        raise bad("'name' is required and must be non-empty text")
    ticker = entry.get("ticker")
    if ticker is not None and (not isinstance(ticker, str) or not ticker.strip()):
        raise bad("'ticker' must be non-empty text")
    exchange = entry.get("exchange")
    if exchange is not None and (not isinstance(exchange, str) or not _MIC.match(exchange)):
        raise bad(f"'exchange' {exchange!r} is not an ISO MIC such as XNAS, XSHG, XHKG")
    if (ticker is None) != (exchange is None):
        raise bad("'ticker' and 'exchange' go together (both for a listed company, neither if private)")
    currency = entry.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise bad(f"'currency' {currency!r} must be an ISO 4217 code such as USD, CNY, HKD")
    fye = entry.get("fiscal_year_end", 12)
    if isinstance(fye, bool) or not isinstance(fye, int) or not 1 <= fye <= 12:
        raise bad(f"'fiscal_year_end' {fye!r} must be a month number 1-12")
    aliases = entry.get("aliases", [])
    ambiguous = entry.get("ambiguous", [])
    case_sensitive = entry.get("case_sensitive", [])
    for key, value in (("aliases", aliases), ("ambiguous", ambiguous), ("case_sensitive", case_sensitive)):
        if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
            raise bad(f"'{key}' must be a list of non-empty strings")
    listed = entry.get("listed", ticker is not None)
    if not isinstance(listed, bool):
        raise bad("'listed' must be true or false")
    return Company(name=name.strip(), ticker=ticker.strip() if ticker else None,
                   exchange=exchange, currency=currency, fiscal_year_end=fye,
                   aliases=tuple(a.strip() for a in aliases), listed=listed,
                   ambiguous=tuple(a.strip() for a in ambiguous),
                   case_sensitive=tuple(a.strip() for a in case_sensitive))
