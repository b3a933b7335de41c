"""General rules added after the held-out set (tests/extract/heldout): each with our own sentences in
every language it concerns (sentences of neither the held-out set nor the shared material)."""

from __future__ import annotations

from metrics.extraction.entities import Registry
from metrics.extraction.extract import Fact
from tests.extract.sentences import facts


def summary(fs: list[Fact]) -> set[tuple[str, str, float]]:
    return {(f.entity, f.metric, round(f.value, 4)) for f in fs}


def test_a_noun_after_a_later_verb_does_not_name_an_earlier_amount(registry: Registry) -> None:
    """'... to 1.4 trillion yen on Monday and expects net profit of ...': the net profit is the next
    figure's noun, not this one's (only 的, in, of ... glue a noun after an amount)."""
    got = summary(facts(
        "Honda cut its operating profit forecast by 20% to 700 billion yen on Monday and expects net "
        "profit of 500 billion yen for the year.", registry,
    ))
    assert got == {("Honda", "net_income", 5e11)}
    assert summary(facts("Honda expects 500 billion yen in net profit.", registry)) == {
        ("Honda", "net_income", 5e11)
    }


def test_operating_income_words_are_not_revenue(registry: Registry) -> None:
    assert summary(facts("蔚来的能源业务本季实现经营收益2亿元，收入为15亿元。", registry)) == {
        ("NIO", "revenue", 1.5e9)
    }
    assert summary(facts("蔚來的能源業務本季實現經營收益2億元，收入為15億元。", registry)) == {
        ("NIO", "revenue", 1.5e9)
    }


def test_monetary_funds_are_cash(registry: Registry) -> None:
    got = facts("截至9月末，比亚迪货币资金为1500亿元。", registry)
    assert [(f.entity, f.metric, f.value, f.unit) for f in got] == [("BYD", "cash", 1.5e11, "CNY")]
    got = facts("截至9月底，比亞迪貨幣資金為1500億元。", registry)
    assert [(f.entity, f.metric, f.value) for f in got] == [("BYD", "cash", 1.5e11)]


def test_a_market_index_move_is_not_a_share_move(registry: Registry) -> None:
    got = summary(facts(
        "Shares of Delta Electronics rose 2.5 percent, beating the benchmark TAIEX, which gained 0.6 "
        "percent.", registry,
    ))
    assert got == {("Delta Electronics", "share_price_change", 2.5)}
    got = summary(facts("台達電股價上漲2.5%，大盤僅上漲0.6%。", registry))
    assert got == {("Delta Electronics", "share_price_change", 2.5)}
    got = summary(facts("Advantest shares fell 4% while the Nikkei lost 1.2%.", registry))
    assert got == {("Advantest", "share_price_change", -4.0)}


def test_a_base_right_after_a_figure_is_its_own(registry: Registry) -> None:
    """'rose 5% sequentially and 20% year over year': each figure's base is the one right after it;
    a month-on-month change ('from September', 较上月) is never stored as growth."""
    assert summary(facts("AMD said revenue rose 5% sequentially and 20% year over year.", registry)) == {
        ("AMD", "revenue_growth_yoy", 20.0)
    }
    got = summary(facts(
        "Delta Electronics said October revenue rose 7 percent from September and 25 percent from a "
        "year earlier.", registry,
    ))
    assert got == {("Delta Electronics", "revenue_growth_yoy", 25.0)}
    assert summary(facts("台達電10月營收較上月增加7%。", registry)) == set()
    assert summary(facts("台达电10月营收月增7%、年增25%。", registry)) == {
        ("Delta Electronics", "revenue_growth_yoy", 25.0)
    }


def test_a_listed_percentage_takes_the_change_before_it(registry: Registry) -> None:
    """The verb carries to a listed figure only when the figure before it states its own base; the
    direction carries too."""
    got = facts("Largan said sales fell 9 percent from August and 14 percent from a year earlier.", registry)
    assert [(f.entity, f.metric, f.value) for f in got] == [("Largan", "revenue_growth_yoy", -14.0)]


def test_the_company_is_the_one_just_spoken_of(registry: Registry) -> None:
    """'The company' after a second company is named refers to that one, not the first (该公司 too)."""
    got = summary(facts(
        "Quanta Computer reported revenue of NT$190 billion. Separately, Catcher Technology said sales "
        "fell 5 percent year-on-year to NT$6 billion. The company's third-quarter net profit was NT$2 "
        "billion.", registry,
    ))
    assert ("Catcher Technology", "net_income", 2e9) in got
    assert ("Quanta Computer", "net_income", 2e9) not in got
    got = summary(facts("廣達營收為1900億元。另外，可成營收為60億元。該公司第三季淨利為20億元。", registry))
    assert ("Catcher Technology", "net_income", 2e9) in got


def test_a_past_period_naming_a_figure_makes_it_actual(registry: Registry) -> None:
    """'将与去年的73亿美元持平': the figure is last year's actual, not this year's guidance."""
    for text in (
        "中芯国际表示，今年资本开支将与去年的73亿美元大致持平。",
        "中芯國際表示，今年資本開支將與去年的73億美元大致持平。",
    ):
        got = facts(text, registry)
        assert [(f.metric, f.value, f.kind, f.period) for f in got] == [("capex", 7.3e9, "actual", "FY2024")]
    text = "Intel said 2025 capital spending would be roughly flat with last year's $25 billion."
    got = facts(text, registry)
    assert [(f.metric, f.value, f.kind, f.period) for f in got] == [("capex", 2.5e10, "actual", "FY2024")]
    got = facts("台积电预计明年的资本支出为500亿美元。", registry)  # a future period stays guidance
    assert [(f.metric, f.kind) for f in got] == [("capex_guidance", "guidance")]


def test_english_growth_phrasings(registry: Registry) -> None:
    """'revenue growth of 19% to 21%' (a guided range), 'grew revenue 34%' (the verb before its noun),
    and a growth after an ', or $X per share,' aside, which is about the profit before the aside."""
    got = facts("For the current quarter, Adobe sees revenue growth of 9% to 11%.", registry)
    assert [(f.metric, f.value, f.low, f.high, f.kind) for f in got] == [
        ("revenue_growth_yoy", 10.0, 9.0, 11.0, "guidance")
    ]
    got = summary(facts("Tencent's cloud unit grew revenue 18% to 30 billion yuan.", registry))
    assert got == {("Tencent", "revenue_growth_yoy", 18.0), ("Tencent", "revenue", 3e10)}
    got = summary(facts("Intel cut revenue 5% sequentially.", registry))
    assert got == set()
    got = summary(facts(
        "Catcher Technology's net profit was NT$3 billion, or NT$4.2 per share, down 6 percent from "
        "a year earlier.", registry,
    ))
    assert got == {
        ("Catcher Technology", "net_income", 3e9),
        ("Catcher Technology", "net_income_growth_yoy", -6.0),
    }
    assert summary(facts("Nvidia earned $1.30 per share, up 60% from a year earlier.", registry)) == set()


def test_a_noun_in_an_aside_names_nothing(registry: Registry) -> None:
    """A parenthetical between a figure and its noun or its change ('(含汇率影响)', '(excluding
    currency effects)') neither names the figure nor hides the noun before it."""
    got = summary(facts("台達電10月營收為新台幣500億元（含匯率影響），年增30%。", registry))
    assert got == {("Delta Electronics", "revenue", 5e10), ("Delta Electronics", "revenue_growth_yoy", 30.0)}
    got = summary(facts("台达电10月营收（不含汇率影响）为新台币500亿元，年增30%。", registry))
    assert got == {("Delta Electronics", "revenue", 5e10), ("Delta Electronics", "revenue_growth_yoy", 30.0)}
    got = summary(facts(
        "Delta Electronics said October revenue (including currency effects) was NT$50 billion, up 30% "
        "from a year earlier.", registry,
    ))
    assert got == {("Delta Electronics", "revenue", 5e10), ("Delta Electronics", "revenue_growth_yoy", 30.0)}


def test_a_growth_target_is_guided_growth(registry: Registry) -> None:
    got = facts("Kia kept its full-year revenue growth target of 5% to 6%.", registry)
    assert [(f.entity, f.metric, f.value, f.kind) for f in got] == [
        ("Kia", "revenue_growth_yoy", 5.5, "guidance")
    ]


def test_a_longer_move_in_a_which_aside_leaves_the_days_move(registry: Registry) -> None:
    got = summary(facts("Shares of Kia, which have gained 20% this year, closed 2.3% lower.", registry))
    assert got == {("Kia", "share_price_change", -2.3)}
    assert summary(facts("Kia shares have gained 20% this year.", registry)) == set()
    assert summary(facts("今年以来，起亚股价累计上涨20%。", registry)) == set()


def test_private_placement_is_funding(registry: Registry) -> None:
    got = facts("寒武纪此前完成约40亿元定增募资。", registry)
    assert [(f.entity, f.metric, f.value, f.qualifier) for f in got] == [
        ("Cambricon", "funding_raised", 4e9, "approx")
    ]
    got = facts("寒武紀此前完成約40億元定向增發。", registry)
    assert [(f.entity, f.metric, f.value) for f in got] == [("Cambricon", "funding_raised", 4e9)]


def test_taiwan_and_hong_kong_short_names(registry: Registry) -> None:
    """Short names Taiwan and Hong Kong outlets use (聯電, 中華電, 中移動, 新鴻基 ...) find their
    company; the ones that are also words (長榮, 友邦, 快手) only with a figure right after them."""
    cases = {
        "聯電11月營收為新台幣190億元。": "UMC",
        "中華電第三季營收為新台幣570億元。": "Chunghwa Telecom",
        "萬海10月營收為新台幣150億元。": "Wan Hai Lines",
        "中移動第三季收入為2500億元。": "China Mobile",
        "新鴻基地產全年收入為700億港元。": "Sun Hung Kai Properties",
        "长荣10月营收为新台币300亿元。": "Evergreen Marine",
        "快手第三季度收入为355亿元。": "Kuaishou",
        "Largan Precision said sales were NT$5 billion.": "Largan",
        "United Microelectronics said revenue was NT$19 billion.": "UMC",
    }
    for text, name in cases.items():
        assert {f.entity for f in facts(text, registry)} == {name}, text
    assert facts("长荣的员工说，天气很好。", registry) == []


def test_the_first_months_of_a_year(registry: Registry) -> None:
    """前10个月, 1-10月, 'the first 10 months': a year-to-date period (2025-10M), reported (not a
    forecast of the year); three months are the first quarter."""
    cases = {
        "台積電今年前10個月營收為新台幣3兆元。": "2025-10M",
        "台积电1-10月营收为3万亿元新台币。": "2025-10M",
        "TSMC's revenue in the first 10 months of the year was NT$3 trillion.": "2025-10M",
        "比亚迪前三个月营收为1700亿元。": "2025Q1",
    }
    for text, period in cases.items():
        got = facts(text, registry)
        assert [(f.metric, f.period, f.kind) for f in got] == [("revenue", period, "actual")], text


def test_fiscal_quarters_without_a_year(registry: Registry) -> None:
    """本财季, 第四财季, 上一財季, 'the current fiscal quarter': the company's own fiscal quarters at the
    article's date (Nvidia's fiscal year ends in January: November 2025 is in its FY2026 Q4); a date
    in an aside after the period does not hide it."""
    cases = {
        "英伟达预计本财季营收为650亿美元。": "FY2026Q4",
        "英伟达预计，考虑到出口限制，第四财季营收为650亿美元。": "FY2026Q4",
        "輝達上一財季營收為570億美元。": "FY2026Q3",
        "Nvidia expects revenue of $65 billion in the current fiscal quarter.": "FY2026Q4",
        "微软预计本财年第二财季（截至12月底）营收将达到800亿美元。": "FY2026Q2",
    }
    for text, period in cases.items():
        got = facts(text, registry)
        assert [(f.metric, f.period) for f in got] == [("revenue", period)], text


def test_an_abbreviated_month_ends_no_sentence(registry: Registry) -> None:
    """'the quarter ended Sept. 30' is one sentence and names the quarter (Microsoft's fiscal first)."""
    got = facts("Microsoft's revenue for the quarter ended Sept. 30 was $77.7 billion.", registry)
    assert [(f.entity, f.metric, f.value, f.period) for f in got] == [
        ("Microsoft", "revenue", 7.77e10, "FY2026Q1")
    ]
    got = facts("Apple said on Oct. 30 that revenue was $102.5 billion.", registry)
    assert [(f.entity, f.metric) for f in got] == [("Apple", "revenue")]


def test_a_part_said_with_zhan_continues_the_metric(registry: Registry) -> None:
    """'设施投资约47兆韩元，其中记忆体占40兆韩元': the part takes the sentence's metric (its company)."""
    for text in (
        "三星表示，今年設施投資預計約47兆韓圜，其中記憶體占40兆韓圜。",
        "三星表示，今年设施投资预计约47兆韩元，其中存储器占40兆韩元。",
    ):
        got = summary(facts(text, registry))
        assert got == {
            ("Samsung Electronics", "capex_guidance", 4.7e13),
            ("Samsung Electronics", "capex_guidance", 4e13),
        }


def test_a_companys_h_shares_move(registry: Registry) -> None:
    """比亚迪H股 is the company's own shares (not a product named after it)."""
    for text in ("比亚迪H股今早低见95港元，跌近3%。", "比亞迪H股收跌2%。"):
        got = facts(text, registry)
        assert [(f.entity, f.metric) for f in got] == [("BYD", "share_price_change")], text
        assert got[0].value < 0


def test_asides_between_a_figure_and_its_noun_or_period(registry: Registry) -> None:
    """'capital expenditures, including finance leases, were $35 billion' (a comma aside), and a
    forecast's tolerance between the figure and its period ('$65 billion, plus or minus 2%, for the
    fourth quarter of fiscal 2026')."""
    got = facts("Alphabet said capital expenditures, including finance leases, were $24 billion.", registry)
    assert [(f.entity, f.metric, f.value) for f in got] == [("Alphabet", "capex", 2.4e10)]
    got = facts(
        "Nvidia expects revenue of $65 billion, plus or minus 2%, for the fourth quarter of fiscal 2026.",
        registry,
    )
    assert [(f.metric, f.value, f.period, f.kind) for f in got] == [
        ("revenue", 6.5e10, "FY2026Q4", "guidance")
    ]
