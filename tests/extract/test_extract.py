"""The extractor (metrics/extraction/extract.py): metrics, companies, kinds, periods and provenance,
on our own Chinese and English sentences, with the project's company registry."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.extraction.documents import read_document, split_articles
from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact, extract_article, extract_text

NOV = date(2025, 11, 20)


def facts(text: str, registry: Registry, published: date | None = NOV) -> list[Fact]:
    return extract_text(text, registry, published=published)


def summary(fs: list[Fact]) -> set[tuple[str, str, float]]:
    return {(f.entity, f.metric, round(f.value, 4)) for f in fs}


def test_revenue_and_growth_english(registry: Registry) -> None:
    """'revenue rose 26% to $57.0 billion' gives revenue and its year-over-year growth."""
    fs = facts("Nvidia said third-quarter revenue rose 26% to $57.0 billion.", registry)
    assert summary(fs) == {("NVIDIA", "revenue_growth_yoy", 26.0), ("NVIDIA", "revenue", 57e9)}


def test_capex_guidance_range_english(registry: Registry) -> None:
    """A raised capex forecast with a range is capex guidance for that year."""
    (f,) = facts("Alphabet raised its 2025 capex forecast to $91 billion to $93 billion.", registry)
    assert (f.entity, f.metric, f.low, f.high, f.period, f.kind) == (
        "Alphabet",
        "capex_guidance",
        91e9,
        93e9,
        "FY2025",
        "guidance",
    )


def test_chinese_results_with_pronoun(registry: Registry) -> None:
    """'公司' refers to the company named before; revenue, net income and both growth rates are found."""
    text = "据瑞芯微2024年前三季度报告,公司营业收入达20.1亿元,同比增长33.2%,净利润3.4亿元,同比增长90.5%。"
    fs = facts(text, registry)
    assert summary(fs) == {
        ("Rockchip", "revenue", 20.1e8),
        ("Rockchip", "revenue_growth_yoy", 33.2),
        ("Rockchip", "net_income", 3.4e8),
        ("Rockchip", "net_income_growth_yoy", 90.5),
    }
    assert {f.period for f in fs} == {"2024-9M"}
    assert {f.kind for f in fs} == {"actual"}


def test_share_moves_and_signs(registry: Registry) -> None:
    """Each company's move takes its sign from the verb; index moves are not company figures."""
    fs = facts("盘中小鹏汽车涨超4% 百度跌逾2% 道指跌0.3% 标普500指数涨0.2%", registry)
    assert summary(fs) == {("XPeng", "share_price_change", 4.0), ("Baidu", "share_price_change", -2.0)}
    assert {f.qualifier for f in fs} == {"gt"}


def test_capex_actual_and_next_fiscal_year(registry: Registry) -> None:
    """Last quarter's spend is actual capex; next fiscal year's is guidance, by the company's fiscal year."""
    fs = facts("微软上季度投入了302亿美元,并表示下一财年将投入900亿美元。", registry)
    got = {(f.metric, f.value, f.period, f.kind) for f in fs}
    assert got == {("capex", 302e8, "2025Q3", "actual"), ("capex_guidance", 900e8, "FY2027", "guidance")}


def test_multi_year_commitment(registry: Registry) -> None:
    """An investment over the next years is a commitment with a multi-year period."""
    (f,) = facts("OpenAI计划在未来6年投入约8000亿美元建设数据中心。", registry)
    assert (f.metric, f.value, f.qualifier, f.period, f.kind) == (
        "investment_commitment",
        8000e8,
        "approx",
        "2025..2030",
        "commitment",
    )


def test_out_of_scope_figures(registry: Registry) -> None:
    """Market sizes, a country's investment and shortfalls are left out."""
    text = (
        "2024年全球云计算市场规模达6000亿美元。越南吸引的外国直接投资达到200亿美元。"
        "摩根士丹利称美国电力缺口达到20吉瓦。"
    )
    assert facts(text, registry) == []


def test_subject_and_objects(registry: Registry) -> None:
    """The subject invests; a company after 向/为/与 is the object, not the owner of the figure."""
    fs = facts("英伟达宣布向Nscale投资3亿英镑,并与微软合作投资超过100亿美元。", registry)
    assert summary(fs) == {
        ("NVIDIA", "investment_commitment", 3e8),
        ("NVIDIA", "investment_commitment", 100e8),
    }


def test_each_company_of_an_enumeration(registry: Registry) -> None:
    """'甲、乙各…' gives the figure to each company."""
    fs = facts("长电科技、通富微电各获得2万颗芯片封装订单。", registry)
    assert summary(fs) == {("JCET", "units", 2e4), ("Tongfu Microelectronics", "units", 2e4)}


def test_deal_value_after_the_figure(registry: Registry) -> None:
    """A cue after the amount (协议, 融资) names its metric."""
    fs = facts("Snap与一家AI公司达成6亿美元协议。Anthropic完成了80亿美元融资,投后估值约900亿美元。", registry)
    assert summary(fs) == {
        ("Snap", "deal_value", 6e8),
        ("Anthropic", "funding_raised", 80e8),
        ("Anthropic", "valuation", 900e8),
    }
    val = next(f for f in fs if f.metric == "valuation")
    assert (val.period, val.qualifier) == ("ASOF", "approx")


def test_implied_currency_for_bare_amounts(registry: Registry) -> None:
    """An amount without currency in Chinese text after 估值/净利润 is CNY."""
    fs = facts("米哈游去年净利润约40亿,估值1200亿。", registry)
    assert {(f.metric, f.value, f.unit) for f in fs} == {
        ("net_income", 40e8, "CNY"),
        ("valuation", 1200e8, "CNY"),
    }


def test_units_need_a_supply_verb(registry: Registry) -> None:
    """Chips ordered or shipped are units; chips in a spec sentence are not."""
    assert summary(facts("字节跳动追加了2.5万颗芯片订单。", registry)) == {("ByteDance", "units", 2.5e4)}
    assert facts("谷歌的新TPU在一个机柜中连接多达8000个芯片。", registry) == []


def test_quote_and_spans_point_into_the_original(registry: Registry) -> None:
    """Quotes are exact substrings of the original (traditional) text at their spans."""
    text = "全志科技2024年營業收入達16.2億元。"
    (f,) = facts(text, registry)
    assert text[f.span_start : f.span_end] == f.quote
    assert "16.2億元" in f.quote
    assert f.value == 16.2e8


def test_repeated_figure_is_one_fact(registry: Registry) -> None:
    """The same figure said twice in an article is one fact."""
    text = "Anthropic宣布投入300亿美元建设数据中心。分析人士认为,Anthropic投入300亿美元建设数据中心意义重大。"
    assert len(facts(text, registry)) == 1


def test_extract_article_from_a_document(registry: Registry, tmp_path: pytest.TempPathFactory) -> None:
    """extract_article works on a split document; spans index the whole document text."""
    path = tmp_path / "news.txt"  # type: ignore[operator]
    path.write_text(
        "谷歌资本开支大增\n某某财经· 2025-11-02 08:00\n谷歌将2025年资本支出上调至850亿美元。\n"
        "亚马逊业绩\n某某财经· 2025-11-03 09:00\n亚马逊第三季度营收为1800亿美元。\n",
        encoding="utf-8",
    )
    doc = read_document(path)
    arts = split_articles(doc)
    assert len(arts) == 2
    got = [(f.entity, f.metric, f.value, f.period) for a in arts for f in extract_article(a, registry)]
    assert got == [("Alphabet", "capex_guidance", 850e8, "FY2025"), ("Amazon", "revenue", 1800e8, "2025Q3")]
    for a in arts:
        for f in extract_article(a, registry):
            assert doc.text[f.span_start : f.span_end] == f.quote
