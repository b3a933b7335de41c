"""General rules found by a held-out test on new articles, each on sentences of our own (never dev or
seed text): company heading lines over bullet lists, 分别/respectively pairing, a company after a
descriptive 的 phrase, Indian magnitudes (crore, lakh) and rupee signs, growth-guidance ranges, and
capital spending said as investments. The article date is 2025-11-20 unless a test says otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import extract_article
from metrics.extraction.normalize import normalize
from metrics.extraction.numbers import find_quantities
from metrics.store.fx import to_usd
from tests.extract.sentences import facts, triples

# --------------------------------------------------------------------------- company heading lines


def test_company_headings_over_bullet_lists_zh_hant(registry: Registry) -> None:
    """Each heading line names one company; its bullets name none and are its figures, the next
    heading switches company, and a bullet of figures is no heading that would reset the topic."""
    got = triples(
        "本週兩家IC設計廠公布第三季成績：\n"
        "■ 聯發科\n"
        "・營收1,420億元，年增7%\n"
        "・毛利率47.8%\n"
        "■ 瑞昱\n"
        "・營收310億元，年增3%\n"
        "・稅後純益41億元\n",
        registry,
    )
    assert got == {
        ("MediaTek", "revenue", 1.42e11),
        ("MediaTek", "revenue_growth_yoy", 7.0),
        ("MediaTek", "gross_margin", 47.8),
        ("Realtek", "revenue", 3.1e10),
        ("Realtek", "revenue_growth_yoy", 3.0),
        ("Realtek", "net_income", 4.1e9),
    }


def test_company_headings_with_colons_and_numbering_zh_hans(registry: Registry) -> None:
    got = triples(
        "港股互联网公司业绩速览\n"
        "1. 京东集团（9618.HK）：\n"
        "- 收入3000亿元，同比增长12%\n"
        "- 净利润85亿元\n"
        "2. 美团：\n"
        "- 收入950亿元，同比增长2%\n",
        registry,
    )
    assert ("JD.com", "revenue", 3.0e11) in got and ("JD.com", "net_income", 8.5e9) in got
    assert ("Meituan", "revenue", 9.5e10) in got and ("Meituan", "revenue_growth_yoy", 2.0) in got
    assert not any(e == "JD.com" and v == 9.5e10 for e, _m, v in got)


def test_company_headings_in_bold_english(registry: Registry) -> None:
    got = {
        (f.entity, f.metric, f.value, f.unit)
        for f in facts(
            "Asian memory makers, at a glance\n"
            "**Samsung Electronics**\n"
            "- Revenue of 79 trillion won, up 6%\n"
            "- Operating margin 11%\n"
            "**SK Hynix**\n"
            "- Revenue of 21 trillion won\n",
            registry,
        )
    }
    assert got == {
        ("Samsung Electronics", "revenue", 7.9e13, "KRW"),
        ("Samsung Electronics", "revenue_growth_yoy", 6.0, "pct"),
        ("Samsung Electronics", "operating_margin", 11.0, "pct"),
        ("SK hynix", "revenue", 2.1e13, "KRW"),
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("【蔚来】", "【小鹏汽车】"),
        ("▍蔚來", "▍小鵬汽車"),
        ("## NIO Inc.", "## XPeng (XPEV)"),
        ("蔚来：", "小鹏汽车："),
        ("■ 蔚來第三季財報", "■ 小鵬汽車第三季業績"),
        ("NIO Q3 results", "XPeng third-quarter earnings"),
    ],
)
def test_company_heading_marks(first: str, second: str, registry: Registry) -> None:
    """Brackets, bars, markdown titles, a ticker in parentheses, a legal form, a colon: the same rule."""
    got = triples(
        f"电动车新势力三季报\n{first}\n1、营收220亿元\n2、毛利率13.9%\n{second}\n1、营收200亿元\n", registry
    )
    assert got == {
        ("NIO", "revenue", 2.2e10),
        ("NIO", "gross_margin", 13.9),
        ("XPeng", "revenue", 2.0e10),
    }


def test_a_heading_naming_more_than_a_company_is_no_company_heading(registry: Registry) -> None:
    """'台积电与联发科的竞争' names two companies and more: the bullets stay with the topic before."""
    got = triples("小米第三季度营收1100亿元。\n台积电与联发科的竞争\n- 营收增长了20%\n", registry)
    assert ("TSMC", "revenue_growth_yoy", 20.0) not in got
    assert ("MediaTek", "revenue_growth_yoy", 20.0) not in got


# --------------------------------------------------------------------------- 分别 / respectively


def test_respectively_pairs_companies_zh_hans(registry: Registry) -> None:
    got = triples("京东和美团第三季度营收分别为3000亿元和950亿元。", registry)
    assert got == {("JD.com", "revenue", 3.0e11), ("Meituan", "revenue", 9.5e10)}


def test_respectively_pairs_companies_and_falls_zh_hant(registry: Registry) -> None:
    """Both runs of the sentence pair: the amounts and the changes, a fall keeping its sign."""
    got = triples("聯電、世界先進10月營收分別為190億元及38億元，分別年增6%、年減4%。", registry)
    assert got == {
        ("UMC", "revenue", 1.9e10),
        ("Vanguard International Semiconductor", "revenue", 3.8e9),
        ("UMC", "revenue_growth_yoy", 6.0),
        ("Vanguard International Semiconductor", "revenue_growth_yoy", -4.0),
    }


def test_respectively_pairs_companies_english(registry: Registry) -> None:
    got = triples(
        "Revenue at Infosys and TCS grew 4% and 7%, respectively, in the September quarter.", registry
    )
    assert got == {
        ("Infosys", "revenue_growth_yoy", 4.0),
        ("Tata Consultancy Services", "revenue_growth_yoy", 7.0),
    }
    got = triples("Infosys and TCS posted revenue of $4.8 billion and $7.4 billion, respectively.", registry)
    assert got == {("Infosys", "revenue", 4.8e9), ("Tata Consultancy Services", "revenue", 7.4e9)}


def test_respectively_pairs_metric_nouns(registry: Registry) -> None:
    """A list of metric nouns: the i-th figure states the i-th metric, for levels and for changes."""
    got = triples("蔚来第三季度营收和净亏损分别为220亿元和35亿元，同比分别增长17%和下降10%。", registry)
    assert ("NIO", "revenue", 2.2e10) in got and ("NIO", "net_loss", 3.5e9) in got
    assert ("NIO", "revenue_growth_yoy", 17.0) in got
    got = triples("宏碁第三季營收與稅後純益分別為700億元、20億元。", registry)
    assert got == {("Acer", "revenue", 7.0e10), ("Acer", "net_income", 2.0e9)}


def test_respectively_needs_as_many_figures_as_items(registry: Registry) -> None:
    """Three companies and two figures: no pairing, the figures are not spread over the list."""
    got = triples("京东、美团和拼多多营收分别为3000亿元和950亿元。", registry)
    assert ("JD.com", "revenue", 3.0e11) not in got
    got = triples("京东和美团营收分别为3000亿元和950亿元。", registry)
    assert ("JD.com", "revenue", 3.0e11) in got


# --------------------------------------------------------------------------- crore, lakh and rupees


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Rs 2,350 crore", 2.35e10),
        ("Rs.815 crore", 8.15e9),
        ("₹3.2 lakh crore", 3.2e12),
        ("INR 640 crores", 6.4e9),
        ("Rs 45 lakh", 4.5e6),
        ("₹12 thousand crore", 1.2e11),
        ("1,250印度卢比", 1250.0),
        ("a Rs 3,100-crore plant", 3.1e10),
        ("₹2.5 lakh-crore programme", 2.5e12),
        ("Rs 7,300 cr", 7.3e10),
        ("₹ 640 crore", 6.4e9),
        ("Rs 1,35,000 crore", 1.35e12),  # Indian digit grouping (lakhs, crores)
        ("₹45,60,000", 4.56e6),
    ],
)
def test_indian_magnitudes_and_rupee_signs(text: str, value: float) -> None:
    qs = find_quantities(normalize(text))
    assert len(qs) == 1
    assert qs[0].value == pytest.approx(value) and qs[0].unit == "INR"


def test_rupee_figures_of_an_indian_company(registry: Registry) -> None:
    got = {
        (f.entity, f.metric, f.value, f.unit)
        for f in facts("Infosys posted a net profit of Rs 7,150 crore on revenue of ₹44,100 crore.", registry)
    }
    assert got == {
        ("Infosys", "net_income", 7.15e10, "INR"),
        ("Infosys", "revenue", 4.41e11, "INR"),
    }


def test_rupees_have_an_fx_rate_on_a_known_day_only() -> None:
    usd = to_usd(7.15e10, "INR", date(2025, 11, 20))
    assert usd is not None and 7e8 < usd < 9.5e8  # about 88 rupees to the dollar late in 2025
    assert to_usd(7.15e10, "INR", None) is None


def test_western_grouping_is_unchanged() -> None:
    assert [q.value for q in find_quantities("$1,234,500 and 2,345 units")] == [1234500.0, 2345.0]


def test_rs_is_no_currency_inside_a_word(registry: Registry) -> None:
    """'Rs' only before a number: 'GPUs 5' or 'Mrs 5' are no rupee amounts."""
    assert all(q.unit != "INR" for q in find_quantities("They shipped GPUs 5 times more; Mrs 3 said."))


def test_a_noun_followed_by_its_own_figure_names_that_figure(registry: Registry) -> None:
    """'profit of $X on revenue of $Y': 'revenue' is Y's noun, X keeps the noun before it."""
    got = triples("TCS earned a net profit of $1.4 billion on revenue of $7.5 billion.", registry)
    assert got == {
        ("Tata Consultancy Services", "net_income", 1.4e9),
        ("Tata Consultancy Services", "revenue", 7.5e9),
    }
    got = triples("TCS spent $2 billion on data centers.", registry)
    assert ("Tata Consultancy Services", "capex", 2e9) in got


# --------------------------------------------------------------------------- a company after a 的 phrase


@pytest.mark.parametrize(
    "text",
    [
        "小米第三季度营收1100亿元。全球第二大手机芯片设计商联发科第三季度营收1400亿元新台币，同比增长8%。",
        "小米第三季度營收1100億元。蘋果的主要晶片供應商聯發科第三季營收新台幣1,400億元，年增8%。",
        "小米第三季度营收1100亿元。苹果在亚洲的最大对手联发科第三季度营收1400亿元新台币，同比增长8%。",
        "小米第三季度营收1100亿元。为苹果代工的联发科第三季度营收1400亿元新台币，同比增长8%。",
        "小米第三季度營收1100億元。與蘋果合作密切的聯發科第三季營收1,400億元新台幣，年增8%。",
    ],
)
def test_the_company_a_de_phrase_describes_is_the_subject(text: str, registry: Registry) -> None:
    """Whatever the phrase before it (a rank, another company's supplier or rival, a relative clause
    with a preposition), the name right after the 的 phrase owns the figures, not the company before."""
    got = triples(text, registry)
    assert ("MediaTek", "revenue", 1.4e11) in got
    assert ("MediaTek", "revenue_growth_yoy", 8.0) in got
    assert {e for e, _m, _v in got} == {"Xiaomi", "MediaTek"}


def test_english_descriptions_before_a_name(registry: Registry) -> None:
    got = triples(
        "Xiaomi reported revenue of $15 billion. Apple rival Samsung Electronics, the world's largest "
        "memory maker, posted revenue of 86 trillion won.",
        registry,
    )
    assert ("Samsung Electronics", "revenue", 8.6e13) in got
    got = triples(
        "Xiaomi reported revenue of $15 billion. Nvidia's key supplier, TSMC, said its quarterly revenue "
        "rose 30%.",
        registry,
    )
    assert ("TSMC", "revenue_growth_yoy", 30.0) in got and not any(e == "NVIDIA" for e, _m, _v in got)


# --------------------------------------------------------------------------- growth-guidance ranges


@pytest.mark.parametrize(
    ("text", "entity", "low", "high"),
    [
        ("Infosys lifted its revenue growth forecast to 4%-6% for fiscal 2026.", "Infosys", 4.0, 6.0),
        ("Infosys expects revenue to rise between 3% and 5% this fiscal year.", "Infosys", 3.0, 5.0),
        (
            "TCS now sees revenue growth in the range of 2% to 4% for the year.",
            "Tata Consultancy Services",
            2.0,
            4.0,
        ),
        ("聯發科預估全年營收成長幅度為12%至15%。", "MediaTek", 12.0, 15.0),
        ("聯發科將全年營收成長預估上調至12%-15%。", "MediaTek", 12.0, 15.0),
        ("蔚来将全年营收增长指引上调至25%-30%。", "NIO", 25.0, 30.0),
        ("蔚来预计全年营收增速在25%到30%之间。", "NIO", 25.0, 30.0),
        ("聯發科將全年營收成長率目標上修至12%至15%。", "MediaTek", 12.0, 15.0),
        ("蔚来全年营收增长目标为25%-30%。", "NIO", 25.0, 30.0),
    ],
)
def test_growth_guidance_ranges(text: str, entity: str, low: float, high: float, registry: Registry) -> None:
    got = [f for f in facts(text, registry) if f.metric == "revenue_growth_yoy"]
    assert len(got) == 1
    g = got[0]
    assert (g.entity, g.kind, g.low, g.high) == (entity, "guidance", low, high)


def test_a_quarter_on_quarter_guidance_range_is_no_yoy_growth(registry: Registry) -> None:
    assert not [
        f for f in facts("聯發科預期第四季營收季增2%至5%。", registry) if f.metric == "revenue_growth_yoy"
    ]


def test_a_growth_guidance_cut_to_a_level_keeps_its_sign(registry: Registry) -> None:
    """'下调至5%': the new growth guidance is 5% (a rise of 5%), not a fall."""
    got = [f for f in facts("蔚来将全年营收增长指引下调至5%。", registry) if f.metric == "revenue_growth_yoy"]
    assert [(f.value, f.kind) for f in got] == [(5.0, "guidance")]


# --------------------------------------------------------------------------- capex said as investments


@pytest.mark.parametrize(
    ("text", "entity", "value", "period"),
    [
        (
            "Amazon said its investments in data centers totaled $31 billion in the third quarter.",
            "Amazon",
            3.1e10,
            "2025Q3",
        ),
        (
            "Oracle's capital investments were $8.5 billion in the quarter ended August 31.",
            "Oracle",
            8.5e9,
            None,
        ),
        ("百度第三季度资本投资为45亿元。", "Baidu", 4.5e9, "2025Q3"),
        ("百度第三季度投資45億元於伺服器等資本開支。", "Baidu", 4.5e9, "2025Q3"),
    ],
)
def test_investments_of_a_period_said_as_capital_spending_are_capex(
    text: str, entity: str, value: float, period: str | None, registry: Registry
) -> None:
    got = [f for f in facts(text, registry) if f.metric == "capex"]
    assert [(f.entity, f.value, f.kind) for f in got] == [(entity, value, "actual")]
    if period is not None:
        assert got[0].period == period


@pytest.mark.parametrize(
    "text",
    [
        "Amazon said its investments in research and development reached $22 billion in the third quarter.",
        "Amazon said its investments in acquisitions totaled $3 billion in the third quarter.",
        "百度第三季度在研发上的投入为60亿元。",
        "百度第三季度在并购上的投资为30亿元。",
    ],
)
def test_investments_in_research_or_acquisitions_are_no_capex(text: str, registry: Registry) -> None:
    assert not [f for f in facts(text, registry) if f.metric in ("capex", "investment_commitment")]


def test_an_investment_with_no_period_stays_a_commitment(registry: Registry) -> None:
    got = facts("Amazon will make investments of $20 billion in data centers in Georgia.", registry)
    assert [(f.metric, f.kind) for f in got] == [("investment_commitment", "commitment")]


def test_an_investment_in_the_quarter_under_discussion_is_that_quarters_capex(registry: Registry) -> None:
    got = facts(
        "Oracle reported revenue of $16 billion in its fiscal second quarter. Its investments in data "
        "centers totaled $12 billion in the quarter.",
        registry,
    )
    capex = [f for f in got if f.metric == "capex"]
    assert [(f.value, f.period, f.kind) for f in capex] == [(1.2e10, "FY2026Q2", "actual")]
    got = facts("甲骨文第二財季營收160億美元。當季在資料中心上的投資達120億美元。", registry)
    assert [(f.value, f.kind) for f in got if f.metric == "capex"] == [(1.2e10, "actual")]


def test_respectively_pairs_periods(registry: Registry) -> None:
    """A list of periods: the i-th figure is the i-th period's."""
    for text in (
        "小米2023年和2024年营收分别为2710亿元和3659亿元。",
        "Xiaomi's revenue in 2023 and 2024 was 271 billion yuan and 365.9 billion yuan, respectively.",
    ):
        got = sorted((f.period, f.value) for f in facts(text, registry) if f.metric == "revenue")
        assert [p for p, _v in got] == ["FY2023", "FY2024"]
        assert got[0][1] < got[1][1]
    pairs = {
        (f.period, f.value) for f in facts("聯發科第二季及第三季營收分別為1,500億元、1,420億元。", registry)
    }
    assert pairs == {("2025Q2", 1.5e11), ("2025Q3", 1.42e11)}


def test_a_change_still_to_come_by_x_to_y_is_a_range(registry: Registry) -> None:
    """'to grow by 3% to 5%' has no level after it (the change is forecast): one range; a change that
    happened, 'rose by 2% to 45%', stays a change and a level."""
    got = facts("TCS expects revenue to grow by 3% to 5% this year.", registry)
    assert [(f.metric, f.low, f.high, f.kind) for f in got] == [("revenue_growth_yoy", 3.0, 5.0, "guidance")]
    got = facts("Infosys said revenue would fall by 1% to 2% next quarter.", registry)
    assert [(f.value, f.low, f.high) for f in got] == [(-1.5, -2.0, -1.0)]
    assert len(find_quantities("Its operating margin rose by 2% to 25%.")) == 2


def test_a_speaker_named_after_the_figures_owns_them(registry: Registry) -> None:
    """'…, Infosys said.' / '…，比亚迪在公告中表示。': the company that states the figures, not the topic."""
    got = triples(
        "Xiaomi reported revenue of $15 billion. Revenue and net income rose 7% and 5%, respectively, "
        "TCS said on Thursday.",
        registry,
    )
    assert ("Tata Consultancy Services", "revenue_growth_yoy", 7.0) in got
    assert ("Tata Consultancy Services", "net_income_growth_yoy", 5.0) in got
    got = triples("小米第三季度营收1100亿元。第三季度营收同比增长6%，蔚来在公告中表示。", registry)
    assert ("NIO", "revenue_growth_yoy", 6.0) in got
    got = triples("小米第三季度營收1100億元。第三季營收年增6%，蔚來指出。", registry)
    assert ("NIO", "revenue_growth_yoy", 6.0) in got


def test_company_heading_over_labelled_lines_with_signed_growth(registry: Registry) -> None:
    """'Revenue: 79 trillion won (+6% y/y)' under a company heading: the level and its signed growth; a
    signed quarter-on-quarter change is not stored as year-on-year."""
    got = triples(
        "Results at a glance\nSamsung Electronics\nRevenue: 79 trillion won (+6% y/y)\nSK Hynix\n"
        "Revenue: 21 trillion won (-4% YoY, +3% q/q)\n",
        registry,
    )
    assert got == {
        ("Samsung Electronics", "revenue", 7.9e13),
        ("Samsung Electronics", "revenue_growth_yoy", 6.0),
        ("SK hynix", "revenue", 2.1e13),
        ("SK hynix", "revenue_growth_yoy", -4.0),
    }


def test_each_respectively_of_a_sentence_pairs_its_own_run(registry: Registry) -> None:
    got = triples("京东和美团第三季度分别实现营收3000亿元和950亿元，净利润分别为50亿元和1亿元。", registry)
    assert got == {
        ("JD.com", "revenue", 3.0e11),
        ("Meituan", "revenue", 9.5e10),
        ("JD.com", "net_income", 5.0e9),
        ("Meituan", "net_income", 1.0e8),
    }


def test_money_invested_in_a_past_period_is_capex_but_not_in_a_company_or_a_plan(registry: Registry) -> None:
    got = facts("Oracle invested $2 billion in capital projects in fiscal 2025.", registry)
    assert [(f.metric, f.period, f.kind) for f in got] == [("capex", "FY2025", "actual")]
    got = facts(
        "Amazon's purchases of property and equipment were $35 billion in the third quarter.", registry
    )
    assert [(f.metric, f.period) for f in got] == [("capex", "2025Q3")]
    got = facts("Amazon invested $4 billion in Anthropic in 2024.", registry)
    assert [f.metric for f in got] == ["investment_commitment"]
    got = facts("Amazon would invest $20 billion in Pennsylvania over 2025-2030.", registry)
    assert [f.metric for f in got] == ["investment_commitment"]


def test_a_de_phrase_with_a_verb_or_a_figure_noun_describes_no_name(registry: Registry) -> None:
    """'小米的营收超过了台积电，…': 台积电 is compared with, not described; the figure stays 小米's."""
    got = triples("小米的营收超过了台积电，达到1100亿元。", registry)
    assert got == {("Xiaomi", "revenue", 1.1e11)}
    got = triples("小米的營收高於聯發科，第三季達到1100億元。", registry)
    assert got == {("Xiaomi", "revenue", 1.1e11)}


def test_a_preposition_before_a_de_phrase_without_a_company_keeps_the_name_an_object(
    registry: Registry,
) -> None:
    """'向…的台积电': with no company inside the phrase, 向 governs the name itself (an object)."""
    got = triples("小米第三季度营收1100亿元。小米向专做代工的联发科采购了价值100亿元的芯片。", registry)
    assert not any(e == "MediaTek" for e, _m, _v in got)


def test_respectively_with_the_companies_after_the_figures(registry: Registry) -> None:
    got = triples(
        "Xiaomi reported revenue of $15 billion. Revenue rose 6% and 3% at Infosys and TCS, respectively.",
        registry,
    )
    assert ("Infosys", "revenue_growth_yoy", 6.0) in got
    assert ("Tata Consultancy Services", "revenue_growth_yoy", 3.0) in got
    assert not any(e == "Xiaomi" and m == "revenue_growth_yoy" for e, m, _v in got)


def test_company_headings_inside_an_article(tmp_path: Path, registry: Registry) -> None:
    """In a retrieved page whose headline names one company, a company heading still takes over the
    bullets under it, and a plain sub-heading gives the topic back to the headline's company."""
    path = tmp_path / "a.txt"
    path.write_text(
        "聯發科領軍 IC設計三雄第三季財報\n"
        "https://www.example.tw/ic | 2025-11-05 | zh-Hant\n"
        "聯發科第三季營收1,420億元。\n"
        "■ 瑞昱\n"
        "・營收310億元，年增3%\n"
        "■ 聯詠\n"
        "・營收250億元\n"
        "展望\n"
        "第四季營收預估1,300億元至1,400億元。\n",
        encoding="utf-8",
    )
    got = {
        (f.entity, f.metric, f.value)
        for a in split_articles(read_document(path))
        for f in extract_article(a, registry)
    }
    assert ("Realtek", "revenue", 3.1e10) in got and ("Realtek", "revenue_growth_yoy", 3.0) in got
    assert ("Novatek", "revenue", 2.5e10) in got
    assert ("MediaTek", "revenue", 1.35e11) in got  # the outlook after '展望' is the headline company's
