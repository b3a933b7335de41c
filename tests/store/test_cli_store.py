"""The store's commands end to end: prices import, query, compact, status (in-process ``main``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jobs.cli import main
from metrics.store.tables import Store
from tests.store.conftest import PRICE_SAMPLES

SAMPLE = PRICE_SAMPLES / "sample_2025q4.parquet"


class Cli:
    """Runs ``metrics --root ROOT --config CONFIG ...`` in-process and returns (exit code, stdout, stderr)."""

    def __init__(self, root: Path, config: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.config, self.capsys, self.monkeypatch = root, config, capsys, monkeypatch

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        argv = ["metrics", "--root", str(self.root), "--config", str(self.config), *args]
        self.monkeypatch.setattr(sys, "argv", argv)
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "root", config_dir, capsys, monkeypatch)


def test_import_twice_counts_each_bar_once(cli: Cli) -> None:
    """Importing the same file twice leaves one row per (ticker, date); the known close reads back."""
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    code, out, _ = cli("query", "select count(*) as n from prices", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 490}]
    code, out, _ = cli("query", "select close from prices where ticker = 'NVDA' and date = '2025-11-28'",
                       "--format", "csv")
    assert out.splitlines() == ["close", "177.0"]


def test_bad_file_is_named_others_are_kept_exit_1(cli: Cli, tmp_path: Path) -> None:
    """A bad file among good ones: named with its line, none of it stored, the others kept, exit 1."""
    bad = tmp_path / "BAD.csv"
    bad.write_text("Date,Open,High,Low,Close,Volume\n2025-01-02,1,1,1,1,1\n2025-01-03,1,1,1,oops,1\n",
                   encoding="utf-8")
    code, out, err = cli("prices", "import", str(bad), str(PRICE_SAMPLES / "AMD.csv"))
    assert code == 1
    assert out == ""
    assert f"{bad}, line 3, column 'Close': not a number: 'oops'" in err
    _, out, _ = cli("query", "select ticker, count(*) as n from prices group by ticker", "--format", "json")
    assert json.loads(out) == [{"ticker": "AMD", "n": 42}]


def test_query_json_is_one_array_and_csv_has_a_header(cli: Cli) -> None:
    """--format json prints one JSON array of row objects; csv prints a header then rows."""
    cli("prices", "import", str(PRICE_SAMPLES / "AMD.csv"))
    sql = "select ticker, date, close from prices order by date limit 2"
    code, out, _ = cli("query", sql, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and isinstance(rows, list) and rows[0] == {"ticker": "AMD", "date": "2025-10-01",
                                                                "close": rows[0]["close"]}
    _, out, _ = cli("query", "select ticker from prices limit 1", "--format", "csv")
    assert out.splitlines() == ["ticker", "AMD"]


def test_query_over_empty_store_and_every_table(cli: Cli) -> None:
    """facts, prices, alerts and documents are queryable on an empty store."""
    cli.root.mkdir()
    for table in ("facts", "prices", "alerts", "documents"):
        code, out, _ = cli("query", f"select count(*) as n from {table}", "--format", "json")
        assert (code, json.loads(out)) == (0, [{"n": 0}])


@pytest.mark.parametrize("sql", ["selec x", "select nope from prices", "select * from nowhere"])
def test_sql_errors_exit_2_with_a_message(cli: Cli, sql: str) -> None:
    """An invalid statement, column or table is a usage error: a one-line message and exit 2."""
    cli.root.mkdir()
    code, out, err = cli("query", sql)
    assert code == 2 and out == ""
    assert err.startswith("error: SQL error:")


def test_compact_and_status(cli: Cli) -> None:
    """A re-import changes nothing; compact runs; status shows datasets, damaged parts, failed documents."""
    cli("prices", "import", str(SAMPLE))
    cli("prices", "import", str(SAMPLE))
    code, out, _ = cli("status", "--format", "json")
    status = json.loads(out)
    prices = next(d for d in status["datasets"] if d["name"] == "prices")
    assert (prices["rows"], prices["stored_rows"], prices["files"]) == (490, 490, 2)
    assert (prices["first"], prices["last"]) == ("2025-10-01", "2026-05-29")
    assert status["damaged_parts"] == [] and status["failed_documents"] == []
    code, out, _ = cli("compact")
    assert code == 0 and "prices,0,2,2,490,490" in out
    _, out, _ = cli("status", "--format", "json")
    prices = next(d for d in json.loads(out)["datasets"] if d["name"] == "prices")
    assert (prices["rows"], prices["stored_rows"], prices["files"]) == (490, 490, 2)


def test_status_reports_a_damaged_part(cli: Cli) -> None:
    """A damaged part shows in status (table and json) and queries still answer from the rest."""
    cli("prices", "import", str(PRICE_SAMPLES / "AMD.csv"))
    cli("prices", "import", str(SAMPLE))
    part = Path(Store(cli.root).part_files("prices")[-1])
    part.write_bytes(b"garbage")
    code, out, _ = cli("status", "--format", "json")
    assert code == 0
    assert [d["path"] for d in json.loads(out)["damaged_parts"]] == [str(part)]
    code, out, _ = cli("status")
    assert code == 0 and "damaged_parts" in out and "damaged_parts: none" not in out
    _, out, _ = cli("query", "select count(*) as n from prices", "--format", "json")
    assert json.loads(out)[0]["n"] >= 42


def test_status_lists_its_sections_and_survives_a_broken_one(cli: Cli,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Status prints its explicit sections in order; one that fails shows its error, not a crash."""
    from jobs.cli import status as cli_status

    assert [name for name, _ in cli_status.SECTIONS] == [
        "datasets", "damaged_parts", "failed_documents", "prices", "leadership", "jobs", "deliveries"]
    broken = ("broken", lambda app_ctx, now: 1 / 0)
    monkeypatch.setattr(cli_status, "SECTIONS", [*cli_status.SECTIONS, broken])
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    code, out, _ = cli("status", "--format", "json")
    status = json.loads(out)
    assert code == 0 and list(status) == [name for name, _ in cli_status.SECTIONS]
    assert "ZeroDivisionError" in status["broken"]["error"]
    nyse = {row["exchange"]: row for row in status["prices"]}["XNYS"]
    assert nyse["newest_bar"] == "2026-05-29" and nyse["age_days"] > 0 and nyse["with_bars"] > 0


def test_status_never_creates_a_store_on_a_typo(cli: Cli) -> None:
    """Status on a root that does not exist says so (exit 2) and creates nothing."""
    code, out, err = cli("status")
    assert (code, out) == (2, "") and "no store here" in err
    assert not cli.root.exists()


def test_import_of_a_missing_file_is_named(cli: Cli, tmp_path: Path) -> None:
    """A file that does not exist is named, exit 1."""
    code, _, err = cli("prices", "import", str(tmp_path / "nope.csv"))
    assert code == 1 and "nope.csv" in err


def test_sample_copy_keeps_its_licence() -> None:
    """The price and Yahoo samples ship with their licences and attribution."""
    pairs = (("prices", "LICENSE-BackTester39"), ("yahoo_http", "LICENSE-node-yahoo-finance2"))
    for folder, licence in pairs:
        base = PRICE_SAMPLES.parent / folder
        assert (base / licence).exists() and (base / "README.md").exists()


@pytest.mark.parametrize(("sql", "words"), [
    ("delete from prices where ticker = 'NVDA'", "DELETE is refused"),
    ("DROP TABLE prices", "DROP is refused"),
    ("insert into prices select * from prices", "INSERT is refused"),
    ("create table t as select * from prices", "CREATE is refused"),
    ("truncate prices", "TRUNCATE is refused"),
    ("select * from read_csv('/etc/shadow')", "read_csv() reads files"),
    ("select * from READ_PARQUET('/tmp/x.parquet')", "READ_PARQUET() reads files"),
    ("select 1; delete from prices", "one statement at a time"),
    ("show tables", "expected SELECT or WITH, found 'show'"),
])
def test_query_is_read_only(cli: Cli, sql: str, words: str) -> None:
    """Statements that would write and functions that read files are refused with exit 2; nothing changes."""
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    code, out, err = cli("query", sql)
    assert (code, out) == (2, "")
    assert words in err and "Traceback" not in err
    code, out, _ = cli("query", "select count(*) as n from prices", "--format", "json")
    assert json.loads(out) == [{"n": 490}]


def test_query_literals_and_comments_are_not_keywords(cli: Cli) -> None:
    """A word such as 'delete' inside a string or a comment does not make a query refused."""
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    code, out, _ = cli("query", "select count(*) as n from prices where ticker <> 'drop; delete' -- update\n",
                       "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 490}]


def test_query_table_rounds_floats_and_caps_rows(cli: Cli) -> None:
    """The table shows rounded floats and at most --limit rows, with a note of how many were left out."""
    assert cli("prices", "import", str(SAMPLE))[0] == 0
    code, out, err = cli("query", "select ticker, close / 3 as third from prices order by ticker, date",
                         "--limit", "5", "--format", "table")
    assert code == 0
    assert "485 more row(s) not shown of 490" in err
    numbers = [cell.strip() for line in out.splitlines() if "│" in line for cell in line.split("│")[2:3]]
    assert numbers and all(len(n.partition(".")[2]) <= 4 for n in numbers if n and n != "third")


def test_library_query_is_the_same_runner(store: Store) -> None:
    """``metrics.query(store, sql)`` is the CLI's runner: same read-only contract, a DataFrame back."""
    import metrics
    from metrics.errors import QueryError

    assert metrics.query(store, "select count(*) as n from prices").to_dicts() == [{"n": 0}]
    with pytest.raises(QueryError, match="read-only"):
        metrics.query(store, "delete from prices")


def test_version_is_printed(cli: Cli) -> None:
    """`metrics --version` prints the installed version and exits 0."""
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("metrics ") and out.strip() != "metrics"
