"""Declared schemas of the datasets in the store, and the closed vocabularies they use.

Writers conform frames to these schemas before writing (``conform``); readers scan with them.
Each dataset has a natural key: a table holds one row per key (writes MERGE on it, the largest
``version`` wins), however often the same rows were imported. Each Delta table adds the partition
column ``year`` (of ``partition_by``; 0 when null) to the declared columns (``table_schema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from polars.datatypes import DataType, DataTypeClass

UTC_TS = pl.Datetime("us", "UTC")
YEAR = "year"                    # the partition column of every table (not part of a scan's schema)

METRICS: tuple[str, ...] = (
    "revenue", "revenue_growth_yoy", "net_income", "net_income_growth_yoy", "net_loss",
    "operating_loss", "ebitda", "ebitda_change", "gross_margin", "net_margin", "operating_margin",
    "capex", "capex_guidance", "investment_commitment", "deal_value", "valuation", "market_cap",
    "funding_raised", "share_price_change", "buyback", "shares_outstanding", "leverage",
    "dividend_yield", "cash", "corporate_costs", "unit_price", "customers", "units", "power_capacity",
)
KINDS: tuple[str, ...] = ("actual", "guidance", "estimate", "commitment")
QUALIFIERS: tuple[str, ...] = ("gt", "lt", "approx")
NON_MONEY_UNITS: tuple[str, ...] = ("pct", "x", "count", "GW", "MW")
ALERT_STATES: tuple[str, ...] = ("pending", "firing", "resolved")

_FACTS: dict[str, DataType | DataTypeClass] = {
    "fact_id": pl.String,        # stable hash: same document twice -> same ids
    "doc": pl.String,            # file name
    "doc_hash": pl.String,       # sha256 of the file's bytes
    "article": pl.String,        # headline of the article
    "published": pl.Date,        # when the market could know it (null if unknowable)
    "entity": pl.String,         # canonical English name
    "ticker": pl.String,         # Yahoo symbol or null
    "metric": pl.String,         # one of METRICS
    "value": pl.Float64,         # base units (USD 5e10, pct 45.46, x 5.5)
    "low": pl.Float64,
    "high": pl.Float64,
    "qualifier": pl.String,      # gt | lt | approx | null
    "unit": pl.String,           # ISO currency, pct, x, count, GW, MW
    "period": pl.String,         # FY2025, 2025Q3, 2025H1, 2025-9M, 2025..2032, ASOF, null
    "kind": pl.String,           # actual | guidance | estimate | commitment
    "quote": pl.String,          # exact text of the document
    "span_start": pl.Int64,      # character offsets of the quote in the document text
    "span_end": pl.Int64,
    "value_usd": pl.Float64,     # money converted at `published`, else null
    "repaired": pl.Boolean,      # a lost decimal point was repaired
    "ingested_at": UTC_TS,       # when we learned it
}
FACTS = pl.Schema(_FACTS)

_PRICES: dict[str, DataType | DataTypeClass] = {
    "ticker": pl.String,
    "date": pl.Date,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "adj_close": pl.Float64,
    "volume": pl.Int64,
    "currency": pl.String,
    "source": pl.String,         # yahoo | file:<name>
    "fetched_at": UTC_TS,
}
PRICES = pl.Schema(_PRICES)

_ALERTS: dict[str, DataType | DataTypeClass] = {
    "alert_id": pl.String,       # stable hash of (rule, entity, state, at)
    "rule": pl.String,
    "entity": pl.String,
    "state": pl.String,          # pending | firing | resolved
    "at": UTC_TS,                # evaluation time of the transition
    "value": pl.Float64,
    "severity": pl.String,
    "summary": pl.String,
    "statement": pl.String,      # fact rules: the statement (fact_id) that fired, else null
    "recorded_at": UTC_TS,
}
ALERTS = pl.Schema(_ALERTS)

_DOCUMENTS: dict[str, DataType | DataTypeClass] = {
    "doc_hash": pl.String,       # sha256 of the bytes
    "path": pl.String,
    "name": pl.String,
    "size": pl.Int64,
    "encoding": pl.String,
    "status": pl.String,         # ok | failed
    "error": pl.String,
    "articles": pl.Int64,
    "facts": pl.Int64,
    "ingested_at": UTC_TS,
}
DOCUMENTS = pl.Schema(_DOCUMENTS)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset of the store: its schema, natural key, ordering and partition column."""

    name: str
    schema: pl.Schema
    key: tuple[str, ...]
    sort: tuple[str, ...]
    partition_by: str            # the date/datetime column whose year names the partition
    version: str                 # column whose largest value wins among rows of one key


DATASETS: dict[str, Dataset] = {
    "facts": Dataset("facts", FACTS, ("fact_id",), ("published", "entity", "metric"), "published",
                     "ingested_at"),
    "prices": Dataset("prices", PRICES, ("ticker", "date"), ("ticker", "date"), "date", "fetched_at"),
    "alerts": Dataset("alerts", ALERTS, ("alert_id",), ("at", "rule", "entity"), "at", "recorded_at"),
    "documents": Dataset("documents", DOCUMENTS, ("doc_hash",), ("ingested_at",), "ingested_at",
                         "ingested_at"),
}


def conform(df: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """Return ``df`` with exactly the dataset's columns, in order and cast to the declared types.

    Missing nullable columns are added as nulls; unknown columns raise ``ValueError`` naming them.
    """
    schema = DATASETS[dataset].schema
    extra = [c for c in df.columns if c not in schema]
    if extra:
        raise ValueError(f"{dataset}: unknown columns {extra}")
    return df.select(
        (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype, strict=False).alias(name)
        for name, dtype in schema.items()
    )


def table_schema(dataset: str) -> Any:
    """The Arrow schema of ``dataset``'s Delta table: the declared columns, then ``year`` (int32).

    Plain Arrow strings (not string views), which every Delta reader understands.
    """
    schema = pl.Schema([*DATASETS[dataset].schema.items(), (YEAR, pl.Int32)])
    return pl.DataFrame(schema=schema).to_arrow(compat_level=pl.CompatLevel.oldest()).schema


def strictly_sorted(data: pl.DataFrame, key: list[str]) -> bool:
    """True when the rows are in strictly increasing order of ``key`` (so no key repeats), nulls aside.

    The first column is compared once for equality (its runs, ``rle_id``), its run values (a few
    hundred tickers in a million bars) for order, the rest within runs: about a third of the time of
    comparing the strings for order on every row."""
    if data.height < 2:
        return True
    first, rest = key[0], key[1:]
    runs = data.get_column(first).rle().struct.field("value")
    if not bool((runs > runs.shift()).slice(1).all()):
        return False
    if not rest:                     # one column: no run may hold two rows
        return runs.len() == data.height
    run = pl.col(first).rle_id()
    later = pl.lit(False)
    equal = pl.lit(True)
    for c in rest:
        later = later | (equal & (pl.col(c) > pl.col(c).shift()))
        equal = equal & (pl.col(c) == pl.col(c).shift())
    return bool(data.lazy().select(((run != run.shift()) | later).slice(1).all()).collect().item())
