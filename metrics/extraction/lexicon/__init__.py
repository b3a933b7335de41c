"""The extraction lexicon as data: cue words, changes, kinds, comparisons, units and period words.

The TOML files beside this module hold every word the extractor reacts to, each entry with its metric
or meaning (see the comment at the top of each file); adding a synonym is a one-line change there.
``lexicon()`` reads and checks them once per process and returns one immutable ``Lexicon``. Words are
normalized as the text they are matched against (simplified Chinese, half-width, English lower case).
A malformed file raises ``ConfigError`` naming the file and the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from metrics.errors import ConfigError
from metrics.extraction.normalize import ascii_lower, normalize
from metrics.store.schema import METRICS

__all__ = [
    "Bare",
    "Change",
    "Comparison",
    "Currency",
    "Example",
    "Lexicon",
    "MetricCue",
    "Other",
    "lexicon",
]

HERE = Path(__file__).resolve().parent
_DIRECTIONS = frozenset(("up", "down", "none"))
_BASES = frozenset(("yoy", "qoq"))
_KINDS = frozenset(("guidance", "estimate", "actual", "commitment"))
_ROLES = frozenset(("estimate", "guidance", "prior_year", "prior_quarter", "link"))
_QUALIFIERS = frozenset(("gt", "lt", "approx", "emphasis", ""))


@dataclass(frozen=True, slots=True)
class Example:
    """One of our own sentences and what it states (metric "" = nothing is stored)."""

    text: str
    metric: str = ""
    value: float | None = None
    kind: str | None = None
    period: str | None = None


@dataclass(frozen=True, slots=True)
class MetricCue:
    name: str
    words: tuple[str, ...]
    weak: bool
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Other:
    meaning: str
    words: tuple[str, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Change:
    direction: str  # up | down | none
    base: str | None  # yoy | qoq | None
    words: tuple[str, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    role: str  # estimate | guidance | prior_year | prior_quarter | link
    words: tuple[str, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    suffix: tuple[str, ...]
    prefix: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Bare:
    """A currency sign that names no country (元, $, ¥): the company's home currency decides."""

    suffix: tuple[str, ...]
    prefix: tuple[str, ...]
    homes: tuple[str, ...]
    default: str


@dataclass(frozen=True, slots=True)
class Lexicon:
    metrics: tuple[MetricCue, ...]
    others: tuple[Other, ...]
    scope: tuple[str, ...]
    scope_examples: tuple[Example, ...]
    units_verbs: tuple[str, ...]
    segments: tuple[str, ...]
    changes: tuple[Change, ...]
    kinds: dict[str, tuple[str, ...]]
    comparisons: tuple[Comparison, ...]
    currencies: tuple[Currency, ...]
    bare: tuple[Bare, ...]
    not_after_yuan: str
    declare: tuple[str, ...]
    counters: str
    unit_counters: frozenset[str]
    english_counters: tuple[str, ...]
    counter_blocked: dict[str, tuple[str, ...]]
    before: dict[str, str | None]
    after: dict[str, str | None]
    periods: dict[str, tuple[str, ...]]
    cumulative: tuple[str, ...]
    cumulative_examples: tuple[Example, ...]
    multiples: dict[str, float]
    spend_verbs: tuple[str, ...]  # [capex_spending]: spent on infrastructure is capex
    spend_objects: tuple[str, ...]
    spend_examples: tuple[Example, ...]
    buyback_objects: tuple[str, ...]  # [buyback_objects]: the shares an amount bought back buys
    buyback_examples: tuple[Example, ...]
    received_verbs: tuple[str, ...]  # [investment_received]: an investment received is funding
    received_examples: tuple[Example, ...]

    @property
    def weak_metrics(self) -> frozenset[str]:
        """Metrics whose words are generic and yield to a specific cue of the same clause."""
        return frozenset(m.name for m in self.metrics if m.weak)


def _word(w: object, where: str) -> str:
    if not isinstance(w, str) or not w.strip():
        raise ConfigError("words must be non-empty text", source=where)
    return ascii_lower(normalize(w.strip()))


def _words(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ConfigError("'words' must be a list of text", source=where)
    return tuple(_word(w, where) for w in raw)


def _examples(raw: object, where: str) -> tuple[Example, ...]:
    out = []
    for e in raw if isinstance(raw, list) else []:
        if isinstance(e, str):
            out.append(Example(e))
        elif isinstance(e, dict) and isinstance(e.get("text"), str):
            value = e.get("value")
            out.append(
                Example(
                    e["text"],
                    str(e.get("metric", "")),
                    None if value is None else float(value),
                    e.get("kind"),
                    e.get("period"),
                )
            )
        else:
            raise ConfigError(f"bad example {e!r}", source=where)
    return tuple(out)


def _load(name: str) -> dict[str, Any]:
    path = HERE / name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the lexicon: {e}", source=path) from e


def _metrics(raw: dict[str, Any], src: str) -> tuple[tuple[MetricCue, ...], tuple[Other, ...]]:
    metrics = []
    for i, m in enumerate(raw.get("metric", [])):
        where = f"{src} [[metric]] #{i + 1}"
        name = m.get("name")
        if name not in METRICS and name != "share_price":
            raise ConfigError(f"unknown metric {name!r}", source=where)
        metrics.append(
            MetricCue(
                name,
                _words(m.get("words"), where),
                bool(m.get("weak", False)),
                _examples(m.get("examples"), where),
            )
        )
    others = [
        Other(
            str(o.get("meaning", "")),
            _words(o.get("words"), f"{src} [[other]] #{i + 1}"),
            _examples(o.get("examples"), src),
        )
        for i, o in enumerate(raw.get("other", []))
    ]
    return tuple(metrics), tuple(others)


def _changes(raw: dict[str, Any], src: str) -> tuple[Change, ...]:
    out = []
    for i, c in enumerate(raw.get("change", [])):
        where = f"{src} [[change]] #{i + 1}"
        if c.get("direction") not in _DIRECTIONS or c.get("base", "yoy") not in _BASES:
            raise ConfigError("direction must be up/down/none and base yoy/qoq", source=where)
        out.append(
            Change(
                c["direction"],
                c.get("base"),
                _words(c.get("words"), where),
                _examples(c.get("examples"), where),
            )
        )
    return tuple(out)


def _kinds(raw: dict[str, Any], src: str) -> tuple[dict[str, tuple[str, ...]], tuple[Comparison, ...]]:
    kinds: dict[str, tuple[str, ...]] = {}
    for i, k in enumerate(raw.get("kind", [])):
        if k.get("name") not in _KINDS:
            raise ConfigError(f"unknown kind {k.get('name')!r}", source=f"{src} [[kind]] #{i + 1}")
        kinds[k["name"]] = kinds.get(k["name"], ()) + _words(k.get("words"), src)
    comps = []
    for i, c in enumerate(raw.get("comparison", [])):
        where = f"{src} [[comparison]] #{i + 1}"
        if c.get("role") not in _ROLES:
            raise ConfigError(f"unknown comparison role {c.get('role')!r}", source=where)
        comps.append(
            Comparison(c["role"], _words(c.get("words"), where), _examples(c.get("examples"), where))
        )
    return kinds, tuple(comps)


def _qualifiers(raw: dict[str, Any], src: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for word, q in raw.items():
        if q not in _QUALIFIERS:
            raise ConfigError(f"qualifier of {word!r} must be gt, lt, approx, emphasis or ''", source=src)
        # English words keep their spaces (' or more'); Chinese ones are normalized
        key = word.lower() if word.isascii() else normalize(word)
        out[key] = q or None
    return out


@cache
def lexicon() -> Lexicon:
    """The lexicon of ``metrics/extraction/lexicon/*.toml``, read once."""
    m_raw = _load("metrics.toml")
    metrics, others = _metrics(m_raw, "metrics.toml")
    kinds, comparisons = _kinds(_load("kinds.toml"), "kinds.toml")
    u = _load("units.toml")
    currencies = tuple(
        Currency(
            c["code"],
            tuple(normalize(s) for s in c.get("suffix", [])),
            tuple(normalize(p) for p in c.get("prefix", [])),
            tuple(w.lower() for w in c.get("words", [])),
        )
        for c in u.get("currency", [])
    )
    bare = tuple(
        Bare(tuple(b.get("suffix", [])), tuple(b.get("prefix", [])), tuple(b["homes"]), b["default"])
        for b in u.get("bare", [])
    )
    counters = u.get("counters", {})
    c_raw = _load("changes.toml")
    p_raw = _load("periods.toml")
    periods = {k: _words(v, f"periods.toml {k}") for k, v in p_raw.items()}
    return Lexicon(
        metrics=metrics,
        others=others,
        scope=_words(m_raw["scope"][0]["words"], "metrics.toml [[scope]]"),
        scope_examples=_examples(m_raw["scope"][0].get("examples"), "metrics.toml [[scope]]"),
        units_verbs=_words(m_raw.get("units_verbs", {}).get("words", []), "metrics.toml [units_verbs]"),
        segments=_words(m_raw.get("segments", {}).get("words", []), "metrics.toml [segments]"),
        changes=_changes(c_raw, "changes.toml"),
        kinds=kinds,
        comparisons=comparisons,
        currencies=currencies,
        bare=bare,
        not_after_yuan=u["currency_words"]["not_after_yuan"],
        declare=tuple(normalize(d) for d in u["currency_words"]["declare"]),
        counters=counters["chinese"],
        unit_counters=frozenset(counters["units"]),
        english_counters=tuple(counters["english"]),
        counter_blocked={k: tuple(v) for k, v in counters.get("blocked", {}).items()},
        before=_qualifiers(u["qualifiers"]["before"], "units.toml [qualifiers.before]"),
        after=_qualifiers(u["qualifiers"]["after"], "units.toml [qualifiers.after]"),
        periods=periods,
        cumulative=_words(c_raw["cumulative"]["words"], "changes.toml [cumulative]"),
        cumulative_examples=_examples(c_raw["cumulative"].get("examples"), "changes.toml [cumulative]"),
        multiples={_word(k, "changes.toml [multiples]"): float(v) for k, v in c_raw["multiples"].items()},
        spend_verbs=_words(m_raw["capex_spending"]["verbs"], "metrics.toml [capex_spending]"),
        spend_objects=_words(m_raw["capex_spending"]["objects"], "metrics.toml [capex_spending]"),
        spend_examples=_examples(m_raw["capex_spending"].get("examples"), "metrics.toml [capex_spending]"),
        buyback_objects=_words(m_raw["buyback_objects"]["words"], "metrics.toml [buyback_objects]"),
        buyback_examples=_examples(
            m_raw["buyback_objects"].get("examples"), "metrics.toml [buyback_objects]"
        ),
        received_verbs=_words(m_raw["investment_received"]["verbs"], "metrics.toml [investment_received]"),
        received_examples=_examples(
            m_raw["investment_received"].get("examples"), "metrics.toml [investment_received]"
        ),
    )
