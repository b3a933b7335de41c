"""Whether the extracted facts are unchanged: runs ``metrics ingest --dry-run --format jsonl`` (the
real CLI) over the seeds, the development set and the held-out set (``tests/extract/heldout``) and
compares its output byte for byte with a saved copy (the ingestion time stamp, which differs from run
to run, blanked); likewise the figures no
known company takes (``extract_article(..., unattributed=...)``, in this process). A guard for speed
work on the extractor, which must not change what is extracted.

    .venv/bin/python benchmarks/extraction_same.py save [--out DIR]    # before a change
    .venv/bin/python benchmarks/extraction_same.py check [--out DIR]   # after it: exit 1 on a difference
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Unattributed, extract_article

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NL = b"\n"
_STAMP = re.compile(rb'"ingested_at": ?"[^"]*"')
SETS = {
    "seeds": SHARED / "seeds",
    "dev": SHARED / "dev" / "docs",
    "heldout": ROOT / "tests" / "extract" / "heldout" / "docs",
}


def run(docs: Path) -> bytes:
    metrics_bin = Path(sys.executable).with_name("metrics")
    with tempfile.TemporaryDirectory() as store:
        cmd = [str(metrics_bin), "--root", store, "ingest", "--dry-run", "--format", "jsonl", str(docs)]
        out = subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT).stdout
    return _STAMP.sub(b'"ingested_at": ""', out)


def unattributed(docs: Path) -> bytes:
    registry = Registry.load(ROOT / "config" / "companies.toml")
    lines = []
    for path in sorted(docs.iterdir()):
        for article in split_articles(read_document(path)):
            missed: list[Unattributed] = []
            extract_article(article, registry, unattributed=missed)
            lines += [json.dumps([path.name, dataclasses.asdict(u)], ensure_ascii=False) for u in missed]
    return "".join(line + "\n" for line in lines).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("save", "check"))
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "extraction_same")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, docs, get in [
        *((n, d, run) for n, d in SETS.items()),
        *((n + "-unattributed", d, unattributed) for n, d in SETS.items()),
    ]:
        got = get(docs)
        saved = a.out / f"{name}.jsonl"
        if a.mode == "save":
            saved.write_bytes(got)
            print(f"{name}: saved {got.count(NL)} lines to {saved}")
            continue
        want = saved.read_bytes()
        if got == want:
            print(f"{name}: IDENTICAL ({got.count(NL)} lines)")
            continue
        bad += 1
        print(f"{name}: DIFFERENT")
        diff = difflib.unified_diff(
            want.decode().splitlines(), got.decode().splitlines(), "before", "after", lineterm=""
        )
        for line in list(diff)[:20]:
            print("  " + line[:300])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
