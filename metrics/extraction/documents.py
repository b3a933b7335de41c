"""Reading news documents and splitting them into articles.

``read_document(path)`` reads ``.txt``, ``.md`` and ``.html``/``.htm`` files:

- the encoding is detected, never assumed: a BOM (UTF-8, UTF-16), else strict UTF-8, else the best
  of GB18030, Big5 and cp1252 by ``charset-normalizer`` (accepted only when coherent); GBK and
  GB2312 are read as their superset GB18030;
- a binary file (NUL bytes), an empty file, undecodable bytes, a file over ``max_bytes`` (50 MB by
  default, checked before reading) or malformed front matter raise ``DocumentError`` naming the file;
- ``.md`` (and ``.txt`` that opens with a valid one) may carry YAML front matter (``title``, ``date``);
- ``.html``: the article text is extracted with selectolax (``<article>``, else ``<main>``, else
  ``<body>``, without scripts, navigation, headers and footers); ``Document.text`` is then that
  extracted text (title line first), so all offsets point into it.

``split_articles(doc)`` finds the articles a file holds back to back:

(a) a headline line followed by a byline ``outlet · YYYY-MM-DD HH:MM`` (the outlet may be missing);
(b) a headline, one long paragraph, and ``(outlet)`` / ``（outlet）`` closing the paragraph;
(c) a document with front matter (or HTML) is one article, whatever headings it contains;
otherwise the whole text is one article headed by its first line.

Each ``Article`` gets a headline and a publication date: the byline's, the front matter's, else the
first date written in its text (``12月8日``, ``2025年12月8日``, ``December 8, 2025``, ``2025-12-08``)
with a missing year taken from context (the nearest dated article of the document, else the years
the document mentions); ``None`` when unknowable, never today's date. ``start``/``end`` are offsets
into ``doc.text`` (the decoded original text).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metrics.errors import DocumentError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm")
HEADLINE_MAX = 150  # a line longer than this is a paragraph, not a headline


@dataclass(eq=False)
class Document:
    """A decoded document: its bytes' hash and size, the encoding found, and the text."""

    path: Path
    name: str
    doc_hash: str
    size: int
    encoding: str
    text: str
    title: str | None = None             # front matter / HTML title
    date: dt.date | None = None          # front matter / HTML publication date
    body_start: int = 0                  # offset of the text after any front matter
    single: bool = False                 # front matter or HTML: one article, never split
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Article:
    """One article of a document: ``text`` is ``doc.text[start:end]``."""

    doc: Document
    index: int
    headline: str
    published: dt.date | None
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.doc.text[self.start:self.end]


# --------------------------------------------------------------------------- reading

def _decode(data: bytes, path: Path, *, html: bool) -> tuple[str, str]:
    """The text and the name of the encoding of ``data``; ``DocumentError`` if none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise DocumentError(f"has a UTF-8 BOM but invalid UTF-8 at byte {e.start + 3}",
                                source=path) from e
    for bom, enc in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[2:].decode(enc), enc.replace("-le", "").replace("-be", "")
            except UnicodeDecodeError as e:
                raise DocumentError(f"has a UTF-16 BOM but is not valid UTF-16: {e.reason}",
                                    source=path) from e
    if b"\x00" in data:
        raise DocumentError("is binary (contains NUL bytes), not a text document", source=path)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if html:
        declared = _declared_charset(data)
        if declared:
            try:
                return data.decode(declared), declared
            except (UnicodeDecodeError, LookupError):
                pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "cp1252"]).best()
    if best is None or best.chaos > 0.3:
        raise DocumentError("cannot be decoded as UTF-8, GB18030, Big5 or cp1252", source=path)
    enc = _canonical_encoding(best.encoding)
    try:
        return data.decode(enc), enc
    except UnicodeDecodeError as e:  # pragma: no cover - charset-normalizer decoded it already
        raise DocumentError(f"undecodable as {enc} at byte {e.start}", source=path) from e


def _canonical_encoding(enc: str) -> str:
    enc = enc.lower().replace("-", "_")
    if enc in {"gbk", "gb2312", "gb18030", "cp936", "euc_cn", "hz"}:
        return "gb18030"
    if enc in {"big5", "cp950", "big5hkscs"}:
        return "big5hkscs" if enc == "big5hkscs" else "cp950" if enc == "cp950" else "big5"
    return enc


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _declared_charset(data: bytes) -> str | None:
    m = _META_CHARSET.search(data[:4096])
    if not m:
        return None
    return _canonical_encoding(m.group(1).decode("ascii"))


def read_document(path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read and decode one document; raises ``DocumentError`` naming the file when it cannot."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise DocumentError(f"cannot be read: {e.strerror or e}", source=path) from e
    if not path.is_file():
        raise DocumentError("is not a regular file", source=path)
    if size > max_bytes:
        raise DocumentError(f"is too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit)",
                            source=path)
    if size == 0:
        raise DocumentError("is empty", source=path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"cannot be read: {e.strerror or e}", source=path) from e
    suffix = path.suffix.lower()
    is_html = suffix in {".html", ".htm"}
    text, encoding = _decode(data, path, html=is_html)
    if not text.strip():
        raise DocumentError("is empty (only whitespace)", source=path)
    doc = Document(path=path, name=path.name, doc_hash=hashlib.sha256(data).hexdigest(), size=size,
                   encoding=encoding, text=text)
    if is_html:
        _apply_html(doc)
    else:
        _apply_front_matter(doc, strict=suffix in {".md", ".markdown"})
    return doc


# --------------------------------------------------------------------------- front matter

_FM_OPEN = re.compile(r"\A---[ \t]*\r?\n")
_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)


def _apply_front_matter(doc: Document, *, strict: bool) -> None:
    m = _FM_OPEN.match(doc.text)
    if not m:
        return
    close = _FM_CLOSE.search(doc.text, m.end())
    if close is None:
        if strict:
            raise DocumentError("malformed front matter: no closing '---' line", source=doc.path)
        return
    raw = doc.text[m.end():close.start()]
    try:
        meta = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError as e:
        if not strict:
            return
        where = getattr(e, "problem_mark", None)
        line = where.line + 2 if where is not None else None
        raise DocumentError(f"malformed front matter: {getattr(e, 'problem', None) or e}",
                            source=doc.path, line=line) from e
    if not isinstance(meta, dict):
        if not strict:
            return
        raise DocumentError("malformed front matter: not a mapping of keys to values", source=doc.path)
    title = meta.get("title")
    if title is not None and not isinstance(title, str | int | float):
        raise DocumentError("malformed front matter: 'title' is not text", source=doc.path)
    doc.title = _clean_headline(str(title)) if title is not None else None
    if "date" in meta and meta["date"] is not None:
        doc.date = _front_matter_date(meta["date"], doc.path)
    doc.body_start = close.end()
    doc.single = True
    doc.extra = {str(k): v for k, v in meta.items() if k not in ("title", "date")}


def _front_matter_date(value: object, path: Path) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        found = _iso_date(value.strip())
        if found is not None:
            return found
    raise DocumentError(f"malformed front matter: 'date' {value!r} is not a date", source=path)


_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _iso_date(s: str) -> dt.date | None:
    m = _ISO.match(s)
    if not m:
        return None
    return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _make_date(y: int, mo: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


# --------------------------------------------------------------------------- HTML

_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
    "blockquote", "pre", "table", "tr", "br", "hr", "figure", "figcaption", "dd", "dt", "dl", "header",
    "footer", "td", "th",
})
_DROP_TAGS = ("script", "style", "noscript", "nav", "aside", "form", "iframe", "svg", "template",
              "button", "header", "footer")
_DATE_META = ("article:published_time", "og:published_time", "datePublished", "pubdate", "publishdate",
              "date", "dc.date", "dcterms.date", "sailthru.date", "parsely-pub-date")


def _apply_html(doc: Document) -> None:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(doc.text)
    title = None
    for sel, attr in (('meta[property="og:title"]', "content"), ("h1", None), ("title", None)):
        node = tree.css_first(sel)
        if node is not None:
            value = node.attributes.get(attr) if attr else node.text(separator=" ")
            if value and value.strip():
                title = _clean_headline(" ".join(value.split()))
                break
    published = None
    time_node = tree.css_first("time[datetime]")
    if time_node is not None:
        published = _iso_date((time_node.attributes.get("datetime") or "").strip())
    if published is None:
        for meta in tree.css("meta"):
            key = meta.attributes.get("property") or meta.attributes.get("name") or \
                meta.attributes.get("itemprop") or ""
            if key.lower() in {k.lower() for k in _DATE_META}:
                published = _iso_date((meta.attributes.get("content") or "").strip())
                if published is not None:
                    break
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    parts: list[str] = []
    if root is not None:
        for sel in _DROP_TAGS:
            for node in root.css(sel):
                node.decompose()
        _html_text(root, parts)
    body = "\n".join(line.strip() for line in "".join(parts).split("\n"))
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    if title and body.startswith(title):
        body = body[len(title):].lstrip("\n")
    if not body and not title:
        raise DocumentError("HTML has no article text", source=doc.path)
    doc.text = f"{title}\n\n{body}\n" if title else f"{body}\n"
    doc.title = title
    doc.date = published
    doc.body_start = 0
    doc.single = True


def _html_text(node: Any, parts: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            parts.append(re.sub(r"\s+", " ", child.text_content or ""))
        elif tag in _BLOCK_TAGS:
            parts.append("\n")
            _html_text(child, parts)
            parts.append("\n")
        elif tag not in ("-comment",):
            _html_text(child, parts)


# --------------------------------------------------------------------------- splitting

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")
_BYLINE = re.compile(
    r"^(?:(?P<outlet>[^\s·•・|][^·•・|]{0,40}?)\s*[·•・|]\s*)?"
    r"(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|年(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日)"
    r"(?:\s*[T ]?\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
)
_OUTLET_END = re.compile(r"(?:^|(?<=[\s。！？!?…”\"」』.;；]))[(（](?P<outlet>[^()（）\n]{1,30})[)）]\s*$")
_SENTENCE_END = re.compile(r"[。！？!?]")


@dataclass(frozen=True, slots=True)
class _Line:
    start: int   # offset of the first character
    end: int     # offset after the last character, line break excluded
    text: str    # the line without its line break

    @property
    def stripped(self) -> str:
        return self.text.strip()


def _lines(text: str, start: int = 0) -> list[_Line]:
    out = []
    for m in _LINE.finditer(text, start):
        if m.start() == m.end():
            break
        raw = m.group(0)
        body = raw.rstrip("\r\n")
        out.append(_Line(m.start(), m.start() + len(body), body))
    return out


def _clean_headline(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^#{1,6}\s*", "", s)
    s = re.sub(r"^\*\*(.+)\*\*$", r"\1", s)
    return s.strip()


def _is_headline(line: _Line) -> bool:
    s = line.stripped
    return 0 < len(s) <= HEADLINE_MAX and not s.endswith(("。", "；", ";", "，", ","))


def split_articles(doc: Document) -> list[Article]:
    """The articles of ``doc`` in order (at least one for any non-empty document)."""
    lines = [ln for ln in _lines(doc.text, doc.body_start) if ln.stripped]
    if not lines:
        return [Article(doc, 0, doc.title or "", doc.date, doc.body_start, len(doc.text))]
    if doc.single:
        headline = doc.title or _clean_headline(lines[0].stripped)
        raw = [(headline, doc.date, lines[0].start, lines[-1].end)]
    else:
        raw = _split_bylines(lines) or _split_outlets(lines) or [
            (_clean_headline(lines[0].stripped), None, lines[0].start, lines[-1].end)]
    return _with_dates(doc, raw)


def _split_bylines(lines: list[_Line]) -> list[tuple[str, dt.date | None, int, int]]:
    marks: list[tuple[int, dt.date | None]] = []  # (index of the headline line, byline date)
    for i, ln in enumerate(lines):
        if i == 0:
            continue
        m = _BYLINE.match(ln.stripped)
        if m and _is_headline(lines[i - 1]) and not _BYLINE.match(lines[i - 1].stripped):
            y = int(m.group("y"))
            mo = int(m.group("m") or m.group("m2"))
            d = int(m.group("d") or m.group("d2"))
            marks.append((i - 1, _make_date(y, mo, d)))
    if not marks:
        return []
    out = []
    for k, (h, published) in enumerate(marks):
        last = marks[k + 1][0] - 1 if k + 1 < len(marks) else len(lines) - 1
        out.append((_clean_headline(lines[h].stripped), published, lines[h].start, lines[last].end))
    return out


def _split_outlets(lines: list[_Line]) -> list[tuple[str, dt.date | None, int, int]]:
    ends = [i for i, ln in enumerate(lines)
            if len(ln.stripped) > 40 and _OUTLET_END.search(ln.stripped)]
    if not ends:
        return []
    chunks = []
    prev = -1
    for e in ends:
        chunks.append((prev + 1, e))
        prev = e
    if prev + 1 < len(lines):
        tail = lines[prev + 1:]
        if any(not _is_headline(ln) for ln in tail):  # a trailing article without an outlet mark
            chunks.append((prev + 1, len(lines) - 1))
    out: list[tuple[str, dt.date | None, int, int]] = []
    for first, last in chunks:
        body = next((j for j in range(first, last + 1) if not _is_headline(lines[j])), last)
        h = body - 1 if body > first else None
        if h is not None:
            headline = _clean_headline(lines[h].stripped)
            start = lines[h].start
        else:
            text = lines[body].stripped
            cut = _SENTENCE_END.search(text)
            headline = text[: cut.end() if cut and cut.end() <= 80 else 80]
            start = lines[body].start
        out.append((headline, None, start, lines[last].end))
    return out


# --------------------------------------------------------------------------- dates

_MONTHS = {m: i for i, names in enumerate(
    [(), ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")]) for m in names}
_TEXT_DATE = re.compile(
    # every date starts with a digit or a month name's letter: the lookahead lets the scan skip
    # everything else fast (\u017f: the long s that IGNORECASE matches to 's')
    r"(?=[0-9A-Za-z\u017f])(?:"
    r"(?:(?P<y>(?:19|20)\d{2})\s*年\s*)?(?<![\d.])(?P<m>1[0-2]|0?[1-9])\s*月\s*(?P<d>3[01]|[12]\d|0?[1-9])\s*[日号號]"
    r"|(?<!\d)(?P<iy>(?:19|20)\d{2})-(?P<im>1[0-2]|0[1-9])-(?P<id>3[01]|[12]\d|0[1-9])(?!\d)"
    r"|\b(?P<em>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)\.?\s+(?P<ed>3[01]|[12]\d|0?[1-9])"
    r"(?:st|nd|rd|th)?(?:,?\s+(?P<ey>(?:19|20)\d{2}))?\b"
    r"|\b(?P<ed2>3[01]|[12]\d|0?[1-9])\s+(?P<em2>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)"
    r"\.?(?:,?\s+(?P<ey2>(?:19|20)\d{2}))?\b"
    r")"
)
# a year not preceded by a digit or dot (the lookbehind after the digits keeps a fast literal scan)
_YEAR = re.compile(r"((?:19|20)\d{2})(?<![\d.]\d{4})(?![\d.%])")
_FUTURE_BEFORE = re.compile(
    r"(预计|預計|将|將|计划|計畫|計劃|到|至|若|预期|預期|目标|目標|明年|by|until|through)\s*$", re.IGNORECASE)
_REPORTED_PERIOD = re.compile(r"^\s*年?\s*(?:前三季|上半年|下半年|全年|第?[一二三四1-4]季|[QH][1-4])")
_EARLY_PERIOD = re.compile(
    r"^\s*年?\s*(?:第?[一1]季|首季|Q1|H1|上半年|初|[1-3]月(?!\d)|[一二三]月|"
    r"first (?:quarter|half))", re.IGNORECASE)
_FUTURE_AFTER = re.compile(r"^\s*(?:年前(?![三两兩]季)|年?[^，,。；;\d]{0,4}(?:将|將|预计|預計))")


def _written_dates(text: str) -> Iterator[tuple[int | None, int, int]]:
    """(year or None when not written, month, day) of each date written in ``text``, in order."""
    for m in _TEXT_DATE.finditer(text):
        if m.group("m"):
            yield (int(m.group("y")) if m.group("y") else None), int(m.group("m")), int(m.group("d"))
        elif m.group("iy"):
            yield int(m.group("iy")), int(m.group("im")), int(m.group("id"))
        else:
            name = (m.group("em") or m.group("em2") or "").lower()
            mo = _MONTHS.get(name) or _MONTHS.get(name[:3])
            if mo is None:
                continue
            ey = m.group("ey") or m.group("ey2")
            yield (int(ey) if ey else None), mo, int(m.group("ed") or m.group("ed2"))


def text_date(text: str, *, year: int | None) -> tuple[dt.date | None, bool]:
    """The first date written in ``text`` (year from ``year`` if the text omits it) and whether
    the text gave a month and day (True even when no year is known and None is returned)."""
    for written, mo, d in _written_dates(text):
        y = written if written is not None else year
        if y is None:
            return None, True
        found = _make_date(y, mo, d)
        if found is not None:
            return found, True
    return None, False


def context_year(text: str, *, month: int | None = None) -> int | None:
    """The year a text most likely speaks from, judged by the years it mentions.

    Each mention votes for its year (twice when it names a reported period: 前三季度, 上半年,
    第三季度), unless a future marker surrounds it (预计, 将, 到, 若, by...), in which case it votes
    half for the year before. When the text is known to be written late in a year (``month`` of
    its month-day date is July or later), a mention of a year's first quarter or first half
    (2026年Q1, 2026年上半年, 2026年初) is a plan for the next year, not a report: it votes for the
    year before. The most voted year wins (ties: the later).
    """
    votes: dict[int, float] = {}
    late = month is not None and month >= 7
    for m in _YEAR.finditer(text):
        y = int(m.group(1))
        before = text[max(0, m.start() - 6):m.start()]
        after = text[m.end():m.end() + 8]
        if _FUTURE_BEFORE.search(before) or _FUTURE_AFTER.match(after):
            votes[y - 1] = votes.get(y - 1, 0.0) + 0.5
        elif late and _EARLY_PERIOD.match(after):
            votes[y - 1] = votes.get(y - 1, 0.0) + 1.0
        else:
            weight = 2.0 if _REPORTED_PERIOD.match(after) else 1.0
            votes[y] = votes.get(y, 0.0) + weight
    if not votes:
        return None
    return max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _month_day_month(text: str) -> int | None:
    """The month of the first date of ``text`` when it is a month-day without a year, else None."""
    for y, mo, _ in _written_dates(text):
        return None if y is not None else mo
    return None


def _with_dates(doc: Document,
                raw: list[tuple[str, dt.date | None, int, int]]) -> list[Article]:
    known = [p for _, p, _, _ in raw if p is not None]
    doc_years: dict[int | None, int | None] = {}
    articles = []
    for i, (headline, given, start, end) in enumerate(raw):
        published = given
        if published is None:
            year: int | None
            if known:
                before = [p for _, p, _, _ in raw[:i] if p is not None]
                after = [p for _, p, _, _ in raw[i + 1:] if p is not None]
                year = (before[-1] if before else after[0]).year
            else:
                # the document's year, judged knowing the month the article's date names
                month = _month_day_month(doc.text[start:end])
                if month not in doc_years:
                    doc_years[month] = context_year(doc.text, month=month)
                year = doc_years[month]
            published, _ = text_date(doc.text[start:end], year=year)
        articles.append(Article(doc, i, headline, published, start, end))
    return articles
