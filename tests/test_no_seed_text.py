"""The project ships no text of the seed documents: samples and tests are written anew."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RUN = 16  # characters in a row that would count as copied text
SUFFIXES = {".py", ".md", ".txt", ".html", ".toml", ".json", ".jsonl"}


def _chunks(text: str) -> set[str]:
    """Runs of RUN characters, ignoring white space, that hold at least some Han characters."""
    flat = re.sub(r"\s+", "", text)
    return {flat[i:i + RUN] for i in range(len(flat) - RUN + 1)
            if len(re.findall(r"[\u4e00-\u9fff]", flat[i:i + RUN])) >= RUN // 2}


def test_no_seed_sentence_in_the_project(shared_data: Callable[..., Path]) -> None:
    """No run of 16 characters (mostly Chinese) of a seed document occurs in a project file."""
    seed_chunks: set[str] = set()
    for f in shared_data("seeds").iterdir():
        seed_chunks |= _chunks(f.read_text(encoding="utf-8"))
    hits = []
    for f in PROJECT.rglob("*"):
        if f.suffix not in SUFFIXES or ".venv" in f.parts or not f.is_file() or f == Path(__file__):
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        common = _chunks(text) & seed_chunks
        if common:
            hits.append(f"{f.relative_to(PROJECT)}: {sorted(common)[0]}")
    assert not hits, "\n".join(hits)
