"""The company registry: loading and validation, lookups, and alias matching in text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from metrics.errors import ConfigError
from metrics.extraction.entities import Registry
from metrics.extraction.normalize import normalize


def names(registry: Registry, text: str) -> list[str]:
    return [m.company.name for m in registry.find(normalize(text))]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "companies.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_registry_is_large_enough(registry: Registry) -> None:
    """The shipped registry covers at least 850 companies, most of them listed."""
    assert len(registry) >= 850
    assert len(registry.listed()) >= 800


def test_registry_covers_the_main_indices(registry: Registry) -> None:
    """Large members of each covered market are registered, found by their Yahoo tickers."""
    for ticker in ("UNP", "TMO", "CB", "PANW", "MELI", "YUMC",  # S&P 500, Nasdaq-100
                   "0016.HK", "1299.HK", "2319.HK", "0268.HK",  # Hang Seng (Tech)
                   "601628.SS", "300750.SZ", "688111.SS",  # CSI 300, STAR
                   "2886.TW", "5274.TWO",  # Taiwan 50, TPEx
                   "055550.KS", "051910.KS",  # KOSPI
                   "8316.T", "4568.T", "9434.T"):  # Nikkei 225, TOPIX Core30
        assert ticker in registry, ticker


def test_every_gold_company_is_registered_with_its_ticker(
    registry: Registry, shared_data: Callable[..., Path]
) -> None:
    """Each entity of the gold file is in the registry under the same canonical name and ticker."""
    for line in shared_data("gold", "seeds.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        company = registry.get(row["entity"])
        assert company is not None, row["entity"]
        assert company.name == row["entity"]
        assert company.ticker == row["ticker"], row["entity"]


def test_every_dev_gold_company_is_registered_under_its_name(
    registry: Registry, shared_data: Callable[..., Path]
) -> None:
    """Each entity of the dev gold file has a registry entry of exactly that canonical name."""
    for line in shared_data("dev", "gold.jsonl").read_text(encoding="utf-8").splitlines():
        entity = json.loads(line)["entity"]
        company = registry.get(entity)
        assert company is not None and company.name == entity, entity


def test_fiscal_year_ends_of_the_big_ones(registry: Registry) -> None:
    """Fiscal years end in the right month for companies whose year is not the calendar year."""
    expected = {
        "Microsoft": 6,
        "NVIDIA": 1,
        "Apple": 9,
        "Oracle": 5,
        "Walmart": 1,
        "Broadcom": 10,
        "Micron": 8,
        "Alibaba": 3,
        "Cisco": 7,
        "Salesforce": 1,
        "Toyota": 3,
        "Meta": 12,
        "Medtronic": 4,
        "FedEx": 5,
        "Deere": 10,
        "Lowe's": 1,
        "Jabil": 8,
        "Zscaler": 7,
        "Lenovo": 3,
        "Sun Hung Kai Properties": 6,
        "Chow Tai Fook": 3,
        "Alibaba Health": 3,
        "Yaskawa Electric": 2,
        "Fast Retailing": 8,
        "Reliance Industries": 3,
    }
    for name, month in expected.items():
        company = registry.get(name)
        assert company is not None and company.fiscal_year_end == month, name


def test_exchanges_are_known_to_exchange_calendars(registry: Registry) -> None:
    """Every listed company's trading calendar exists in exchange-calendars."""
    import exchange_calendars as xc

    known = set(xc.get_calendar_names(include_aliases=True))
    for c in registry.listed():
        assert c.calendar in known, (c.name, c.exchange)


def test_ticker_suffix_matches_exchange(registry: Registry) -> None:
    """Yahoo suffixes agree with the exchange; a ticker without a suffix trades in New York."""
    suffix_mic = {"SS": "XSHG", "SZ": "XSHE", "HK": "XHKG", "TW": "XTAI", "TWO": "ROCO", "KS": "XKRX",
                  "KQ": "XKOS", "T": "XTKS", "L": "XLON", "DE": "XETR", "PA": "XPAR", "AS": "XAMS",
                  "SW": "XSWX", "NS": "XNSE", "HE": "XHEL", "ST": "XSTO", "OL": "XOSL", "AX": "XASX",
                  "SI": "XSES", "SR": "XSAU"}
    for c in registry.listed():
        assert c.ticker is not None
        _, dot, suffix = c.ticker.rpartition(".")
        if dot and suffix in suffix_mic:
            assert c.exchange == suffix_mic[suffix], c.name
        else:
            assert c.exchange in ("XNYS", "XNAS"), c.name


def test_asian_tickers_have_their_market_shapes(registry: Registry) -> None:
    """Codes look as each market numbers them: Shanghai 6xxxxx, Shenzhen 0/3xxxxx, HK and Tokyo 4 places."""
    shapes = {"XSHG": r"6\d{5}\.SS", "XSHE": r"[03]\d{5}\.SZ", "XHKG": r"\d{4}\.HK", "XTAI": r"\d{4}\.TW",
              "ROCO": r"\d{4}\.TWO", "XKRX": r"\d{6}\.KS", "XKOS": r"\d{6}\.KQ", "XTKS": r"\d{3}[0-9A-Z]\.T"}
    for c in registry.listed():
        pattern = shapes.get(c.exchange or "")
        if pattern is not None:
            assert re.fullmatch(pattern, c.ticker or ""), (c.name, c.ticker)


def test_hong_kong_and_taiwan_names_of_newer_entries(registry: Registry) -> None:
    """Traditional names used in Taipei and Hong Kong reach the new entries."""
    assert names(registry, "台灣大哥大與遠傳電信、兆豐金") == [
        "Taiwan Mobile",
        "Far EasTone",
        "Mega Financial",
    ]
    assert names(registry, "新鴻基地產、長江和記及渣打") == [
        "Sun Hung Kai Properties",
        "CK Hutchison",
        "Standard Chartered",
    ]
    assert names(registry, "中国人寿和中國太保") == ["China Life", "China Pacific Insurance"]


def test_aliases_inside_common_phrases_are_not_plain_matches(registry: Registry) -> None:
    """Phrases that merely contain a short company name yield no unflagged mention."""
    for text in ("公司努力拓展海外市场", "提高意识", "航空客运量回升", "加强生产管理", "5000万豪宅成交",
                 "the RTX 5090 card", "vast data sets", "ups and downs", "hmm, maybe", "好时机已到",
                 "in vivo results"):
        found = [m.company.name for m in registry.find(normalize(text)) if not m.ambiguous]
        assert found == [], (text, found)


def test_get_by_name_ticker_and_alias(registry: Registry) -> None:
    """get() finds a company by canonical name, Yahoo ticker or any alias, ignoring case."""
    assert registry.get("nvidia") is registry.get("NVDA") is registry.get("輝達")
    assert registry.get("0700.hk") is registry.get("腾讯")
    assert registry.get("no such company") is None


def test_traditional_and_regional_aliases_match(registry: Registry) -> None:
    """Taiwan and Hong Kong names find the same companies as the simplified ones."""
    assert names(registry, "輝達與超微、台積電、高通") == ["NVIDIA", "AMD", "TSMC", "Qualcomm"]
    assert names(registry, "英偉達和騰訊") == ["NVIDIA", "Tencent"]


def test_latin_aliases_respect_word_boundaries(registry: Registry) -> None:
    """'AMD' is not found inside 'AMDX', nor 'Intel' inside 'Intelligence', but both alone are."""
    assert names(registry, "AMDX and Intelligence") == []
    assert names(registry, "AMD,Intel和Nvidia") == ["AMD", "Intel", "NVIDIA"]


def test_latin_aliases_are_case_insensitive(registry: Registry) -> None:
    """Ordinary Latin aliases match in any case."""
    assert names(registry, "NVIDIA nvidia Nvidia DOORDASH") == ["NVIDIA"] * 3 + ["DoorDash"]


def test_common_english_words_need_their_capitals(registry: Registry) -> None:
    """Case-sensitive names ('Meta', 'Snap') match as written or in capitals, never in lower case."""
    assert names(registry, "Meta與META; meta; SNAP股价; a snap decision; metadata") == [
        "Meta",
        "Meta",
        "Snap",
    ]


def test_longest_match_wins(registry: Registry) -> None:
    """Overlapping aliases resolve to the longest: SK海力士 over 海力士, 京东方 over 京东."""
    found = registry.find(normalize("SK海力士与京东方"))
    assert [(m.company.name, m.alias) for m in found] == [("SK hynix", "SK海力士"), ("BOE", "京东方")]


def test_mentions_carry_offsets_into_the_text(registry: Registry) -> None:
    """start/end index the normalized text, which has the original's offsets."""
    text = "據報導,台積電與聯發科合作"
    norm = normalize(text)
    spans = [(m.start, m.end) for m in registry.find(norm)]
    assert [text[s:e] for s, e in spans] == ["台積電", "聯發科"]


def test_ambiguous_aliases_are_returned_and_flagged(registry: Registry) -> None:
    """Common words (苹果 the fruit, 浪潮 a wave) are found but flagged; full names are not flagged."""
    found = registry.find(normalize("苹果公司和苹果;浪潮信息与浪潮"))
    assert [(m.company.name, m.ambiguous) for m in found] == [
        ("Apple", False),
        ("Apple", True),
        ("Inspur Information", False),
        ("Inspur Information", True),
    ]


def test_minimal_registry_loads_with_defaults(tmp_path: Path) -> None:
    """A private company needs only name and currency; fiscal years default to December."""
    reg = Registry.load(write(tmp_path, '[[company]]\nname = "Acme Labs"\ncurrency = "USD"\n'))
    acme = reg.get("Acme Labs")
    assert acme is not None and acme.fiscal_year_end == 12 and not acme.listed and acme.ticker is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[company]]\nname = "A Co"\ncurrency = "USD"\ncolour = "red"\n', "unknown keys ['colour']"),
        ('[[company]]\nname = "A Co"\ncurrency = "USD"\nfiscal_year_end = 13\n', "fiscal_year_end"),
        ('[[company]]\nname = "A Co"\ncurrency = "usd"\n', "currency"),
        ('[[company]]\nname = "A Co"\ncurrency = "USD"\nticker = "A"\n', "go together"),
        ('[[company]]\nname = "A Co"\ncurrency = "USD"\naliases = ["甲"]\n', "too short"),
        (
            '[[company]]\nname = "A Co"\ncurrency = "USD"\n[[company]]\nname = "a co"\ncurrency = "USD"\n',
            "duplicate company name",
        ),
        (
            ('[[company]]\nname = "A Co"\ncurrency = "USD"\naliases = ["甲乙"]\n'
            '[[company]]\nname = "B Co"\ncurrency = "USD"\naliases = ["甲乙"]\n'),
            "also belongs to 'A Co'",
        ),
        (
            ('[[company]]\nname = "A Co"\ncurrency = "USD"\naliases = ["臺積"]\n'
            '[[company]]\nname = "B Co"\ncurrency = "USD"\naliases = ["台积"]\n'),
            "also belongs to 'A Co'",
        ),
        ('[companies]\nname = "x"\n', "unknown top-level keys"),
        ('[[company]\nname = "x"\n', "invalid TOML"),
    ],
)
def test_invalid_registry_is_a_config_error_naming_file_and_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    """Each kind of mistake raises ConfigError naming the file, the entry and the problem."""
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        Registry.load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_registry_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing companies file is reported with its path."""
    with pytest.raises(ConfigError, match="not found"):
        Registry.load(tmp_path / "nope.toml")
