"""The project ships no text of the seed documents or of the development set: samples, tests and
lexicon examples are written anew."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RUN = 16  # characters in a row that would count as copied text
EN_RUN = 48  # characters in a row of English text that would count as copied
SUFFIXES = {".py", ".md", ".txt", ".html", ".toml", ".json", ".jsonl"}


def _chunks(text: str) -> set[str]:
    """Runs of RUN characters, ignoring white space, that hold at least some Han characters."""
    flat = re.sub(r"\s+", "", text)
    return {flat[i:i + RUN] for i in range(len(flat) - RUN + 1)
            if len(re.findall(r"[\u4e00-\u9fff]", flat[i:i + RUN])) >= RUN // 2}


def _en_chunks(text: str) -> set[str]:
    """Runs of EN_RUN characters of mostly letters (lower case, single spaces): copied English prose."""
    flat = re.sub(r"\s+", " ", text.lower())
    return {flat[i:i + EN_RUN] for i in range(len(flat) - EN_RUN + 1)
            if sum(c.isalpha() for c in flat[i:i + EN_RUN]) >= EN_RUN * 3 // 4}


def _hits(chunks: set[str], split: Callable[[str], set[str]]) -> list[str]:
    hits = []
    for f in PROJECT.rglob("*"):
        if f.suffix not in SUFFIXES or ".venv" in f.parts or not f.is_file() or f == Path(__file__):
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        common = split(text) & chunks
        if common:
            hits.append(f"{f.relative_to(PROJECT)}: {sorted(common)[0]}")
    return hits


def test_no_seed_sentence_in_the_project(shared_data: Callable[..., Path]) -> None:
    """No run of 16 characters (mostly Chinese) of a seed document occurs in a project file."""
    seed_chunks: set[str] = set()
    for f in shared_data("seeds").iterdir():
        seed_chunks |= _chunks(f.read_text(encoding="utf-8"))
    hits = _hits(seed_chunks, _chunks)
    assert not hits, "\n".join(hits)


def test_no_dev_sentence_in_the_project(shared_data: Callable[..., Path]) -> None:
    """No run of 16 characters (mostly Chinese) or 48 of English prose of a development-set article
    occurs in a project file: rules are tested on sentences of our own."""
    zh: set[str] = set()
    en: set[str] = set()
    for f in shared_data("dev", "docs").iterdir():
        body = "\n".join(f.read_text(encoding="utf-8").splitlines()[2:])  # past the headline and source line
        zh |= _chunks(body)
        en |= _en_chunks(body)
    hits = _hits(zh, _chunks) + _hits(en, _en_chunks)
    assert not hits, "\n".join(hits)
