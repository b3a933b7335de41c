"""The bad-input corpus (``cases.toml``): every bad input gets its exit code and a message naming it.

Each case runs the real command line in-process (``jobs.cli.main``) on a fresh store and config, and
checks: the exit code, a stderr line naming the file / line / field / variable, no traceback, and
that the store holds exactly what the good inputs of the same command put there (nothing for a
command without good inputs; no store at all where the root was refused).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from jobs.cli import main
from metrics.store.tables import Store
from tests.conftest import PROJECT

HERE = Path(__file__).parent
FILES = HERE / "files"
CASES: list[dict[str, Any]] = tomllib.loads((HERE / "cases.toml").read_text(encoding="utf-8"))["case"]


def _fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """``metrics ARGV...`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["metrics", *argv])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@cache
def good_document_facts() -> int:
    """Facts the good document alone gives (measured once, with the same registry)."""
    import datetime as dt
    import tempfile

    from metrics.extraction.entities import Registry
    from metrics.extraction.ingest import ingest_paths

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "root")
        report = ingest_paths([FILES / "documents" / "good.txt"], store,
                              Registry.load(PROJECT / "config" / "companies.toml"),
                              now=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
        assert not report.errors and report.facts > 0
        return int(report.facts)


def _rows(root: Path, dataset: str) -> int:
    return int(Store(root).scan(dataset).select(pl.len()).collect().item())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The case's command exits as declared, names the bad input, and the store holds only the good."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT / "config", config)
    root = tmp_path / "root"
    mode = case.get("root", "made")
    if mode == "made":
        root.mkdir()
    elif mode == "file":
        root.write_text("not a folder\n", encoding="utf-8")
    elif mode == "under-file":
        (tmp_path / "plain").write_text("a file\n", encoding="utf-8")
        root = tmp_path / "plain" / "root"
    if "settings" in case:
        shutil.copy(FILES / "settings" / case["settings"], config / "settings.toml")
    places = {"files": str(FILES), "root": str(root), "config": str(config), "tmp": str(tmp_path)}
    for key, value in case.get("env", {}).items():
        monkeypatch.setenv(key, _fill(value, places))
    argv = [_fill(a, places) for a in case["args"]]
    if case.get("global", True):
        argv = ["--root", str(root), "--config", str(config), *argv]

    code, _, err = run_cli(argv, capsys, monkeypatch)

    assert "Traceback" not in err, err
    if case["exit"] != "any":
        assert code == case["exit"], err
    else:
        assert code in (0, 1), err
    message = _fill(case["message"], places)
    assert message in err, err
    if mode == "absent":
        assert not root.exists()
    elif mode == "made":
        expected = case.get("store", {})
        for dataset in ("prices", "facts"):
            want = expected.get(dataset, 0)
            got = _rows(root, dataset)
            if want == "good":
                assert got == good_document_facts(), dataset
            elif want == "good+":
                assert got >= good_document_facts(), dataset
            else:
                assert got == want, dataset


def test_the_corpus_is_large_and_covers_every_area() -> None:
    """At least 60 bad inputs, from documents, price files, rules, settings, environment and command lines."""
    assert len(CASES) >= 60
    prefixes = {c["name"].split("-", 1)[0] for c in CASES}
    assert {"price", "document", "rules", "settings", "env", "root", "cli"} <= prefixes
    assert len({c["name"] for c in CASES}) == len(CASES)
