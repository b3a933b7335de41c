"""A held-out set of our own: 60 short news articles written for this test (20 zh-Hant in Taiwan and
Hong Kong outlet style, 20 zh-Hans, 20 English; ``heldout/docs``) with 642 hand labels in the gold schema
(``heldout/gold.jsonl``), scored with the shared scorer (``../shared/tools/score_facts.py``, imported
unchanged). The articles were written in six batches, each labelled before the extractor was run on it;
the floors sit slightly under what the extractor reaches on the whole set, so a regression fails.

Measured (P / R / F1) on the whole set: the extractor before this work 0.964 / 0.916 / 0.939 (zh-Hant
0.962, zh-Hans 0.969, en 0.883 F1), after it 1.000 / 0.992 / 0.996 (zh-Hant 1.000, zh-Hans 1.000, en
0.987). Each batch as first seen: 0.946 / 0.908 / 0.927 (15 articles), 1.000 / 0.915 / 0.956 (6 more,
after the first batch's fixes), 1.000 / 0.960 / 0.980 (3 more).

Batch 4 (12 more articles, 123 labels: t9-t12, s9-s12, e9-e12; monthly sales of Taiwanese firms, bullet-list
and wire-style results, Korean and Japanese companies in won and yen, March fiscal years, private AI and
robotics rounds, capex guidance raised and cut, spending on data centers, figures only in a headline), as
first seen: 0.874 / 0.732 / 0.796 (zh-Hant 0.882 / 0.811 / 0.845, zh-Hans 0.912 / 0.756 / 0.827, en
0.829 / 0.644 / 0.725). After its fixes (general rules and lexicon entries, each with sentences of our
own in ``test_generalize4.py``): batch 4 0.992 / 0.984 / 0.988 (zh-Hant 1.000, zh-Hans 1.000, en 0.966
F1); the first 24 articles 1.000 / 1.000 / 1.000; the whole set 0.997 / 0.994 / 0.996 (zh-Hant 1.000,
zh-Hans 1.000, en 0.988 F1).

Batch 5 (12 more articles, 143 labels: t13-t16, s13-s16, e13-e16; monthly profit reports of Taiwanese
financial holdings with EPS lists, a Hong Kong interim of a March fiscal year, guidance ranges of margins
and revenue, growth stated as ranges (收益按年增長245%至250%), 分別/分别 pairings, Indian companies in
crore, lakh crore and rupees, constant-currency growth and growth-guidance ranges, a September fiscal year,
bullet lists under company headings, "a $N billion round", capex plans tied to a year, a figure only in
the headline), as first seen: 0.807 / 0.671 / 0.733 (zh-Hant 0.846 / 0.786 / 0.815, zh-Hans 0.804 / 0.740
/ 0.771, en 0.765 / 0.510 / 0.612). After its fixes, lexicon and registry data only (each with sentences
of our own in ``test_generalize5.py``): batch 5 0.852 / 0.762 / 0.804 (zh-Hant 0.881, zh-Hans 0.837, en
0.697 F1); the first 36 articles 0.994 / 0.994 / 0.994 (one headline figure more: 獲利年增逾一成, now read
as profit, is not matched to the body's 13.6%); the whole set 0.957 / 0.928 / 0.942 (zh-Hant 0.963 /
0.969 / 0.966, zh-Hans 0.959 / 0.948 / 0.953, en 0.949 / 0.872 / 0.909), against 0.950 / 0.903 / 0.926
before them. What is still missed needs code (README, "What is still missed"): crore and lakh, company
headings over bullet lists, a company after 的 opening a sentence, 分別 pairings, 公司 read as the
headline's company.

General period and headline fixes after batch 5 (``test_generalize7.py``: a year next to a clause's
comma, months ended on a date and interim results in the company's fiscal calendar, fiscal quarters and
halves named without a year, 'the quarter' after a year, a compared period carried no further, a forecast
going on after a semicolon, horizons 'over three years', a headline's period from the body, a headline's
逾/more than satisfied by the body's figure, amounts bought back 'of stock'): the whole set 0.959 / 0.928
/ 0.943 (zh-Hant 0.969 / 0.969 / 0.969, zh-Hans 0.959 / 0.948 / 0.953, en 0.949 / 0.872 / 0.909), the
first 36 articles 0.997 / 0.994 / 0.996; period agreement on matched facts 0.895 -> 0.946 on the whole
set (batch 5 0.862 -> 0.982, the first 36 articles 0.905 -> 0.936).

General attribution fixes after batch 5 (``test_generalize8.py``: 同/为 as 'likewise'/'to be' in a 的
phrase opening a sentence, 同为IC设计厂的甲（代号）… and 同样位于上海的甲据悉…, no longer read as
prepositions; a bare 公司 names its paragraph's company; 同比分别增长X%和Y% after figures of two metrics
pairs each rate with its figure's metric): batch 5 0.929 / 0.909 / 0.919 -> 1.000 / 0.986 / 0.993
(zh-Hant 0.881 -> 1.000, zh-Hans 0.889 -> 1.000, en 0.980 -> 0.980 F1); the whole set 0.978 / 0.970 /
0.974 -> 0.998 / 0.992 / 0.995 (zh-Hant 0.969 -> 1.000, zh-Hans 0.968 -> 1.000, en 0.985 -> 0.985 F1);
the first 36 articles unchanged (0.997 / 0.994 / 0.996); period agreement 0.945 -> 0.946.

Batch 6 (12 more articles, 139 labels: t17-t20, s17-s20, e17-e20; November sales of MediaTek and Hon Hai
with a 兆 amount, Meituan's segments, Lenovo's fiscal second quarter, Accton's results and capex budget,
Geely, Midea with a buyback range, JD and PDD, embodied-AI rounds and Moore Threads' listing, Broadcom,
SoftBank's half year and stake sales, Salesforce's raised forecast, Naver and Kakao in won; registry
entries Galbot and X Square Robot), committed before the extractor was run on it, with no change to the
extractor or its lexicon since: as first seen 0.935 / 0.935 / 0.935 (zh-Hant 0.957, zh-Hans 0.917, en
0.932 F1; agreement on matched facts: period 0.923, kind 0.992, unit 1.000). Its errors, by cause: a
fiscal quarter named without 'fiscal' (Broadcom's, read as calendar quarters: 10 periods); ranges read as
two figures (不低于50亿元且不超过100亿元, 'from $41.1 billion to $41.3 billion previously'); a nearby word
taking the metric (a premarket share drop as revenue growth, EPS in a headline as revenue, a price per
share as a buyback, 'more than doubled' as growth); a capex budget and a multi-year investment read as
capex of the quarter; targets and stake sales not read (销量目标由271万辆上调至300万辆, stakes sold 'for $N
billion', 全年營收成長幅度可望接近一成); a round 宣布完成 read as a commitment. The whole set of 60: 0.984 /
0.980 / 0.982 (zh-Hant 0.990 / 0.990 / 0.990, zh-Hans 0.982 / 0.982 / 0.982, en 0.981 / 0.968 / 0.974);
period agreement 0.941; the first 48 articles unchanged (0.998 / 0.992 / 0.995).

General fixes after batch 6 (``test_generalize9.py``: a bare quarter of a company whose year does not
end in December is fiscal when the article names a fiscal year by number or the calendar quarter is
under way, and a forecast 'for the quarter' takes the quarter still ahead; a lower and an upper bound,
不低于X且不超过Y or 'at least X and no more than Y', are one range, as is 'from X to Y previously'; a
buyback's price per share is no buyback; a capex budget is capex guidance of the current year; 'between
2025 and 2027' is a multi-year span; 美股盘前/premarket name a share move): batch 6 0.935 / 0.935 /
0.935 -> 0.985 / 0.964 / 0.975 (period agreement 0.923 -> 0.993); the whole set 0.984 / 0.980 / 0.982
-> 0.995 / 0.986 / 0.991 (zh-Hant 0.995 / 0.995 / 0.995, zh-Hans 1.000 / 0.991 / 0.995, en 0.991 /
0.972 / 0.981); period agreement 0.941 -> 0.957; the first 48 articles 0.998 / 0.992 / 0.995, period
0.946 -> 0.948.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_article

HELDOUT = Path(__file__).resolve().parent / "heldout"
LANGS = {"t": "zh-Hant", "s": "zh-Hans", "e": "en"}  # the first letter of a document's name
FLOORS = {"all": (0.99, 0.982, 0.987), "zh-Hant": (0.99, 0.99, 0.99), "zh-Hans": (0.995, 0.985, 0.99),
          "en": (0.985, 0.965, 0.975)}
PERIOD_FLOOR = 0.95  # the share of matched facts whose period is the gold's (0.957 measured)


def _scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_facts", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _predict(registry: Registry) -> list[dict[str, Any]]:
    """The facts of every held-out document, as ``metrics ingest --dry-run --format jsonl`` gives them."""
    out = []
    for path in sorted((HELDOUT / "docs").iterdir()):
        for article in split_articles(read_document(path)):
            for f in extract_article(article, registry):
                out.append({"doc": path.name, "entity": f.entity, "ticker": f.ticker, "metric": f.metric,
                            "value": f.value, "unit": f.unit, "period": f.period, "kind": f.kind,
                            "quote": f.quote})
    return out


@pytest.fixture
def scored(
    registry: Registry, shared_data: Callable[..., Path]
) -> tuple[ModuleType, list[dict[str, Any]], list[dict[str, Any]]]:
    sc = _scorer(shared_data("tools", "score_facts.py"))
    return sc, sc.load(str(HELDOUT / "gold.jsonl")), _predict(registry)


def test_the_set_is_well_formed() -> None:
    docs = {p.name: p.read_text(encoding="utf-8") for p in (HELDOUT / "docs").iterdir()}
    assert len(docs) >= 15
    assert {name[0] for name in docs} == set(LANGS)
    for lang in LANGS:
        assert sum(name[0] == lang for name in docs) >= 5
    for line in (HELDOUT / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        assert g["quote"] in docs[g["doc"]], g  # every quote is a substring of its document
        assert docs[g["doc"]].splitlines()[0] == g["article"]


@pytest.mark.parametrize("lang", ["all", "zh-Hant", "zh-Hans", "en"])
def test_heldout_scores_stay_above_the_floor(
    scored: tuple[ModuleType, list[dict[str, Any]], list[dict[str, Any]]], lang: str
) -> None:
    sc, gold, pred = scored

    def keep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if lang == "all" or LANGS[sc.doc_key(r)[0]] == lang]

    g, p = keep(gold), keep(pred)
    pairs, missed, spurious = sc.match(g, p)
    precision, recall, f1 = sc.prf(len(pairs), len(spurious), len(missed))
    details = [("missed", m["doc"], m["metric"], m["value"]) for m in missed]
    details += [("spurious", s["doc"], s["metric"], s["value"]) for s in spurious]
    floor_p, floor_r, floor_f = FLOORS[lang]
    assert precision >= floor_p and recall >= floor_r and f1 >= floor_f, (precision, recall, f1, details)


def test_heldout_periods_stay_above_the_floor(
    scored: tuple[ModuleType, list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    sc, gold, pred = scored
    pairs, _missed, _spurious = sc.match(gold, pred)
    wrong = [(g["doc"], g["metric"], g["value"], g["period"], p["period"]) for g, p in pairs
             if not sc.agree(g, p, "period")]
    assert 1 - len(wrong) / len(pairs) >= PERIOD_FLOOR, wrong


def test_scorer_is_the_shared_one(shared_data: Callable[..., Path]) -> None:
    """The scorer is the shared file, and it tells a wrong value from a right one (the test can fail)."""
    sc = _scorer(shared_data("tools", "score_facts.py"))
    g = {"doc": "a.txt", "entity": "TSMC", "ticker": "2330.TW", "metric": "revenue", "value": 1e9}
    assert len(sc.match([g], [dict(g, value=1.1e9)])[0]) == 0
    assert len(sc.match([g], [dict(g, entity="台积电")])[0]) == 1
