"""Backtests: replaying rules over history gives the same changes as tick-by-tick evaluation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import bars, empty_facts, facts_frame, make_rules
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jobs.cli import app
from metrics.alerting.backtest import backtest, changes_of, compress, replay
from metrics.alerting.evaluate import Evaluator
from metrics.alerting.lifecycle import AlertState, Evaluation, transition
from metrics.alerting.rules import Rule
from metrics.store.tables import Store

D = dt.date
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def changes(df: pl.DataFrame) -> list[tuple[str, str, str, str]]:
    return [(r["rule"], r["entity"], r["state"], r["at"].isoformat()) for r in df.to_dicts()]


def test_backtest_scenario_exact() -> None:
    """A hand-made series gives exactly the expected pending, firing and resolved dates."""
    #            Mon1 Tue2 Wed3 Thu4 Fri5 Mon8 Tue9 Wed10 Thu11 Fri12
    closes = [120, 95, 90, 85, 110, 90, 80, 105, 104, 103]
    prices = bars("X", closes, start=D(2024, 1, 1)).lazy()
    rules = make_rules(
        {"name": "bars", "series": "prices.close", "condition": "value < 100", "for": "2 bars"},
        {"name": "now", "series": "prices.close", "condition": "value < 100", "keep_firing_for": "2d"},
        {"name": "dur", "series": "prices.close", "condition": "value < 100", "for": "3d"},
    )
    got = changes(backtest(rules, prices, empty_facts(), start=D(2024, 1, 1), end=D(2024, 1, 12)))
    # bars: pending Tue 2, then Wed 3 is bar 1 and Thu 4 bar 2: firing; Fri 5 fails: resolved;
    #       pending again Mon 8, Wed 10 fails before 2 bars: back to inactive, silently.
    # now:  fires Tue 2; Fri 5 fails (keep 2d from Fri 5) but Mon 8 holds again; Wed 10 fails, Thu 11 is
    #       1 day later, Fri 12 two: resolved.
    # dur:  pending Tue 2; Wed 3 (1 day) and Thu 4 (2 days) are too early; Fri 5 fails: inactive;
    #       the same again from Mon 8.
    assert got == [
        ("bars", "X", "pending", "2024-01-02"),
        ("dur", "X", "pending", "2024-01-02"),
        ("now", "X", "firing", "2024-01-02"),
        ("bars", "X", "firing", "2024-01-04"),
        ("bars", "X", "resolved", "2024-01-05"),
        ("bars", "X", "pending", "2024-01-08"),
        ("dur", "X", "pending", "2024-01-08"),
        ("now", "X", "resolved", "2024-01-12"),
    ]


def tick_by_tick(
    rules: list[Rule], prices: pl.LazyFrame, facts: pl.LazyFrame, dates: list[dt.date]
) -> list[tuple[str, str, str, str]]:
    """The reference: evaluate() at each date, then transition() per instance."""
    ev = Evaluator(rules)
    by_name = {r.name: r for r in rules}
    states: dict[tuple[str, str], AlertState] = {}
    out = []
    for d in dates:
        now = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        for row in ev.evaluate(prices, facts, at=d).to_dicts():
            key = (row["rule"], row["entity"])
            step = transition(states.get(key), Evaluation.from_row(row), by_name[row["rule"]], now=now)
            states[key] = step.state
            if step.change is not None:
                out.append((row["rule"], row["entity"], step.change, d.isoformat()))
    return sorted(out, key=lambda c: (c[3], c[0], c[1]))


def test_backtest_agrees_with_ticks_on_real_prices(real_prices: pl.LazyFrame) -> None:
    """On real bars, the vectorized backtest equals evaluating and transitioning day by day."""
    rules = make_rules(
        {
            "name": "fall",
            "series": "prices.close",
            "entities": ["NVDA", "AAPL", "MSFT", "AMZN"],
            "condition": "change_pct_5 <= -5",
            "keep_firing_for": "3d",
        },
        {
            "name": "sma",
            "series": "prices.close",
            "entities": ["NVDA", "AAPL", "MSFT", "AMZN"],
            "condition": "value < sma_50",
            "for": "2 bars",
        },
        {
            "name": "hi",
            "series": "prices.close",
            "entities": ["NVDA", "AAPL", "MSFT", "AMZN"],
            "condition": "value >= high_52w * 0.97",
            "for": "2d",
            "keep_firing_for": "1d",
        },
    )
    start, end = D(2025, 2, 1), D(2025, 5, 15)
    got = changes(backtest(rules, real_prices, empty_facts(), start=start, end=end))
    dates = (
        real_prices.filter(pl.col("date").is_between(start, end) & (pl.col("ticker") == "NVDA"))
        .select("date")
        .collect()["date"]
        .to_list()
    )
    assert got == tick_by_tick(rules, real_prices, empty_facts(), dates)
    assert {c[2] for c in got} == {"pending", "firing", "resolved"}


def test_backtest_known_real_dates(real_prices: pl.LazyFrame) -> None:
    """NVDA closed under 100 USD in April 2025: the alert fires and resolves on the real dates."""
    (r,) = make_rules(
        {
            "name": "nvda-below-100",
            "series": "prices.close",
            "entities": ["NVDA"],
            "condition": "value < 100",
            "for": "0",
        }
    )
    got = backtest([r], real_prices, empty_facts(), start=D(2025, 3, 1), end=D(2025, 6, 30))
    closes = dict(
        real_prices.filter(pl.col("ticker") == "NVDA").select("date", "close").collect().iter_rows()
    )
    firing = [row for row in got.to_dicts() if row["state"] == "firing"]
    resolved = [row for row in got.to_dicts() if row["state"] == "resolved"]
    assert firing and resolved
    for row in firing:
        assert closes[row["at"]] < 100 and row["value"] == closes[row["at"]]
    for row in resolved:
        assert closes[row["at"]] >= 100


def test_fact_rule_fires_once_per_statement_in_backtest() -> None:
    """A capex-guidance rule fires on each raised statement; re-ingested copies change nothing."""
    rows = [
        {
            "entity": "Amazon",
            "ticker": "AMZN",
            "metric": "capex_guidance",
            "value": 100e9,
            "period": "FY2025",
            "published": D(2025, 2, 6),
            "kind": "guidance",
        },
        {
            "entity": "Amazon",
            "ticker": "AMZN",
            "metric": "capex_guidance",
            "value": 118e9,
            "period": "FY2025",
            "published": D(2025, 8, 1),
            "kind": "guidance",
        },
        {
            "entity": "Amazon",
            "ticker": "AMZN",
            "metric": "capex_guidance",
            "value": 140e9,
            "period": "FY2025",
            "published": D(2025, 10, 31),
            "kind": "guidance",
        },
    ]
    facts = facts_frame(rows)
    dup = pl.concat([facts, facts])  # the same fact_ids stored twice
    (r,) = make_rules({"name": "capex", "series": "facts.capex_guidance", "condition": "revision_pct > 10"})
    prices = bars("AMZN", [1.0] * 300, start=D(2025, 1, 1)).lazy()
    for f in (facts, dup):
        got = changes(backtest([r], prices, f, start=D(2025, 1, 1), end=D(2025, 12, 31)))
        assert got == [
            ("capex", "Amazon", "firing", "2025-08-01"),
            ("capex", "Amazon", "firing", "2025-10-31"),
        ]


def test_backtest_calendar_option() -> None:
    """With a calendar, the evaluation days are its sessions, so a missing bar shows as stale."""
    prices = bars("X", [1, 2, 3, 4, None, None, None, 8], start=D(2024, 1, 1)).lazy()
    (r,) = make_rules({"name": "stale", "series": "prices.close", "condition": "stale_bars >= 3"})
    got = changes(
        backtest([r], prices, empty_facts(), start=D(2024, 1, 1), end=D(2024, 1, 10), calendar="XNYS")
    )
    assert got == [("stale", "X", "firing", "2024-01-09"), ("stale", "X", "resolved", "2024-01-10")]
    assert changes(backtest([r], prices, empty_facts(), start=D(2024, 1, 1), end=D(2024, 1, 10))) == []


rule_specs = st.fixed_dictionaries(
    {
        "for": st.sampled_from(["0", "1 bars", "2 bars", "1d", "3d", "36h"]),
        "keep_firing_for": st.sampled_from(["0", "1d", "2d", "5d"]),
        "series": st.sampled_from(["prices.close", "facts.revenue"]),
    }
)
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.integers(1, 3),
        st.sampled_from([True, False, None]),
        st.sampled_from(["s1", "s2", None]),
    ),
    max_size=80,
)


def _times(rows: list[Any]) -> list[int]:
    """Time of each row (rows sorted by entity) in seconds: each entity's clock starts at 0 and
    moves on by the row's gap in half-days."""
    times, t, prev = [], 0, None
    for ent, gap, _, _ in rows:
        t = 0 if ent != prev else t
        t += gap * 43200
        prev = ent
        times.append(t)
    return times


@settings(max_examples=300, deadline=None)
@given(spec=rule_specs, rows=rows_strategy)
def test_replay_agrees_with_transition(spec: dict[str, Any], rows: list[Any]) -> None:
    """The backtest's tight loop and the pure transition function give the same changes."""
    (r,) = make_rules({"name": "r", "condition": "value > 0", **spec})
    rows = sorted(rows, key=lambda x: x[0])  # by entity, then in time order
    times = _times(rows)
    ents, holds, stmts = [x[0] for x in rows], [x[2] for x in rows], [x[3] for x in rows]
    fast = replay(r, ents, times, holds, stmts)
    slow: list[tuple[int, str]] = []
    states: dict[str, AlertState] = {}
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i, (ent, h, s) in enumerate(zip(ents, holds, stmts, strict=True)):
        step = transition(
            states.get(ent),
            Evaluation("r", ent, h, statement=s),
            r,
            now=base + dt.timedelta(seconds=times[i]),
        )
        states[ent] = step.state
        if step.change is not None:
            slow.append((i, step.change))
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(spec=rule_specs, rows=rows_strategy)
def test_compress_keeps_every_change(spec: dict[str, Any], rows: list[Any]) -> None:
    """Replaying only the rows ``compress`` keeps gives the same changes as replaying all rows."""
    (r,) = make_rules({"name": "r", "condition": "value > 0", **spec})
    rows = sorted(rows, key=lambda x: x[0])
    times = _times(rows)
    df = pl.DataFrame(
        {
            "entity": [x[0] for x in rows],
            "__t": times,
            "holds": [x[2] for x in rows],
            "statement": [x[3] for x in rows],
        },
        schema={"entity": pl.String, "__t": pl.Int64, "holds": pl.Boolean, "statement": pl.String},
    )

    def run(d: pl.DataFrame) -> list[tuple[str, int, str]]:
        ch = replay(
            r, d["entity"].to_list(), d["__t"].to_list(), d["holds"].to_list(), d["statement"].to_list()
        )
        return [(d["entity"][i], d["__t"][i], c) for i, c in ch]

    assert run(compress(df, r)) == run(df)



# every form of hold: bars (0 is immediate), durations on and off the rows' times (rows are whole
# hours apart; 0.5s and 90m fall between them), zero
holds_forms = ["0", "0 bars", "1 bars", "2 bars", "5 bars", "0.5s", "1h", "90m", "1d", "36h", "3d"]
vector_specs = st.fixed_dictionaries(
    {
        "for": st.sampled_from(holds_forms),
        "keep_firing_for": st.sampled_from(holds_forms),
        "series": st.sampled_from(["prices.close", "facts.revenue"]),
    }
)
vector_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from([0, 1, 2, 3, 12, 24, 36]),  # hours since the entity's previous row
        st.sampled_from([True, True, False, False, None]),
        st.sampled_from(["s1", "s2", None]),
    ),
    min_size=30,  # long enough for episodes that resolve and fire again
    max_size=150,
)


@settings(max_examples=1000, deadline=None)
@given(spec=vector_specs, rows=vector_rows, with_statements=st.booleans())
def test_state_changes_agree_with_replay(
    spec: dict[str, Any], rows: list[Any], with_statements: bool
) -> None:
    """The vectorized state changes (what the backtest runs) equal the loop over the lifecycle's
    ``step`` (``replay``), row for row, for every kind of hold, missing data and statements."""
    (r,) = make_rules({"name": "r", "condition": "value > 0", **spec})
    rows = sorted(rows, key=lambda x: x[0])  # by entity, then in time order
    times, t, prev = [], 1_700_000_000, None
    for ent, gap, _, _ in rows:
        t = 1_700_000_000 if ent != prev else t + gap * 3600
        prev = ent
        times.append(t)
    ents, holds = [x[0] for x in rows], [x[2] for x in rows]
    stmts = [x[3] for x in rows] if with_statements else None
    assert changes_of(r, ents, times, holds, stmts) == replay(r, ents, times, holds, stmts)


@pytest.mark.parametrize(
    ("spec", "holds", "stmts", "expected"),
    [
        # fact series: a new statement while firing fires again, a repeated one or none does not;
        # keep_firing_for keeps the statement over failing rows; after a resolve, "s2" starts afresh
        (
            {"for": "1 bars", "keep_firing_for": "2 bars", "series": "facts.revenue"},
            [True, True, True, None, True, False, False, True, True, False, False, False, True],
            ["s1", "s1", "s2", "s3", None, "s9", None, "s2", "s3", None, None, None, "s2"],
            [(0, "pending"), (1, "firing"), (2, "firing"), (8, "firing"), (11, "resolved"), (12, "pending")],
        ),
        # immediate: fires at once, resolves at the first failing row; "0 bars" is the same
        (
            {"for": "0 bars", "keep_firing_for": "0", "series": "prices.close"},
            [False, True, True, False, None, True],
            None,
            [(1, "firing"), (3, "resolved"), (5, "firing")],
        ),
    ],
)
def test_state_changes_examples(
    spec: dict[str, Any], holds: list[bool | None], stmts: list[str | None] | None, expected: list[Any]
) -> None:
    """Worked examples, the same from the loop and from the vectorized form."""
    (r,) = make_rules({"name": "r", "condition": "value > 0", **spec})
    ents, times = ["A"] * len(holds), [i * 86400 for i in range(len(holds))]
    assert replay(r, ents, times, holds, stmts) == expected
    assert changes_of(r, ents, times, holds, stmts) == expected


# ----------------------------------------------------------------------------------------- CLI


def _project(tmp_path: Path, config_dir: Path, real_prices: pl.LazyFrame) -> list[str]:
    store = Store(tmp_path / "root")
    store.append(
        "prices",
        real_prices.collect().with_columns(source=pl.lit("file:test"), fetched_at=pl.lit(NOW)),
        now=NOW,
    )
    return ["--root", str(tmp_path / "root"), "--config", str(config_dir)]


def test_cli_backtest_jsonl(tmp_path: Path, config_dir: Path, real_prices: pl.LazyFrame) -> None:
    """``rules backtest --format jsonl`` prints one change a line with rule, entity, state, at, value."""
    (config_dir / "rules.toml").write_text(
        """
[[rules]]
name = "nvda-below-100"
series = "prices.close"
entities = ["NVDA"]
condition = "value < 100"
for = "2 bars"
""",
        encoding="utf-8",
    )
    args = _project(tmp_path, config_dir, real_prices)
    res = CliRunner().invoke(
        app, [*args, "rules", "backtest", "--from", "2025-03-01", "--to", "2025-06-30", "--format", "jsonl"]
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines and all(set(x) == {"rule", "entity", "state", "at", "value"} for x in lines)
    assert lines[0]["state"] == "pending" and lines[1]["state"] == "firing"
    assert all(x["state"] in ("pending", "firing", "resolved") for x in lines)
    assert D.fromisoformat(lines[0]["at"]) >= D(2025, 3, 1)


def test_cli_backtest_shipped_rules(tmp_path: Path, config_dir: Path, real_prices: pl.LazyFrame) -> None:
    """The shipped rules backtest over real prices with a table on stdout."""
    args = _project(tmp_path, config_dir, real_prices)
    res = CliRunner().invoke(
        app,
        [
            *args,
            "rules",
            "backtest",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--rule",
            "close-under-200d-average",
            "--rule",
            "fall-10pct-in-5-sessions",
            "--format",
            "table",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "backtest 2025-01-01 .. 2025-12-31" in res.stdout and "firing" in res.stdout


def test_cli_backtest_into_a_pipe_is_jsonl_and_a_table_caps_its_rows(
    tmp_path: Path, config_dir: Path, real_prices: pl.LazyFrame
) -> None:
    """Into a pipe the backtest is JSON lines by default (every state change); a table shows at most
    100 rows and says on stderr how many were left out."""
    args = [*_project(tmp_path, config_dir, real_prices), "rules", "backtest", "--from", "2023-03-01",
            "--to", "2026-05-29"]
    piped = CliRunner().invoke(app, args)
    assert piped.exit_code == 0, piped.output
    changes = [json.loads(line) for line in piped.stdout.splitlines()]
    assert len(changes) > 100 and {"rule", "entity", "state", "at"} <= set(changes[0])
    table = CliRunner().invoke(app, [*args, "--format", "table"])
    assert table.exit_code == 0, table.output
    assert f"{len(changes) - 100} more row(s) not shown of {len(changes)}" in table.stderr


def test_cli_backtest_bad_usage(tmp_path: Path, config_dir: Path) -> None:
    """A bad date or format exits with status 2."""
    args = ["--root", str(tmp_path / "root"), "--config", str(config_dir)]
    import sys

    from jobs.cli import main

    for extra in (
        ["--from", "2025-13-01", "--to", "2025-12-31"],
        ["--from", "2025-01-01", "--to", "2025-12-31", "--format", "xml"],
    ):
        old = sys.argv
        sys.argv = ["metrics", *args, "rules", "backtest", *extra]
        try:
            main()
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError("expected exit 2")
        finally:
            sys.argv = old


def test_cli_rules_check(tmp_path: Path, config_dir: Path, capsys: Any) -> None:
    """``rules check`` says OK for the shipped file and exits 2 naming rule and field otherwise."""
    import sys

    from jobs.cli import main

    def run(*extra: str) -> int:
        old = sys.argv
        sys.argv = ["metrics", "--config", str(config_dir), "rules", "check", *extra]
        try:
            main()
        except SystemExit as e:
            return int(e.code or 0)
        finally:
            sys.argv = old
        return 0

    assert run() == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[rules]]\nname = "x"\nseries = "prices.close"\ncondition = "value < 1"\nfor = "2 days"\n'
        'channels = ["pager"]\n',
        encoding="utf-8",
    )
    assert run(str(bad)) == 2
    errtext = capsys.readouterr().err
    assert "rule 'x', field 'for'" in errtext and "rule 'x', field 'channels'" in errtext


def test_cli_rules_check_warns_each_unknown_entity_in_order(
    tmp_path: Path, config_dir: Path, capsys: Any
) -> None:
    """Every rule naming an entity neither stored nor registered gets its own warning line, in the
    file's order (written at once), and the file is still OK."""
    import sys

    from jobs.cli import main

    rules = tmp_path / "rules.toml"
    rules.write_text(
        "".join(
            f'[[rules]]\nname = "r{i}"\nseries = "prices.close"\nentities = ["{e}"]\n'
            'condition = "value < 1"\nchannels = ["log"]\n'
            for i, e in enumerate(["ZZQ1", "NVDA", "ZZQ2", "ZZQ3"])
        ),
        encoding="utf-8",
    )
    old = sys.argv
    sys.argv = ["metrics", "--config", str(config_dir), "--root", str(tmp_path / "root"), "rules", "check",
                str(rules)]
    try:
        main()
    except SystemExit as e:
        assert not e.code
    finally:
        sys.argv = old
    got = capsys.readouterr()
    assert "4 rule(s) OK" in got.out
    warnings = [line for line in got.err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {rules}: rule 'r{i}': entity '{e}' is neither in the store nor in the registry"
        for i, e in ((0, "ZZQ1"), (2, "ZZQ2"), (3, "ZZQ3"))
    ]
