"""Threshold rules: the TOML format of the contract, validated at load.

A rules file is a list of ``[[rules]]`` tables::

    [[rules]]
    name = "nvda-below-100"          # unique
    series = "prices.close"          # prices.<column> | facts.<metric> | derived.<name>
    entities = ["NVDA"]              # tickers or entity names; omitted: all
    condition = "value < 100"        # boolean polars-SQL expression over the series' features
    for = "2d"                       # "0", a duration (s, m, h, d, w; "1h30m") or "N bars"
    keep_firing_for = "0d"           # the same forms as ``for``
    repeat_interval = "1d"           # "0": never re-notify
    severity = "warning"
    channels = ["log"]
    summary = "{entity} closed at {value:.2f}"               # the firing notification's text
    summary_reminder = "{entity} still under 100: {value:.2f}"  # optional: reminders
    summary_resolved = "{entity} back at {value:.2f}, was {fired_value:.2f}"  # optional: resolves

The three texts are templates (``metrics.alerting.templates``) over the fields of the series
(``template_fields``); reminders and resolves also see ``fired_at`` and ``fired_<field>``, the
values when the alert fired. Without ``summary_reminder`` or ``summary_resolved`` a text is
generated (``metrics.alerting.render.notification_text``) that cannot contradict its state.

Validation (``load_rules``/``check_rules``) rejects an unknown key, a bad duration, an unknown
series, column, metric or derived name, a condition that does not compile against the series'
features (compiled with polars SQL over an empty frame of the feature schema), an unknown channel
and a template naming a field the series does not have or with a spec that cannot apply to it;
each error is a ``RuleError`` naming the rule and the field.

(Over 400 lines: the rule model, its duration grammar and the validation that names the rule and
field of each error are one contract; split apart, each error path would cross modules.)
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metrics.alerting.features import WINDOW_FEATURES
from metrics.alerting.rules_toml import parse_toml
from metrics.alerting.templates import TemplateError, check_template, render
from metrics.errors import ConfigError, RuleError
from metrics.store.schema import METRICS

SeriesKind = Literal["prices", "facts", "derived"]

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
DERIVED: dict[str, str] = {
    # name -> shape of the series: "facts" (one value per statement) or "prices" (one value per bar)
    "net_margin": "facts",  # net_income / revenue * 100, same entity and period
    "capex_to_revenue": "facts",  # capex / revenue * 100, same entity and period
    "market_cap": "prices",  # close * shares_outstanding (latest statement as of the bar)
    "price_to_sales": "prices",  # market_cap / revenue of the latest fiscal year (same currency)
}

# Features of every series (null where not applicable or where history is too short).
COMMON_FEATURES: dict[str, pl.DataType] = {
    "value": pl.Float64(),
    **{name: pl.Float64() for name in WINDOW_FEATURES},  # the spec table of metrics.alerting.features
    "age_days": pl.Int64(),
    "stale_bars": pl.Int64(),
}
FACT_FEATURES: dict[str, pl.DataType] = {
    "value_usd": pl.Float64(),
    "revision_pct": pl.Float64(),
    "period": pl.String(),
    "kind": pl.String(),
    "unit": pl.String(),
}
FEATURES: dict[str, pl.DataType] = {**COMMON_FEATURES, **FACT_FEATURES}
SUMMARY_FIELDS: frozenset[str] = frozenset(
    {*FEATURES, "entity", "rule", "series", "severity", "statement", "data_at"}
)
TEMPLATE_KEYS: tuple[str, ...] = ("summary", "summary_reminder", "summary_resolved")
_SAMPLES: dict[type[pl.DataType], Any] = {pl.Float64: 1.5, pl.Int64: 1, pl.String: "x"}
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_BARS = re.compile(r"^\s*(\d+)\s*bars?\s*$")


@dataclass(frozen=True, slots=True)
class Hold:
    """A rule's ``for``: a number of bars (evaluations) or a duration; zero fires at once."""

    bars: int | None = None
    duration: dt.timedelta = dt.timedelta(0)

    @property
    def immediate(self) -> bool:
        return self.bars == 0 if self.bars is not None else self.duration <= dt.timedelta(0)

    def __str__(self) -> str:
        return f"{self.bars} bars" if self.bars is not None else str(self.duration)


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule; ``hold`` is the rule's ``for``."""

    name: str
    series: str
    entities: tuple[str, ...] | None
    condition: str
    hold: Hold
    keep_firing_for: Hold  # same forms as ``for``: a duration or "N bars" (failing evaluations)
    repeat_interval: dt.timedelta  # zero: never re-notify
    severity: str
    channels: tuple[str, ...]
    summary: str
    summary_reminder: str | None = None
    summary_resolved: str | None = None
    condition_fields: tuple[str, ...] = ()  # the features the condition reads, in text order

    @property
    def source(self) -> SeriesKind:
        """``prices``, ``facts`` or ``derived``."""
        kind = self.series.split(".", 1)[0]
        return "prices" if kind == "prices" else "facts" if kind == "facts" else "derived"

    @property
    def column(self) -> str:
        """The price column, fact metric or derived name after the dot."""
        return self.series.split(".", 1)[1]

    @property
    def shape(self) -> Literal["prices", "facts"]:
        """Whether the series has one value per bar (``prices``) or per statement (``facts``)."""
        return series_shape(self.series)

    @property
    def is_fact_series(self) -> bool:
        return self.shape == "facts"

    def render_summary(self, fields: Mapping[str, Any]) -> str:
        """The firing text (``summary``) with ``fields`` (entity, value, features); never raises."""
        return render(self.summary, template_values(self, fields))


def template_fields(shape: Literal["prices", "facts"], *, fired: bool = False) -> dict[str, Any]:
    """The fields a template of a rule over a series of ``shape`` may name, each with a sample value.

    ``fired``: a reminder or resolved template, which also sees ``fired_at`` and ``fired_<field>``.
    """
    feats = FEATURES if shape == "facts" else COMMON_FEATURES
    out: dict[str, Any] = {k: _SAMPLES.get(type(t), "x") for k, t in feats.items()}
    out.update(entity="x", rule="x", series="x", severity="x", data_at="2025-01-02")
    if shape == "facts":
        out["statement"] = "x"
    if fired:
        out.update({f"fired_{k}": v for k, v in list(out.items()) if k not in ("rule", "series", "severity")})
        out["fired_at"] = "2025-01-02"
    return out


def template_values(rule: Rule, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The values a template of ``rule`` sees in an evaluation row: known fields, dates as ISO text."""
    out: dict[str, Any] = {}
    for k in SUMMARY_FIELDS:
        v = fields.get(k)
        out[k] = v.isoformat() if isinstance(v, dt.date) else v
    out.update(rule=rule.name, series=rule.series, severity=rule.severity)
    return out


def series_shape(series: str) -> Literal["prices", "facts"]:
    """Whether a (valid) series has one value per bar (``prices``) or per statement (``facts``)."""
    kind, _, name = series.partition(".")
    return "prices" if kind == "prices" or (kind == "derived" and DERIVED[name] == "prices") else "facts"


def parse_duration(text: str) -> dt.timedelta:
    """``"0"``, ``"30m"``, ``"2d"``, ``"1h30m"``, ``"1.5h"`` -> timedelta; ValueError otherwise."""
    s = text.strip().lower()
    if s == "0":
        return dt.timedelta(0)
    pos = 0
    seconds = 0.0
    for m in _DURATION.finditer(s):
        if s[pos : m.start()].strip():
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    else:
        if pos and not s[pos:].strip():
            return dt.timedelta(seconds=seconds)
    raise ValueError(f"bad duration {text!r}: use a number with s, m, h, d or w (e.g. '2d', '1h30m') or '0'")


def parse_hold(text: str, *, key: str = "for") -> Hold:
    """A rule's ``for`` or ``keep_firing_for``: ``"N bars"`` or a duration."""
    m = _BARS.match(text)
    if m:
        return Hold(bars=int(m.group(1)))
    try:
        return Hold(duration=parse_duration(text))
    except ValueError:
        raise ValueError(f"bad '{key}' {text!r}: use '0', a duration such as '2d' or 'N bars'") from None


class _RuleSpec(BaseModel):
    """The TOML shape of one rule (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    series: str
    entities: list[str] | None = None
    condition: str = Field(min_length=1)
    hold: str = Field("0", alias="for")
    keep_firing_for: str = "0"
    repeat_interval: str = "1d"
    severity: str = "warning"
    channels: list[str] = Field(default_factory=lambda: ["log"])
    summary: str = "{rule}: {entity} {value}"
    summary_reminder: str | None = None
    summary_resolved: str | None = None


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]] = Field(default_factory=list)


def features_schema(shape: Literal["prices", "facts"]) -> pl.Schema:
    """The columns a condition may use for a series of this shape."""
    return pl.Schema(FEATURES if shape == "facts" else COMMON_FEATURES)


def compile_condition(condition: str, shape: Literal["prices", "facts"]) -> pl.Expr:
    """The polars expression of ``condition``; ValueError if it does not compile to a boolean."""
    try:
        expr = pl.sql_expr(condition)
        dtype = pl.DataFrame(schema=features_schema(shape)).select(expr.alias("c")).schema["c"]
    except Exception as e:  # polars raises several SQL/column error types
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"condition {condition!r} does not compile: {msg}") from e
    if dtype not in (pl.Boolean, pl.Null):
        raise ValueError(f"condition {condition!r} is not boolean (it gives {dtype})")
    return expr


_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\w.])")
# The names ``templatize`` gives a condition's numbers; a condition may not name one itself.
_PLACEHOLDER = re.compile(r"(?<!\w)__p\d+")


def templatize(condition: str) -> tuple[str, tuple[float, ...]]:
    """``"value < 100 and age_days > 4"`` -> (``"value < __p0 and age_days > __p1"``, (100.0, 4.0)).

    Numbers inside quoted strings are left alone. ValueError if the condition itself names a
    parameter (``__p0``...): it would be read as one of its numbers.
    """
    params: list[float] = []

    def sub(m: re.Match[str]) -> str:
        params.append(float(m.group(1)))
        return f"__p{len(params) - 1}"

    parts = condition.split("'")
    for p in parts[::2]:
        if "__p" in p and (m := _PLACEHOLDER.search(p)):
            raise ValueError(
                f"condition {condition!r} names {m.group()!r}: names __p<N> are reserved for the "
                "condition's numbers"
            )
    out = [p if i % 2 else _NUMBER.sub(sub, p) for i, p in enumerate(parts)]
    return "'".join(out), tuple(params)


@functools.lru_cache(maxsize=4096)
def _template_dtype(template: str, nparams: int, shape: Literal["prices", "facts"]) -> pl.DataType | None:
    """What ``template`` gives over the features of ``shape`` and ``nparams`` Float64 parameters
    (None if it does not compile): checked once per shape of condition."""
    schema = {**features_schema(shape), **{f"__p{i}": pl.Float64() for i in range(nparams)}}
    try:
        return pl.DataFrame(schema=schema).select(pl.sql_expr(template).alias("c")).schema["c"]
    except Exception:  # polars raises several SQL/column error types
        return None


def check_condition(condition: str, shape: Literal["prices", "facts"]) -> None:
    """ValueError unless ``condition`` compiles to a boolean, as ``compile_condition`` says.

    The condition with its numbers as parameters is checked once (thousands of rules share a few
    shapes); one that does not pass that way is compiled as written, for its exact error."""
    template, params = templatize(condition)
    if _template_dtype(template, len(params), shape) in (pl.Boolean, pl.Null):
        return
    compile_condition(condition, shape)


def _check_series(series: str) -> None:
    kind, _, name = series.partition(".")
    if kind == "prices":
        ok, known = name in PRICE_COLUMNS, PRICE_COLUMNS
    elif kind == "facts":
        ok, known = name in METRICS, METRICS
    elif kind == "derived":
        ok, known = name in DERIVED, tuple(DERIVED)
    else:
        raise ValueError(f"unknown series {series!r}: use prices.<column>, facts.<metric> or derived.<name>")
    if not ok:
        raise ValueError(f"unknown {kind} name {name!r} in series {series!r}; known: {', '.join(known)}")


def _condition_fields(condition: str, expr: pl.Expr | None = None) -> tuple[str, ...]:
    """The features ``condition`` names (``expr``: its compiled form), in the order they first appear
    as words outside quoted strings; ties (a name only inside quotes) by name."""
    names = set((expr if expr is not None else pl.sql_expr(condition)).meta.root_names()) & set(FEATURES)
    unquoted = " ".join(condition.split("'")[::2])

    def first(name: str) -> tuple[int, str]:
        m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", unquoted)
        return (m.start() if m else len(unquoted), name)

    return tuple(sorted(names, key=first))


_CACHED = 4096  # entries per cache of a load: a few shapes of thousands of rules; bounded all the same


class _Checks:
    """The checks of one load, each run once per distinct text or shape (100,000 rules share a few
    shapes of condition, a few durations and templates): values or error messages, as checking each
    rule would give them."""

    def __init__(self) -> None:
        self._holds: dict[tuple[str, str], Hold | dt.timedelta | str] = {}
        self._series: dict[str, str | None] = {}
        self._shapes: dict[tuple[str, int, str], tuple[str, ...] | None] = {}
        self._templates: dict[tuple[str, str, str], str | None] = {}

    @staticmethod
    def _put(cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) < _CACHED:
            cache[key] = value

    def hold(self, field: str, text: str) -> Hold | dt.timedelta:
        """``for`` and ``keep_firing_for`` as ``parse_hold``, ``repeat_interval`` as ``parse_duration``."""
        got = self._holds.get((field, text))
        if got is None:
            try:
                got = parse_duration(text) if field == "repeat_interval" else parse_hold(text, key=field)
            except ValueError as e:
                got = str(e)
            self._put(self._holds, (field, text), got)
        if isinstance(got, str):
            raise ValueError(got)
        return got

    def series(self, series: str) -> None:
        """``_check_series``."""
        if series not in self._series:
            try:
                _check_series(series)
                self._put(self._series, series, None)
            except ValueError as e:
                self._put(self._series, series, str(e))
                raise
        elif (msg := self._series[series]) is not None:
            raise ValueError(msg)

    def condition(self, condition: str, shape: Literal["prices", "facts"]) -> tuple[str, ...]:
        """``check_condition``; the condition's fields (``_condition_fields``) when it passes (found
        once per shape: the condition with its numbers as parameters)."""
        template, params = templatize(condition)
        key = (template, len(params), shape)
        if key in self._shapes:
            fields = self._shapes[key]
        else:
            ok = _template_dtype(template, len(params), shape) in (pl.Boolean, pl.Null)
            fields = _condition_fields(template) if ok else None
            self._put(self._shapes, key, fields)
        if fields is not None:
            return fields
        return _condition_fields(condition, compile_condition(condition, shape))

    def templates(self, spec: Mapping[str, Any], shape: Literal["prices", "facts"]) -> list[tuple[str, str]]:
        """(key, message) for each template of ``spec`` that does not fit a series of ``shape``."""
        errors: list[tuple[str, str]] = []
        for key in TEMPLATE_KEYS:
            template = spec[key]
            if template is None:
                continue
            fired = "fired" if key != "summary" else ""
            if (fired, template, shape) in self._templates:
                msg = self._templates[fired, template, shape]
            else:
                try:
                    check_template(template, template_fields(shape, fired=bool(fired)))
                    msg = None
                except TemplateError as e:
                    msg = str(e)
                self._put(self._templates, (fired, template, shape), msg)
            if msg is not None:
                errors.append((key, msg))
        return errors


# A rule table of plain TOML values needs no validation copy: key -> its type (str or list of str).
_PLAIN: dict[str, type] = {
    (f.alias or name): (list if name in ("entities", "channels") else str)
    for name, f in _RuleSpec.model_fields.items()
}
_DEFAULTS: dict[str, Any] = {
    name: f.get_default(call_default_factory=True) for name, f in _RuleSpec.model_fields.items()
    if not f.is_required()
}


def _plain_spec(raw: Any) -> dict[str, Any] | None:
    """The fields of ``raw`` (by field name, defaults filled) when it is a rule table whose values
    are already of the right types, as ``_RuleSpec`` would give them; None for pydantic to judge."""
    if type(raw) is not dict:
        return None
    for k, v in raw.items():
        kind = _PLAIN.get(k)
        if kind is str:
            if type(v) is not str:
                return None
        elif kind is not list or type(v) is not list or any(type(x) is not str for x in v):
            return None
    if not raw.get("name") or not raw.get("condition") or "series" not in raw:
        return None  # min_length and required fields: pydantic's messages
    spec = {**_DEFAULTS, **raw}
    if "for" in spec:
        spec["hold"] = spec.pop("for")
    return spec


def _spec(raw: Any, fail: Any) -> dict[str, Any] | None:
    """The fields of the rule table ``raw`` (``_RuleSpec``'s), or None after reporting its errors."""
    spec = _plain_spec(raw)
    if spec is not None:
        return spec
    try:
        return dict(_RuleSpec.model_validate(raw))
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or None
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            fail(loc, msg)
        return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off (a load makes millions of objects and no cycles)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _build(
    raw: Any, index: int, *, source: str | Path | None, channels: set[str] | None, checks: _Checks
) -> tuple[Rule | None, list[RuleError]]:
    name = raw.get("name") if isinstance(raw, dict) else None
    label = name if isinstance(name, str) and name.strip() else f"#{index + 1}"
    errors: list[RuleError] = []

    def fail(field: str | None, msg: str) -> None:
        errors.append(RuleError(msg, rule=label, field=field, source=source))

    spec = _spec(raw, fail)
    if spec is None:
        return None, errors
    parsed: dict[str, Any] = {}
    for field, text in (("for", spec["hold"]), ("keep_firing_for", spec["keep_firing_for"]),
                        ("repeat_interval", spec["repeat_interval"])):
        try:
            parsed[field] = checks.hold(field, text)
        except ValueError as e:
            fail(field, str(e))
    series_ok = True
    try:
        checks.series(spec["series"])
    except ValueError as e:
        series_ok = False
        fail("series", str(e))
    fields: tuple[str, ...] = ()
    if series_ok:
        try:
            fields = checks.condition(spec["condition"], series_shape(spec["series"]))
        except ValueError as e:
            fail("condition", str(e))
    entities = spec["entities"]
    if entities is not None and (not entities or any(not e.strip() for e in entities)):
        fail("entities", "entities must be a non-empty list of tickers or entity names (omit it for all)")
    if spec["severity"] not in SEVERITIES:
        fail("severity", f"unknown severity {spec['severity']!r}; use one of {', '.join(SEVERITIES)}")
    if not spec["channels"]:
        fail("channels", "at least one channel is needed")
    if channels is not None:
        for ch in spec["channels"]:
            if ch not in channels:
                configured = ", ".join(sorted(channels)) or "none"
                fail("channels", f"unknown channel {ch!r}; configured: {configured}")
    if series_ok:
        for key, msg in checks.templates(spec, series_shape(spec["series"])):
            fail(key, msg)
    if errors:
        return None, errors
    rule = Rule(
        name=spec["name"],
        series=spec["series"],
        entities=tuple(e.strip() for e in entities) if entities is not None else None,
        condition=spec["condition"],
        hold=parsed["for"],
        keep_firing_for=parsed["keep_firing_for"],
        repeat_interval=parsed["repeat_interval"],
        severity=spec["severity"],
        channels=tuple(spec["channels"]),
        summary=spec["summary"],
        summary_reminder=spec["summary_reminder"],
        summary_resolved=spec["summary_resolved"],
        condition_fields=fields,
    )
    return rule, []


def _rule_tables(data: Mapping[str, Any], source: str | Path | None) -> list[Any]:
    """The ``rules`` list of ``data``; ``ConfigError`` for a file that is not a list of tables.

    Parsed TOML of the right shape (a dict holding a list of dicts) is taken as it is: pydantic's
    copy of every table would only repeat it. Anything else is validated by ``_RulesFile``."""
    rules = data.get("rules", []) if type(data) is dict and data.keys() <= {"rules"} else None
    if type(rules) is list and all(
        type(r) is dict and (r.keys() <= _PLAIN.keys() or all(type(k) is str for k in r)) for r in rules
    ):
        return rules
    try:
        return _RulesFile.model_validate(data).rules
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = (
            "unknown key (a rules file holds only [[rules]] tables)"
            if err["type"] == "extra_forbidden"
            else err["msg"]
        )
        raise ConfigError(msg, source=source, key=key) from e


def parse_rules(
    data: Mapping[str, Any], *, source: str | Path | None = None, channels: Iterable[str] | None = None
) -> tuple[list[Rule], list[RuleError]]:
    """Validate the parsed TOML ``data``; returns the good rules and every error found."""
    known_channels = set(channels) if channels is not None else None
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: set[str] = set()
    checks = _Checks()
    with _gc_paused():
        for i, raw in enumerate(_rule_tables(data, source)):
            rule, errs = _build(raw, i, source=source, channels=known_channels, checks=checks)
            errors.extend(errs)
            name = raw.get("name")
            if isinstance(name, str) and name:
                if name in seen:
                    errors.append(RuleError("duplicate rule name", rule=name, field="name", source=source))
                    continue
                seen.add(name)
            if rule is not None:
                rules.append(rule)
    return rules, errors


def _read(path: Path) -> dict[str, Any]:
    try:
        return parse_toml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError("rules file not found", source=path) from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid TOML: {e}", source=path) from e


def read_rules(
    path: Path | str, channels: Iterable[str] | None = None
) -> tuple[list[Rule], list[RuleError]]:
    """The good rules of the rules file at ``path`` and every error (one read and parse).

    A file that is not TOML at all raises ``ConfigError``.
    """
    p = Path(path)
    with _gc_paused():
        return parse_rules(_read(p), source=p, channels=channels)


def check_rules(path: Path | str, channels: Iterable[str] | None = None) -> list[RuleError]:
    """Every error of the rules file at ``path`` (empty when it is valid).

    A file that is not TOML at all raises ``ConfigError``.
    """
    return read_rules(path, channels)[1]


def load_rules(path: Path | str, channels: Iterable[str] | None = None) -> list[Rule]:
    """The rules of ``path``; raises the first ``RuleError`` (``check_rules`` lists them all)."""
    rules, errors = read_rules(path, channels)
    if errors:
        raise errors[0]
    return rules
