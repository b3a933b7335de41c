"""Extraction quality and speed.

Quality: runs ``metrics ingest --dry-run --format jsonl SEEDS`` (the real CLI), scores the output with
score_facts.py against the gold file, and prints precision, recall and F1 overall and per metric.
Speed: the seed documents repeated to about 10 MB (one file per copy, written to a temp folder), each
read, split, normalized and extracted in this process as ``metrics ingest`` does; prints the median of 3
runs of the full pipeline in MB/s per core (wall clock, and CPU time of the process), the throughput
of each stage, and text normalization alone (the floor every extractor pays) as the peer.

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


def speed(seeds: Path, target_mb: float, runs: int = 3) -> dict[str, float]:
    """MB/s of the full pipeline (read + split + normalize + extract, document by document, as
    ``metrics ingest`` does), median of ``runs``: wall clock and CPU time of this one process, plus
    the share of each stage and normalization alone (the floor every extractor pays) as the peer."""
    from metrics.extraction import extract as extract_mod
    from metrics.extraction.documents import read_document, split_articles
    from metrics.extraction.entities import Registry
    from metrics.extraction.normalize import normalize

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
        wall, cpu, t_read, t_split, t_extract, norm_only = [], [], [], [], [], []
        n_facts = 0
        for _ in range(runs):
            extract_mod._doc_view.cache_clear()
            stage = [0.0, 0.0, 0.0]
            w0, c0 = time.perf_counter(), time.process_time()
            n_facts = 0
            for path in paths:
                t0 = time.perf_counter()
                doc = read_document(path)
                t1 = time.perf_counter()
                articles = split_articles(doc)
                t2 = time.perf_counter()
                n_facts += sum(len(extract_mod.extract_article(a, registry)) for a in articles)
                t3 = time.perf_counter()
                stage[0] += t1 - t0
                stage[1] += t2 - t1
                stage[2] += t3 - t2
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
            t_read.append(stage[0])
            t_split.append(stage[1])
            t_extract.append(stage[2])
            texts = [read_document(p).text for p in paths[: len(sources) * 10]]
            t0 = time.perf_counter()
            for t in texts:
                normalize(t)
            norm_only.append((time.perf_counter() - t0) * len(paths) / len(texts))
        assert n_facts > 0
    med = statistics.median
    return {
        "mb": size_mb,
        "facts": float(n_facts),
        "full_wall": size_mb / med(wall),
        "full_cpu": size_mb / med(cpu),
        "read": size_mb / med(t_read),
        "split": size_mb / med(t_split),
        "extract": size_mb / med(t_extract),
        "normalize": size_mb / med(norm_only),
    }


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

    sp = speed(a.seeds, a.mb)
    print(f"\nspeed on {sp['mb']:.1f} MB (the seeds repeated), one process on one core, median of 3 runs:")
    print(f"  FULL PIPELINE (read + split + normalize + extract): {sp['full_wall']:6.2f} MB/s wall, "
          f"{sp['full_cpu']:6.2f} MB/s CPU   (target >= 1 MB/s per core)")
    print(f"  stages alone: read {sp['read']:.1f}, split {sp['split']:.1f}, "
          f"normalize + extract {sp['extract']:.2f} MB/s; {int(sp['facts'])} facts")
    print(f"  normalize only (peer floor): {sp['normalize']:6.2f} MB/s   "
          f"pipeline / peer {sp['full_wall'] / sp['normalize']:.2f}")
    print(f"\nSUMMARY precision {s['precision']:.3f}  recall {s['recall']:.3f}  F1 {s['f1']:.3f}  "
          f"full pipeline {sp['full_wall']:.2f} MB/s per core (median of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
