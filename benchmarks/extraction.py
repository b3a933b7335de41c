"""Extraction quality and speed.

Quality: runs ``metrics ingest --dry-run --format jsonl SEEDS`` (the real CLI), scores the output with
score_facts.py against the gold file, and prints precision, recall and F1 overall and per metric.
Speed: the seed documents repeated to about 10 MB (one file per copy, written to a temp folder), read,
split and extracted in this process; prints the median MB/s of the whole pipeline per core, next to
the median of text normalization alone (the floor every extractor pays) as the peer.

    .venv/bin/python benchmarks/extraction.py [--seeds DIR] [--gold FILE] [--scorer FILE] [--mb 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def quality(seeds: Path, gold: Path, scorer: Path) -> dict[str, object]:
    metrics_bin = Path(sys.executable).with_name("metrics")
    with tempfile.TemporaryDirectory() as store, tempfile.NamedTemporaryFile("w+", suffix=".jsonl") as pred:
        cmd = [str(metrics_bin), "--root", store, "ingest", "--dry-run", "--format", "jsonl", str(seeds)]
        subprocess.run(cmd, stdout=pred, stderr=subprocess.DEVNULL, check=False, cwd=ROOT)
        pred.flush()
        out = subprocess.run([sys.executable, str(scorer), str(gold), pred.name, "--json"],
                             capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def speed(seeds: Path, target_mb: float, runs: int = 3) -> tuple[float, float, float, float]:
    from metrics.documents import read_document, split_articles
    from metrics.entities import Registry
    from metrics.extract import extract_article
    from metrics.normalize import normalize

    registry = Registry.load(ROOT / "config" / "companies.toml")
    sources = [p for p in sorted(seeds.iterdir()) if p.is_file()]
    unit = sum(p.stat().st_size for p in sources)
    copies = max(1, int(target_mb * 1e6 / unit))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(copies):
            for p in sources:
                dst = Path(tmp) / f"{i:04d}_{p.name}"
                # a marker line makes every copy a distinct document (no hash-level shortcut)
                dst.write_bytes(p.read_bytes() + f"\n<!-- copy {i} -->\n".encode())
                paths.append(dst)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        full, ext_only, norm_only = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            docs = [(doc, split_articles(doc)) for doc in (read_document(p) for p in paths)]
            t1 = time.perf_counter()
            n_facts = sum(len(extract_article(a, registry)) for _, arts in docs for a in arts)
            t2 = time.perf_counter()
            full.append(t2 - t0)
            ext_only.append(t2 - t1)
            texts = [doc.text for doc, _ in docs]
            t0 = time.perf_counter()
            for t in texts:
                normalize(t)
            norm_only.append(time.perf_counter() - t0)
        assert n_facts > 0
    med = statistics.median
    return size_mb, size_mb / med(full), size_mb / med(ext_only), size_mb / med(norm_only)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=Path, default=SHARED / "seeds")
    ap.add_argument("--gold", type=Path, default=SHARED / "gold" / "seeds.jsonl")
    ap.add_argument("--scorer", type=Path, default=SHARED / "tools" / "score_facts.py")
    ap.add_argument("--mb", type=float, default=10.0, help="size of the speed corpus in MB")
    a = ap.parse_args()

    s = quality(a.seeds, a.gold, a.scorer)
    print(f"quality on {a.seeds}: gold {s['gold']}  predicted {s['predicted']}  matched {s['tp']}")
    print(f"{'metric':24} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
    per = s["per_metric"]
    assert isinstance(per, dict)
    for m, r in per.items():
        p_, r_, f_ = r["precision"], r["recall"], r["f1"]
        print(f"{m:24} {p_:6.2f} {r_:6.2f} {f_:6.2f} {r['tp']:4} {r['fp']:4} {r['fn']:4}")
    print(f"{'OVERALL':24} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}")
    agree = s["agreement_on_matched"]
    assert isinstance(agree, dict)
    print("agreement on matched: " + ", ".join(f"{k} {v:.2f}" for k, v in agree.items()))

    size, mbps, ext_mbps, norm_mbps = speed(a.seeds, a.mb)
    print(f"\nspeed on {size:.1f} MB (seeds repeated), one core, median of 3 runs:")
    print(f"  read + split + extract : {mbps:6.2f} MB/s")
    print(f"  extract_article only   : {ext_mbps:6.2f} MB/s   (target >= 1 MB/s per core)")
    print(f"  normalize only (peer)  : {norm_mbps:6.2f} MB/s   ratio {ext_mbps / norm_mbps:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
