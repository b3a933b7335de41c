"""Reading documents (encodings, formats, bad files) and splitting them into dated articles."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest

from metrics.errors import DocumentError
from metrics.extraction.articles import Line, lines_of
from metrics.extraction.documents import context_year, read_document, split_articles, text_date

from .conftest import EXAMPLES, WriteDoc

TW = ("聯發科公布第三季財報\n聯發科第三季營業收入達新台幣1,420億元,年增7.8%,毛利率46.5%。"
      "公司表示人工智慧晶片需求強勁。 (經濟日報)\n")
CN = ("比亚迪发布三季度业绩\n比亚迪第三季度营业收入1950亿元,同比下降3%,净利润78亿元。"
      "公司表示将继续扩大海外产能。 (财经观察)\n")

BYLINES = """行情页面
返回首页
宁德时代前三季度净利润增长
证券日报· 2025-10-21 19:02
宁德时代公布前三季度业绩,营业收入2831亿元,净利润490亿元。
公司表示第四季度排产饱满。

Broadcom guides AI revenue higher
2025-12-12 07:15
Broadcom expects first-quarter revenue of $19.1 billion.
比亚迪十月销量回落
汽车周刊 · 2025年11月2日 09:30
比亚迪10月销售新能源汽车44.2万辆。
"""

OUTLETS = (
    "#半导体\n小米发布第三季度业绩\n"
    "11月18日,小米集团公布第三季度业绩,总收入1131亿元,同比增长22%,经调整净利润113亿元,创历史新高。"
    "公司表示将继续投入自研芯片。 (科技观察)\n"
    "單獨一行的標題\n台積電10月營收創新高\n"
    "台積電公布10月合併營收約新台幣3,675億元,月增11%,年增16.9%。法人預期第四季營收將優於公司財測,"
    "全年營收成長可望超過三成。 （工商時報）\n"
)


def test_utf8_document(write_doc: WriteDoc) -> None:
    """A UTF-8 file is read as UTF-8 and hashed over its bytes."""
    path = write_doc("a.txt", CN)
    doc = read_document(path)
    assert doc.encoding == "utf-8" and doc.text == CN
    assert doc.doc_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.name == "a.txt" and doc.size == len(CN.encode())


def test_utf8_with_bom(write_doc: WriteDoc) -> None:
    """A UTF-8 BOM is recognised and not part of the text, so offsets start at the first character."""
    doc = read_document(write_doc("bom.txt", data=b"\xef\xbb\xbf" + CN.encode()))
    assert doc.encoding == "utf-8-sig" and doc.text == CN


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [(CN, "gb18030", "gb18030"), (CN, "gbk", "gb18030"), (TW, "gb18030", "gb18030"), (TW, "big5", "big5")],
)
def test_chinese_legacy_encodings_are_detected(
    write_doc: WriteDoc, text: str, encoding: str, expected: str
) -> None:
    """GB18030/GBK and Big5 files are detected (GBK read as its superset GB18030), never assumed."""
    doc = read_document(write_doc(f"x.{encoding}.txt", text, encoding=encoding))
    assert doc.encoding == expected
    assert doc.text == text


def test_example_documents_decode(write_doc: WriteDoc) -> None:
    """The shipped Big5 and GB18030 examples decode to readable text."""
    big5 = read_document(EXAMPLES / "2025-10-taiwan-supply-chain.big5.txt")
    gb = read_document(EXAMPLES / "2025-11-alibaba-quarter.gb18030.md")
    assert big5.encoding == "big5" and "台積電" in big5.text
    assert gb.encoding == "gb18030" and gb.title is not None and "阿里巴巴" in gb.title


def test_binary_file_is_rejected(write_doc: WriteDoc) -> None:
    """A file with NUL bytes is binary: DocumentError naming the file."""
    path = write_doc("image.txt", data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(DocumentError, match="binary") as info:
        read_document(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("data", [b"", b"  \n\t\n"])
def test_empty_file_is_rejected(write_doc: WriteDoc, data: bytes) -> None:
    """An empty or whitespace-only file is an error naming the file."""
    path = write_doc("empty.txt", data=data)
    with pytest.raises(DocumentError, match="empty") as info:
        read_document(path)
    assert path.name in str(info.value)


def test_undecodable_bytes_are_rejected(write_doc: WriteDoc) -> None:
    """Bytes that fit none of the accepted encodings are an error naming the file."""
    path = write_doc("noise.txt", data=bytes(range(0x80, 0x100)) * 40)
    with pytest.raises(DocumentError, match="cannot be decoded") as info:
        read_document(path)
    assert path.name in str(info.value)


def test_huge_file_fails_fast_without_reading_it(tmp_path: Path) -> None:
    """A 200 MB file is rejected from its size alone (sparse file: nothing is read)."""
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="too large") as info:
        read_document(path)
    assert str(path) in str(info.value)
    assert time.perf_counter() - started < 5  # generous: reading 200 MB would still pass, hashing too


def test_size_limit_is_configurable(write_doc: WriteDoc) -> None:
    """max_bytes lowers or raises the size limit."""
    path = write_doc("a.txt", CN)
    with pytest.raises(DocumentError, match="too large"):
        read_document(path, max_bytes=10)
    assert read_document(path, max_bytes=10_000).text == CN


def test_markdown_front_matter(write_doc: WriteDoc) -> None:
    """Front matter gives title and date; the document is one article whatever headings it holds."""
    text = (
        '---\ntitle: "# 美团第三季度亏损扩大"\ndate: 2025-11-28 18:00:00\ntags: [财报]\n---\n\n'
        "## 要点\n\n**营收增长2%**\n\n美团第三季度营收955亿元。\n\n## 展望\n\n公司预计第四季度继续投入。\n"
    )
    doc = read_document(write_doc("m.md", text))
    assert doc.title == "美团第三季度亏损扩大" and doc.date == dt.date(2025, 11, 28)
    [article] = split_articles(doc)
    assert article.headline == "美团第三季度亏损扩大"
    assert article.published == dt.date(2025, 11, 28)
    assert article.text.startswith("## 要点") and article.text.endswith("继续投入。")
    assert doc.text[article.start : article.end] == article.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: [unclosed\ndate: 2025-01-01\n---\nbody\n", "malformed front matter"),
        ("---\ntitle: ok\ndate: 2025-01-01\nbody without a closing line\n", "no closing"),
        ("---\n- just\n- a list\n---\nbody\n", "not a mapping"),
        ("---\ntitle: ok\ndate: next tuesday\n---\nbody\n", "'date'"),
    ],
)
def test_malformed_front_matter_is_an_error_naming_the_file(
    write_doc: WriteDoc, text: str, message: str
) -> None:
    """Broken YAML, a missing closing line, a non-mapping or a bad date: DocumentError naming the file."""
    path = write_doc("bad.md", text)
    with pytest.raises(DocumentError, match=message) as info:
        read_document(path)
    assert str(path) in str(info.value)


def test_txt_with_dashes_is_not_front_matter(write_doc: WriteDoc) -> None:
    """A .txt opening with a dashed line that is not YAML is read as plain text."""
    doc = read_document(write_doc("plain.txt", "---\n: : :\n---\n正文第一行\n"))
    assert doc.title is None and not doc.single


def test_html_article_text(write_doc: WriteDoc) -> None:
    """HTML gives its title, its published date and the article's text without scripts or navigation."""
    html = (
        "<html><head><meta charset='utf-8'><title>Site | x</title>"
        "<meta property='article:published_time' content='2025-12-02T08:00:00Z'></head><body>"
        "<nav>Menu</nav><article><h1>Oracle shares slide</h1><p>Oracle said revenue rose "
        "<b>14%</b> to $16.1 billion.</p><script>var x = 1;</script><p>Second paragraph.</p>"
        "</article><footer>(c)</footer></body></html>"
    )
    doc = read_document(write_doc("o.html", html))
    assert doc.title == "Oracle shares slide" and doc.date == dt.date(2025, 12, 2)
    assert "Oracle said revenue rose 14% to $16.1 billion." in doc.text
    assert "Menu" not in doc.text and "var x" not in doc.text and "(c)" not in doc.text
    [article] = split_articles(doc)
    assert article.headline == "Oracle shares slide" and article.published == dt.date(2025, 12, 2)


def test_html_time_element_gives_the_date(write_doc: WriteDoc) -> None:
    """A <time datetime> element dates an HTML article."""
    doc = read_document(
        write_doc(
            "t.htm", "<article><h1>T</h1><time datetime='2026-01-05'>Jan 5</time><p>Body text.</p></article>"
        )
    )
    assert doc.date == dt.date(2026, 1, 5)


def test_split_on_bylines(write_doc: WriteDoc) -> None:
    """Headline + byline articles are split; lines before the first headline are not an article."""
    doc = read_document(write_doc("bylines.txt", BYLINES))
    arts = split_articles(doc)
    assert [(a.headline, a.published) for a in arts] == [
        ("宁德时代前三季度净利润增长", dt.date(2025, 10, 21)),
        ("Broadcom guides AI revenue higher", dt.date(2025, 12, 12)),
        ("比亚迪十月销量回落", dt.date(2025, 11, 2)),
    ]
    assert arts[0].text.startswith("宁德时代前三季度净利润增长\n证券日报")
    assert arts[0].text.rstrip().endswith("排产饱满。")
    assert arts[2].text.endswith("44.2万辆。")
    for a in arts:
        assert doc.text[a.start : a.end] == a.text


def test_split_on_outlet_marks(write_doc: WriteDoc) -> None:
    """Headline, paragraph, '(outlet)' articles are split, with the headline right before the paragraph."""
    doc = read_document(write_doc("outlets.txt", OUTLETS))
    arts = split_articles(doc)
    assert [a.headline for a in arts] == ["小米发布第三季度业绩", "台積電10月營收創新高"]
    assert arts[0].published is None  # "11月18日" but no year anywhere in the document: unknowable
    assert arts[0].text.endswith("(科技观察)")
    assert arts[1].text.endswith("（工商時報）")


def test_single_article_without_markers(write_doc: WriteDoc) -> None:
    """A plain text with no bylines or outlet marks is one article headed by its first line."""
    doc = read_document(write_doc("one.txt", "\n\n# 英伟达发布财报\n\n英伟达第三季度营收570亿美元。\n"))
    [a] = split_articles(doc)
    assert a.headline == "英伟达发布财报" and a.published is None


def test_offsets_survive_crlf(write_doc: WriteDoc) -> None:
    """Windows line ends are kept in the text and articles still index it exactly."""
    doc = read_document(write_doc("crlf.txt", BYLINES.replace("\n", "\r\n")))
    arts = split_articles(doc)
    assert len(arts) == 3 and all(doc.text[a.start : a.end] == a.text for a in arts)
    assert arts[1].published == dt.date(2025, 12, 12)


def test_month_day_takes_the_given_year() -> None:
    """'12月8日' takes the year the caller found in the context."""
    found, had = text_date("12月8日,公司公布新品。", year=2025)
    assert found == dt.date(2025, 12, 8) and had


def test_date_from_text_with_year_from_context(write_doc: WriteDoc) -> None:
    """With no byline, '11月3日' takes the year the document speaks from; no date at all gives None."""
    text = (
        "腾讯发布第三季度业绩\n11月3日,腾讯公布2025年第三季度业绩,收入1929亿元,同比增长15%。"
        "2024年同期收入为1672亿元。 (财经日报)\n"
        "快手可灵收入持续增长\n快手表示可灵AI在2025年第三季度收入超过3亿元,"
        "公司预计到2027年还将扩大。 (晚报)\n"
    )
    arts = split_articles(read_document(write_doc("ctx.txt", text)))
    assert arts[0].published == dt.date(2025, 11, 3)
    assert arts[1].published is None


def test_text_dates_in_several_forms() -> None:
    """Chinese, ISO and English dates are found; a month-day without any year known gives None."""
    assert text_date("据报道,2025年12月3日消息", year=None)[0] == dt.date(2025, 12, 3)
    assert text_date("On December 8, 2025 the company said", year=None)[0] == dt.date(2025, 12, 8)
    assert text_date("On Dec. 8 the company said", year=2025)[0] == dt.date(2025, 12, 8)
    assert text_date("发布于2026-01-07。", year=None)[0] == dt.date(2026, 1, 7)
    assert text_date("12月8號消息", year=None) == (None, True)
    assert text_date("没有日期", year=2025) == (None, False)


def test_context_year_discounts_future_years() -> None:
    """Years in forecasts (预计到2027年) weigh less than years of reported periods (2025年前三季度)."""
    assert context_year("公司2025年前三季度营收增长,预计到2027年翻倍,2028年将上市") == 2025
    assert context_year("没有年份") is None


def test_lines_of_gives_offsets_without_line_breaks() -> None:
    """``lines_of``: each line's start, end (its break excluded: LF, CRLF or CR) and text, from an offset."""
    text = "三星电子季报\r\n  营业利润12.1万亿韩元  \rsecond\n\nlast"
    lines = lines_of(text)
    assert [(ln.start, ln.end, ln.text) for ln in lines] == [
        (0, 6, "三星电子季报"),
        (8, 24, "  营业利润12.1万亿韩元  "),
        (25, 31, "second"),
        (32, 32, ""),
        (33, 37, "last"),
    ]
    assert all(text[ln.start : ln.end] == ln.text for ln in lines)
    assert lines[1].stripped == "营业利润12.1万亿韩元"
    assert lines_of("ab\ncd\nef", 3) == [Line(3, 5, "cd"), Line(6, 8, "ef")]
