"""Extraction quality and speed.

Quality: runs ``metrics ingest --dry-run --format jsonl`` (the real CLI) over the seeds and over the
development set (``../shared/dev``), scores each with ``score_facts.py`` (imported, unchanged) and
prints precision, recall and F1 overall, per language (zh-Hant, zh-Hans, en) and per metric, plus,
over the matched facts, the share whose period, kind, currency and sign agree with the gold. Sign and
currency are also checked on pairs matched by absolute value (so a fall stored as a rise, or TWD
stored as CNY, shows as a disagreement instead of a miss).

Speed: the seed documents repeated to about 10 MB (one file per copy, written to a temp folder), each
read, split, normalized and extracted in this process as ``metrics ingest`` does; prints the median
of 3 runs in MB/s per core (CPU time of this one process) and wall clock, the throughput of each
stage, and text normalization alone (the floor every extractor pays) as the peer.

Fresh text (``--fresh``): the development articles and the held-out articles
(``tests/extract/heldout/docs``) concatenated, not repeated, each read once by a new process (after a
warm-up on the seeds, which loads the lexicon and compiles the patterns): a speed that no cache keyed on
text can help; prints the median of 3 processes. ``--profile``: the speed corpus under cProfile, the
functions sorted by own time and by cumulative time.

    .venv/bin/python benchmarks/extraction.py [--shared DIR] [--config DIR] [--mb 10] [--no-speed]
    .venv/bin/python benchmarks/extraction.py --fresh      # speed on unseen text only
    .venv/bin/python benchmarks/extraction.py --profile    # where the time goes (2 MB by default)
    .venv/bin/python benchmarks/extraction.py --against DIR [--pairs 6] [--mb 2]   # against another extractor

``--against DIR``: this extractor and the ``metrics`` package in DIR (``git archive <commit> metrics | tar -x
-C DIR``) run alternately in new processes over the seeds repeated to 2 MB and the fresh text: on a loaded
machine the paired ratio is steadier than two separate figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LANGS = ("zh-Hant", "zh-Hans", "en")


def _scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_facts", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def language(text: str) -> str:
    """zh-Hant, zh-Hans or en: the language field of a source line if the file has one, else judged by
    its characters (traditional when converting to simplified changes many of them)."""
    for line in text.splitlines()[:4]:
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and parts[0].startswith("http"):
            for lang in LANGS:
                if parts[2].startswith(lang):
                    return lang
    from metrics.extraction.normalize import to_simplified

    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if len(han) < 0.1 * max(1, sum(c.isalpha() for c in text)):
        return "en"
    changed = sum(a != b for a, b in zip(han, to_simplified("".join(han)), strict=True))
    return "zh-Hant" if changed >= 0.02 * len(han) else "zh-Hans"


def _predict(docs: Path, config: Path | None) -> list[dict[str, Any]]:
    metrics_bin = Path(sys.executable).with_name("metrics")
    with tempfile.TemporaryDirectory() as store:
        cmd = [str(metrics_bin), "--root", store]
        if config is not None:
            cmd += ["--config", str(config)]
        cmd += ["ingest", "--dry-run", "--format", "jsonl", str(docs)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _prf(
    sc: ModuleType, gold: list[dict[str, Any]], pred: list[dict[str, Any]]
) -> tuple[float, float, float, int]:
    pairs, missed, spurious = sc.match(gold, pred)
    p, r, f = sc.prf(len(pairs), len(spurious), len(missed))
    return p, r, f, len(pairs)


def _abs_pairs(
    sc: ModuleType, gold: list[dict[str, Any]], pred: list[dict[str, Any]]
) -> list[tuple[dict, dict]]:
    """Gold and predicted facts of one document, entity and metric whose values agree in size."""
    out = []
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pred:
        by_doc[sc.doc_key(p)].append(p)
    for g in gold:
        for p in by_doc.get(sc.doc_key(g), []):
            if (
                p.get("metric") == g.get("metric")
                and sc.same_entity(g, p)
                and sc.same_value(abs(float(g["value"])), abs(float(p["value"])))
            ):
                out.append((g, p))
                break
    return out


def quality(name: str, docs: Path, gold_file: Path, sc: ModuleType, config: Path | None) -> dict[str, Any]:
    gold = sc.load(str(gold_file))
    pred = _predict(docs, config)
    langs = {p.name: language(p.read_text(encoding="utf-8", errors="replace")) for p in docs.iterdir()}
    pairs, missed, spurious = sc.match(gold, pred)
    p, r, f = sc.prf(len(pairs), len(spurious), len(missed))
    out: dict[str, Any] = {
        "name": name,
        "gold": len(gold),
        "predicted": len(pred),
        "tp": len(pairs),
        "precision": p,
        "recall": r,
        "f1": f,
        "per_language": {},
        "per_metric": {},
    }
    for lang in LANGS:
        g = [x for x in gold if langs.get(sc.doc_key(x)) == lang]
        q = [x for x in pred if langs.get(sc.doc_key(x)) == lang]
        if g:
            out["per_language"][lang] = (*_prf(sc, g, q), len(g))
    for metric in sorted({g["metric"] for g in gold} | {x.get("metric", "?") for x in pred}):
        out["per_metric"][metric] = _prf(
            sc, [g for g in gold if g["metric"] == metric], [x for x in pred if x.get("metric") == metric]
        )
    n = len(pairs) or 1
    money = [(g, q) for g, q in pairs if g.get("unit") not in ("pct", "x", "count", "GW", "MW")]
    out["agree"] = {
        "period": sum(sc.agree(g, q, "period") for g, q in pairs) / n,
        "kind": sum(sc.agree(g, q, "kind") for g, q in pairs) / n,
        "currency": sum(sc.agree(g, q, "unit") for g, q in money) / (len(money) or 1),
        "sign": sum((float(g["value"]) < 0) == (float(q["value"]) < 0) for g, q in pairs) / n,
    }
    loose = _abs_pairs(sc, gold, pred)
    loose_money = [(g, q) for g, q in loose if g.get("unit") not in ("pct", "x", "count", "GW", "MW")]
    out["agree_by_size"] = {
        "pairs": len(loose),
        "sign": sum((float(g["value"]) < 0) == (float(q["value"]) < 0) for g, q in loose) / (len(loose) or 1),
        "currency": sum(sc.agree(g, q, "unit") for g, q in loose_money) / (len(loose_money) or 1),
    }
    return out


def print_quality(s: dict[str, Any]) -> None:
    print(f"\n== {s['name']}: gold {s['gold']}  predicted {s['predicted']}  matched {s['tp']}")
    print(f"{'':24} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4}")
    print(f"{'OVERALL':24} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} {s['tp']:4}")
    for lang, (p, r, f, tp, n) in s["per_language"].items():
        print(f"  {lang + f' ({n} gold)':22} {p:6.3f} {r:6.3f} {f:6.3f} {tp:4}")
    print("per metric:")
    for m, (p, r, f, tp) in s["per_metric"].items():
        print(f"  {m:22} {p:6.2f} {r:6.2f} {f:6.2f} {tp:4}")
    a, b = s["agree"], s["agree_by_size"]
    print(
        f"agreement on matched facts: period {a['period']:.2f}  kind {a['kind']:.2f}  "
        f"currency {a['currency']:.2f}  sign {a['sign']:.2f}"
    )
    print(
        f"on {b['pairs']} pairs matched by absolute value: sign {b['sign']:.2f}  currency {b['currency']:.2f}"
    )


def speed(seeds: Path, config: Path, target_mb: float, runs: int = 3) -> dict[str, float]:
    """MB/s of the full pipeline (read + split + normalize + extract, document by document, as
    ``metrics ingest`` does), median of ``runs``: CPU time of this one process (per core) and wall
    clock, the stages, and normalization alone (the peer)."""
    from metrics.extraction import extract as extract_mod
    from metrics.extraction.documents import read_document, split_articles
    from metrics.extraction.entities import Registry
    from metrics.extraction.normalize import normalize

    registry = Registry.load(config / "companies.toml")
    n_sources = sum(p.is_file() for p in seeds.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        paths = _corpus_paths(seeds, tmp, target_mb)
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        wall, cpu, t_read, t_split, t_extract, norm_only = [], [], [], [], [], []
        n_facts = 0
        for _ in range(runs):
            stage = [0.0, 0.0, 0.0]
            w0, c0 = time.perf_counter(), time.process_time()
            n_facts = 0
            for path in paths:
                t0 = time.process_time()
                doc = read_document(path)
                t1 = time.process_time()
                articles = split_articles(doc)
                t2 = time.process_time()
                n_facts += sum(len(extract_mod.extract_article(a, registry)) for a in articles)
                t3 = time.process_time()
                stage[0] += t1 - t0
                stage[1] += t2 - t1
                stage[2] += t3 - t2
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
            t_read.append(stage[0])
            t_split.append(stage[1])
            t_extract.append(stage[2])
            texts = [read_document(p).text for p in paths[: n_sources * 10]]
            t0 = time.process_time()
            for t in texts:
                normalize(t)
            norm_only.append((time.process_time() - t0) * len(paths) / len(texts))
        assert n_facts > 0
    med = statistics.median
    return {
        "mb": size_mb,
        "facts": float(n_facts),
        "cpu": size_mb / med(cpu),
        "wall": size_mb / med(wall),
        "read": size_mb / med(t_read),
        "split": size_mb / med(t_split),
        "extract": size_mb / med(t_extract),
        "normalize": size_mb / med(norm_only),
    }


def _corpus_paths(seeds: Path, tmp: str, target_mb: float) -> list[Path]:
    sources = [p for p in sorted(seeds.iterdir()) if p.is_file()]
    unit = sum(p.stat().st_size for p in sources)
    copies = max(1, int(target_mb * 1e6 / unit))
    paths = []
    for i in range(copies):
        for p in sources:
            dst = Path(tmp) / f"{i:04d}_{p.name}"
            # a marker line makes every copy a distinct document (no hash-level shortcut)
            dst.write_bytes(p.read_bytes() + f"\n<!-- copy {i} -->\n".encode())
            paths.append(dst)
    return paths


def _pipeline(paths: list[Path], registry: Any) -> int:
    from metrics.extraction import extract as extract_mod
    from metrics.extraction.documents import read_document, split_articles

    return sum(
        len(extract_mod.extract_article(a, registry)) for p in paths for a in split_articles(read_document(p))
    )


def profile(seeds: Path, config: Path, target_mb: float, top: int = 45) -> None:
    """The full pipeline over the seeds repeated to ``target_mb`` under cProfile (after one warm-up
    copy): the ``top`` functions by own time, then by cumulative time."""
    import cProfile
    import pstats

    from metrics.extraction.entities import Registry

    registry = Registry.load(config / "companies.toml")
    with tempfile.TemporaryDirectory() as tmp:
        paths = _corpus_paths(seeds, tmp, target_mb)
        _pipeline(paths[:20], registry)
        prof = cProfile.Profile()
        prof.enable()
        _pipeline(paths, registry)
        prof.disable()
    st = pstats.Stats(prof)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)


def fresh_once(dirs: list[Path], seeds: Path, config: Path) -> dict[str, float]:
    """One pass over the files of ``dirs`` (text this process has not seen), after a warm-up on the
    seeds: MB and CPU seconds."""
    from metrics.extraction.entities import Registry

    registry = Registry.load(config / "companies.toml")
    _pipeline([p for p in sorted(seeds.iterdir()) if p.is_file()], registry)
    paths = [p for d in dirs for p in sorted(d.iterdir()) if p.is_file()]
    c0 = time.process_time()
    n = _pipeline(paths, registry)
    cpu = time.process_time() - c0
    return {"mb": sum(p.stat().st_size for p in paths) / 1e6, "cpu": cpu, "facts": float(n)}


def fresh(shared: Path, config: Path, runs: int = 3) -> dict[str, float]:
    """``fresh_once`` in ``runs`` new processes: median MB/s per core."""
    cmd = [sys.executable, __file__, "--shared", str(shared), "--config", str(config), "--fresh-once"]
    outs = [subprocess.run(cmd, capture_output=True, text=True, check=True).stdout for _ in range(runs)]
    got = [json.loads(o) for o in outs]
    return {
        "mb": got[0]["mb"],
        "facts": got[0]["facts"],
        "cpu": statistics.median(g["mb"] / g["cpu"] for g in got),
    }


def pair_once(seeds: Path, config: Path, target_mb: float) -> dict[str, float]:
    """MB/s per core of one pass over the seeds repeated to ``target_mb`` (after a warm-up copy), then of
    one pass over the fresh text (``fresh_once``'s), in this process."""
    from metrics.extraction.entities import Registry

    registry = Registry.load(config / "companies.toml")
    with tempfile.TemporaryDirectory() as tmp:
        paths = _corpus_paths(seeds, tmp, target_mb)
        _pipeline(paths[: len(list(seeds.iterdir()))], registry)
        c0 = time.process_time()
        _pipeline(paths, registry)
        seeds_speed = sum(p.stat().st_size for p in paths) / 1e6 / (time.process_time() - c0)
    fresh_paths = [p for d in FRESH_DIRS for p in sorted((seeds.parent / d).iterdir()) if p.is_file()]
    c0 = time.process_time()
    _pipeline(fresh_paths, registry)
    fresh_speed = sum(p.stat().st_size for p in fresh_paths) / 1e6 / (time.process_time() - c0)
    return {"seeds": seeds_speed, "fresh": fresh_speed}


def against(other: Path, shared: Path, config: Path, target_mb: float, pairs: int) -> None:
    """This extractor and the one in ``other`` (a folder holding a ``metrics`` package, e.g. made by
    ``git archive <commit> metrics | tar -x -C DIR``) run alternately in new processes, ``pairs`` times
    each (``pair_once``): medians and the median of the paired ratios (this / other)."""
    res: dict[str, list[dict[str, float]]] = {"this": [], "other": []}
    cmd = [sys.executable, __file__, "--shared", str(shared), "--config", str(config), "--mb", str(target_mb)]
    for i in range(pairs):
        order = ("this", "other") if i % 2 == 0 else ("other", "this")
        for name in order:
            env = dict(os.environ)
            if name == "other":
                env["PYTHONPATH"] = str(other.resolve())
            out = subprocess.run([*cmd, "--pair-once"], capture_output=True, text=True, check=True, env=env)
            res[name].append(json.loads(out.stdout))
        got = "  ".join(f"{n} {res[n][-1]['seeds']:.3f} / {res[n][-1]['fresh']:.3f}" for n in res)
        print(f"  pair {i + 1} (seeds / fresh MB/s per core): {got}", flush=True)
    med = statistics.median
    for name, runs in res.items():
        seeds, fresh = med(r["seeds"] for r in runs), med(r["fresh"] for r in runs)
        print(f"{name}: seeds {seeds:.3f}  fresh {fresh:.3f} MB/s per core (medians)")
    for key in ("seeds", "fresh"):
        ratio = med(a[key] / b[key] for a, b in zip(res["this"], res["other"], strict=True))
        print(f"paired ratio this / other, {key}: {ratio:.3f}")


FRESH_DIRS = ("dev/docs", str(ROOT / "tests" / "extract" / "heldout" / "docs"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared folder (seeds, gold, dev, tools)")
    ap.add_argument("--config", type=Path, default=None, help="config folder (default: the project's)")
    ap.add_argument("--mb", type=float, default=10.0, help="size of the speed corpus in MB")
    ap.add_argument("--no-speed", action="store_true", help="quality only")
    ap.add_argument("--fresh", action="store_true", help="speed on unseen text (dev + held-out) only")
    ap.add_argument("--fresh-once", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help="cProfile the pipeline (--mb, default 2)")
    ap.add_argument("--against", type=Path, default=None, help="a folder with another metrics package")
    ap.add_argument("--pairs", type=int, default=6, help="alternating runs of each with --against")
    ap.add_argument("--pair-once", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    config = a.config or ROOT / "config"
    if a.pair_once:
        print(json.dumps(pair_once(a.shared / "seeds", config, a.mb)))
        return 0
    if a.against is not None:
        against(a.against, a.shared, config, a.mb if a.mb != 10.0 else 2.0, a.pairs)
        return 0
    if a.fresh_once:
        print(json.dumps(fresh_once([a.shared / d for d in FRESH_DIRS], a.shared / "seeds", config)))
        return 0
    if a.fresh:
        fr = fresh(a.shared, config)
        print(
            f"fresh text (dev + held-out, {fr['mb']:.2f} MB, {int(fr['facts'])} facts, once per process, "
            f"median of 3): {fr['cpu']:.2f} MB/s per core"
        )
        return 0
    if a.profile:
        profile(a.shared / "seeds", config, a.mb if a.mb != 10.0 else 2.0)
        return 0
    sc = _scorer(a.shared / "tools" / "score_facts.py")
    results = [
        quality("seeds", a.shared / "seeds", a.shared / "gold" / "seeds.jsonl", sc, a.config),
        quality("dev", a.shared / "dev" / "docs", a.shared / "dev" / "gold.jsonl", sc, a.config),
    ]
    for s in results:
        print_quality(s)
    summary = "  ".join(
        f"{s['name']} P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f}" for s in results
    )
    if not a.no_speed:
        sp = speed(a.shared / "seeds", a.config or ROOT / "config", a.mb)
        print(f"\nspeed on {sp['mb']:.1f} MB (the seeds repeated), one process, median of 3 runs:")
        print(
            f"  FULL PIPELINE (read + split + normalize + extract): {sp['cpu']:6.2f} MB/s per core "
            f"(CPU time), {sp['wall']:6.2f} MB/s wall   (target >= 2 MB/s per core)"
        )
        print(
            f"  stages alone (CPU): read {sp['read']:.1f}, split {sp['split']:.1f}, "
            f"normalize + extract {sp['extract']:.2f} MB/s; {int(sp['facts'])} facts"
        )
        print(
            f"  normalize only (peer floor): {sp['normalize']:6.2f} MB/s   pipeline / peer "
            f"{sp['cpu'] / sp['normalize']:.2f}"
        )
        summary += f"  speed {sp['cpu']:.2f} MB/s per core"
    print(f"\nSUMMARY {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
