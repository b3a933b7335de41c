"""Notification templates: ``str.format`` syntax restricted to plain field names and bounded widths.

A rule's ``summary`` (firing), ``summary_reminder`` and ``summary_resolved`` are templates such as
``"{entity} moved {change_pct_5:+.1f} % in 5 sessions"``. Each replacement field is one name of
the rule's series (``metrics.alerting.rules.template_fields``) with an optional format spec of the
format mini-language (or, for a date such as ``data_at``, of ``strftime``: ``{data_at:%d %b}``);
attribute access and indexing (``{entity.__class__}``, ``{x[0]}``), nested
fields in a spec and widths or precisions over ``MAX_WIDTH`` are refused, so a rules file can
neither reach into objects nor make one alert hundreds of megabytes long.

``check_template`` validates a template against the fields' sample values (a spec that cannot
apply to a field, such as ``{entity:.2f}``, is an error); ``render`` formats one and never raises:
a null or non-finite value is ``n/a``, a value its spec does not fit is shown plainly.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from collections.abc import Mapping
from typing import Any

MAX_WIDTH = 64          # largest width or precision a spec may ask for
MAX_LENGTH = 2000       # a rendered text is cut beyond this (values may quote documents)

_SPEC = re.compile(
    r"^(?:(?P<fill>[^{}])?(?P<align>[<>=^]))?(?P<sign>[-+ ])?z?#?0?(?P<width>\d+)?[,_]?"
    r"(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?$"
)

# a date's strftime spec (``{data_at:%d %b %Y}``): directives and separators only
_DATE_SPEC = re.compile(r"(?:%[aAbBdjmyYU%]|[-/ :.,])+")

Part = tuple[str, str | None, str]   # literal text, field name (None: text only), format spec


class TemplateError(ValueError):
    """A template that is not allowed (see the module docstring); the message names the field."""


def parse(template: str) -> list[Part]:
    """The parts of ``template``; TemplateError for anything beyond plain names and bounded specs."""
    try:
        raw = list(string.Formatter().parse(template))
    except ValueError as e:
        raise TemplateError(f"bad summary template {template!r}: {e}") from e
    parts: list[Part] = []
    for literal, name, raw_spec, conversion in raw:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if not name.isidentifier():
            raise TemplateError(f"{{{name}}}: a template names fields only (no attribute access, "
                                "indexing or positional fields)")
        if conversion is not None:
            raise TemplateError(f"{{{name}!{conversion}}}: conversions are not allowed")
        spec = raw_spec or ""
        if _DATE_SPEC.fullmatch(spec) and len(spec) <= MAX_WIDTH:
            parts.append((literal, name, spec))
            continue
        m = _SPEC.match(spec)
        if m is None:
            raise TemplateError(f"{{{name}:{spec}}}: not a format spec (nested fields are not allowed)")
        for part in ("width", "precision"):
            n = m.group(part)
            if n is not None and int(n) > MAX_WIDTH:
                raise TemplateError(f"{{{name}:{spec}}}: {part} {int(n)} is over the limit of {MAX_WIDTH}")
        parts.append((literal, name, spec))
    return parts


def check_template(template: str, samples: Mapping[str, Any]) -> None:
    """TemplateError unless every field of ``template`` is in ``samples`` and its spec fits the sample."""
    for _, name, spec in parse(template):
        if name is None:
            continue
        if name not in samples:
            raise TemplateError(f"unknown field {{{name}}}; this series has: {', '.join(sorted(samples))}")
        try:
            format(_as_date(samples[name], spec), spec)
        except (ValueError, TypeError) as e:
            raise TemplateError(f"{{{name}:{spec}}}: the format does not apply to {name} ({e})") from None


def _as_date(v: Any, spec: str) -> Any:
    """An ISO date text as a date when ``spec`` is a date spec (dates travel as ISO text)."""
    if isinstance(v, str) and spec and _DATE_SPEC.fullmatch(spec):
        try:
            return dt.date.fromisoformat(v[:10])
        except ValueError:
            return v
    return v


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` formatted with ``values``; never raises (see the module docstring)."""
    try:
        parts = parse(template)
    except TemplateError:
        return template[:MAX_LENGTH]
    out: list[str] = []
    for literal, name, spec in parts:
        out.append(literal)
        if name is None:
            continue
        v = values.get(name)
        if _missing(v):
            out.append("n/a")
            continue
        try:
            out.append(format(_as_date(v, spec), spec))
        except (ValueError, TypeError):
            out.append(str(v))
    text = "".join(out)
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


def show(name: str, v: Any) -> str:
    """A field's value for a generated text: ``+3.1 %`` for a percentage, ``3`` for a count, ``445.00``."""
    if _missing(v):
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if "pct" in name or name == "net_margin":
        return f"{float(v):+.1f} %"
    if isinstance(v, int):
        return str(v)
    f = float(v)
    return f"{f:,.0f}" if abs(f) >= 1e5 else f"{f:,.2f}" if abs(f) >= 1 else f"{f:.4g}"


__all__ = ["MAX_WIDTH", "TemplateError", "check_template", "parse", "render", "show"]
