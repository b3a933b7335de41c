"""The ``metrics ingest`` and ``metrics facts`` commands: output formats, storage, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jobs.cli import app

from .conftest import EXAMPLES, PROJECT, WriteDoc, copy_examples

CONTRACT_FIELDS = {"doc", "article", "published", "entity", "ticker", "metric", "value", "low", "high",
                   "qualifier", "unit", "period", "kind", "quote", "value_usd", "span_start", "span_end",
                   "fact_id", "ingested_at"}


def run(tmp_path: Path, config_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--root", str(tmp_path / "root"), "--config", str(config_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_jsonl_prints_contract_fields_and_stores_nothing(tmp_path: Path, config_dir: Path) -> None:
    """--dry-run --format jsonl prints one fact a line with every contract field; the store stays empty."""
    folder = copy_examples(tmp_path)
    code, out, _ = run(tmp_path, config_dir, "ingest", "--dry-run", "--format", "jsonl", str(folder))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(set(r) >= CONTRACT_FIELDS for r in rows)
    assert all(r["quote"] and r["span_end"] > r["span_start"] for r in rows)
    assert not (tmp_path / "root" / "facts").exists()


def test_ingest_then_facts_lists_them(tmp_path: Path, config_dir: Path) -> None:
    """Stored facts are listed by `facts`, filtered by entity (name, ticker or alias) and metric."""
    code, _, err = run(tmp_path, config_dir, "ingest", str(copy_examples(tmp_path)))
    assert code == 0, err
    _, out, _ = run(tmp_path, config_dir, "facts", "--format", "jsonl")
    every = [json.loads(line) for line in out.splitlines()]
    assert every and set(every[0]) >= CONTRACT_FIELDS
    _, out, _ = run(tmp_path, config_dir, "facts", "--entity", "AMZN", "--metric", "capex_guidance",
                    "--format", "json")
    amazon = json.loads(out)
    assert amazon and {r["entity"] for r in amazon} == {"Amazon"}
    assert {r["metric"] for r in amazon} == {"capex_guidance"}
    _, out, _ = run(tmp_path, config_dir, "facts", "--entity", "亚马逊", "--format", "json")
    assert {r["entity"] for r in json.loads(out)} == {"Amazon"}


def test_facts_as_of_keeps_the_latest_statement_known_then(tmp_path: Path, config_dir: Path) -> None:
    """--as-of shows facts published by that date, one (the latest) per entity, metric and period."""
    run(tmp_path, config_dir, "ingest", str(copy_examples(tmp_path)))
    _, out, _ = run(tmp_path, config_dir, "facts", "--entity", "Amazon", "--metric", "capex_guidance",
                    "--as-of", "2025-09-30", "--format", "json")
    [early] = json.loads(out)
    _, out, _ = run(tmp_path, config_dir, "facts", "--entity", "Amazon", "--metric", "capex_guidance",
                    "--as-of", "2026-01-31", "--format", "json")
    [late] = json.loads(out)
    assert early["published"] <= "2025-09-30" < late["published"]
    assert late["value"] > early["value"]


def test_second_ingest_adds_nothing(tmp_path: Path, config_dir: Path) -> None:
    """Ingesting the same folder twice reports every document skipped and stores no new fact."""
    folder = copy_examples(tmp_path)
    run(tmp_path, config_dir, "ingest", str(folder))
    _, before, _ = run(tmp_path, config_dir, "facts", "--format", "jsonl")
    code, _, err = run(tmp_path, config_dir, "ingest", str(folder))
    _, after, _ = run(tmp_path, config_dir, "facts", "--format", "jsonl")
    assert code == 0 and "0 document(s) read" in err
    assert len(after.splitlines()) == len(before.splitlines())


def test_failed_document_exits_1_naming_the_file(tmp_path: Path, config_dir: Path,
                                                 write_doc: WriteDoc) -> None:
    """A bad document gives exit status 1 and its name on stderr; the good ones are still stored."""
    write_doc("good.txt", "英伟达发布财报\n科技日报· 2025-11-20 07:00\n英伟达第三季度营收570亿美元。\n")
    bad = write_doc("broken.bin.txt", data=b"\x00\x00\x00\x00")
    code, out, err = run(tmp_path, config_dir, "ingest", "--format", "jsonl", str(bad.parent))
    assert code == 1
    assert "broken.bin.txt" in err and "binary" in err
    assert out.strip()  # the good document's facts were printed
    _, listed, _ = run(tmp_path, config_dir, "facts", "--format", "jsonl")
    assert listed.strip()


def test_bad_options_are_usage_errors(tmp_path: Path, config_dir: Path) -> None:
    """An unknown metric, a bad date or an unknown format is rejected."""
    for args in (["facts", "--metric", "profit"], ["facts", "--as-of", "yesterday"],
                 ["ingest", "--format", "xml", str(EXAMPLES)]):
        code, _, _ = run(tmp_path, config_dir, *args)
        assert code != 0


def test_acceptance_command_line(tmp_path: Path) -> None:
    """The installed `metrics` runs the acceptance command over the examples: JSON lines on stdout only."""
    exe = Path(sys.executable).parent / "metrics"
    proc = subprocess.run(
        [str(exe), "--root", str(tmp_path / "root"), "ingest", "--dry-run", "--format", "jsonl",
         str(EXAMPLES)],
        cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert all(json.loads(line)["fact_id"] for line in proc.stdout.splitlines())
