"""General attribution fixes found with the fifth held-out batch (issue 7), each on sentences of our own
(never dev, seed or held-out text): a company right after a descriptive 的 phrase opening a sentence
(同为/同属/同样… 的甲, with a ticker or an adverb after it) is the sentence's subject; a bare 公司 is the
company the paragraph is about; 同比分别增长X%和Y% after two figures of different metrics pairs each
growth with its figure's metric. The article date is 2025-11-20."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_article
from tests.extract.sentences import facts


def owners(text: str, registry: Registry) -> dict[tuple[str, float], str]:
    return {(f.metric, round(f.value, 4)): f.entity for f in facts(text, registry)}


# ------------------------------------------------------- a company after a descriptive 的 phrase


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # zh-Hant, a ticker in parentheses after the name, two figures of the clause
        (
            "聯發科（2454）第三季營收1420億元，年增8%。同屬ASIC設計服務廠的世芯-KY（3661）第三季營收150億元、稅後純益25億元。",
            {("revenue", 15e9): "Alchip", ("net_income", 2.5e9): "Alchip", ("revenue", 142e9): "MediaTek"},
        ),
        # zh-Hans, 同为 and no ticker
        (
            "联发科第三季营收1420亿元。同为服务器芯片厂的信骅上季营收30亿元。",
            {("revenue", 3e9): "Aspeed", ("revenue", 142e9): "MediaTek"},
        ),
        # zh-Hans, 同样 … 的 and an adverb (据悉) between the name and its figures
        (
            "智谱近日完成一轮5亿美元融资。同样总部设在北京的月之暗面据悉已拿到2亿美元新融资，估值达30亿美元。",
            {
                ("funding_raised", 5e8): "Zhipu AI",
                ("valuation", 3e9): "Moonshot AI",
                ("funding_raised", 2e8): "Moonshot AI",
            },
        ),
        # the figures of the sentence's later clause go to the described company too
        (
            "聯發科第三季營收1420億元。同屬晶片設計族群的創意電子（3443）上季稅後純益40億元，營收300億元。",
            {("net_income", 4e9): "Global Unichip", ("revenue", 30e9): "Global Unichip"},
        ),
        # 身为 … 的: 为 as 'to be', a ticker after the name
        (
            "英伟达第三季度营收570亿美元。身为全球最大晶圆代工厂的台积电（2330）第三季度营收9900亿新台币。",
            {("revenue", 57e9): "NVIDIA", ("revenue", 990e9): "TSMC"},
        ),
        # English: 'fellow chip designer X also …'
        (
            (
                "MediaTek reported revenue of NT$142 billion. "
                "Fellow chip designer Realtek had revenue of NT$30 billion."
            ),
            {("revenue", 142e9): "MediaTek", ("revenue", 30e9): "Realtek"},
        ),
    ],
)
def test_a_company_after_a_descriptive_phrase_is_the_subject(
    text: str, want: dict[tuple[str, float], str], registry: Registry
) -> None:
    got = owners(text, registry)
    for key, entity in want.items():
        assert got.get(key) == entity, (key, got)


@pytest.mark.parametrize(
    ("text", "key", "want"),
    [
        (
            "英伟达三季度营收570亿美元。小米集团同英伟达签订了30亿美元的采购协议。",
            ("deal_value", 3e9),
            "Xiaomi",
        ),
        (
            "英伟达三季度营收570亿美元。同英伟达合作的小米集团三季度营收1130亿元。",
            ("revenue", 113e9),
            "Xiaomi",
        ),
    ],
)
def test_tong_meaning_with_is_still_a_preposition(
    text: str, key: tuple[str, float], want: str, registry: Registry
) -> None:
    """同 meaning 'with' (甲同乙签订…, 同乙合作的甲): the company after it is not the subject."""
    got = owners(text, registry)
    assert got.get(key) == want, got
    assert got.get(("revenue", 57e9)) == "NVIDIA"


# ------------------------------------------------------- a bare 公司 names the paragraph's company


def article_owners(tmp_path: Path, registry: Registry, text: str) -> dict[tuple[str, float], str]:
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    arts = split_articles(read_document(path))
    return {(f.metric, round(f.value, 4)): f.entity for a in arts for f in extract_article(a, registry)}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (  # zh-Hans: the paragraph opens with another company than the headline's
            (
                "比亚迪三季度营收1950亿元 宁德时代资本开支80亿元\n"
                "https://www.example.cn/a | 2025-10-31 | zh-Hans\n\n"
                "比亚迪周四公布的季报显示，第三季度营收1950亿元，同比下降3%。\n\n"
                "公司还称，2026年将投入约200亿元用于扩产。\n\n"
                "宁德时代当晚也交出三季度成绩单，营收1040亿元，同比增长13%。公司称，三季度资本开支80亿元，"
                "明年拟再投入约300亿元新建电池产能。\n"
            ),
            {
                ("revenue", 195e9): "BYD",
                ("investment_commitment", 20e9): "BYD",
                ("revenue", 104e9): "CATL",
                ("capex", 8e9): "CATL",
                ("capex_guidance", 30e9): "CATL",
            },
        ),
        (  # zh-Hant: 公司早前… after a paragraph's first sentence about another company
            (
                "台達電第三季營收1200億元 光寶科募資50億元\n"
                "https://www.example.tw/b | 2025-11-05 | zh-Hant\n\n"
                "台達電（2308）第三季合併營收1200億元，年增20%。\n\n"
                "另一電源大廠光寶科（2301）第三季營收380億元，年增5%。"
                "公司早前完成發行可轉債，募資淨額約50億元。\n"
            ),
            {
                ("revenue", 120e9): "Delta Electronics",
                ("revenue", 38e9): "Lite-On",
                ("funding_raised", 5e9): "Lite-On",
            },
        ),
    ],
)
def test_a_bare_gongsi_is_the_paragraphs_company(
    tmp_path: Path, registry: Registry, text: str, want: dict[tuple[str, float], str]
) -> None:
    got = article_owners(tmp_path, registry, text)
    for key, entity in want.items():
        assert got.get(key) == entity, (key, got)


def test_the_company_in_english_is_the_one_just_spoken_of(registry: Registry) -> None:
    got = owners(
        "BYD reported third-quarter revenue of 195 billion yuan.\nCATL, which reported the same day, had "
        "revenue of 104 billion yuan. The company said capital expenditure in the quarter was 8 billion "
        "yuan.",
        registry,
    )
    assert got.get(("capex", 8e9)) == "CATL", got


# ------------------------------------------------------- 同比分别增长X%和Y% after figures of two metrics


@pytest.mark.parametrize(
    "text",
    [
        "宁德时代前三季度实现营业收入2830亿元、归母净利润490亿元，同比分别增长9.3%和36.2%。",  # zh-Hans
        "宁德时代前三季度营业收入2830亿元，归母净利润490亿元，同比分别增长9.3%和36.2%。",  # a comma
        "寧德時代前三季營收達2830億元、稅後淨利490億元，分別年增9.3%與36.2%。",  # zh-Hant
        (  # English
            "CATL reported revenue of 283 billion yuan and net income of 49 billion yuan for the period, "
            "up 9.3% and 36.2% year on year, respectively."
        ),
    ],
)
def test_growth_rates_pair_with_the_figures_of_two_metrics(text: str, registry: Registry) -> None:
    got = {(f.metric, round(f.value, 4)) for f in facts(text, registry)}
    assert ("revenue_growth_yoy", 9.3) in got and ("net_income_growth_yoy", 36.2) in got, got
    assert ("net_income_growth_yoy", 9.3) not in got and ("revenue_growth_yoy", 36.2) not in got, got


def test_a_fall_paired_with_the_second_figure_keeps_its_sign(registry: Registry) -> None:
    got = {
        (f.metric, round(f.value, 4))
        for f in facts("廣達上季營收5000億元、淨利180億元，分別較去年同期增加12.5%及減少3.4%。", registry)
    }
    assert ("revenue_growth_yoy", 12.5) in got and ("net_income_growth_yoy", -3.4) in got, got


def test_rates_of_margins_are_not_paired_as_growth(registry: Registry) -> None:
    """Margins are not figures that grow by a rate (no growth metric of theirs): nothing is paired, the
    margins themselves stay."""
    got = {
        (f.metric, round(f.value, 4))
        for f in facts("宁德时代前三季度毛利率25%、净利率12%，同比分别提升2.1和1.3个百分点。", registry)
    }
    assert ("gross_margin", 25.0) in got and ("net_margin", 12.0) in got, got
    assert not any(m.endswith("_growth_yoy") for m, _ in got), got
