"""Reading news documents and splitting them into articles.

``read_document(path)`` reads ``.txt``, ``.md`` and ``.html``/``.htm`` files:

- the encoding is detected, never assumed: a BOM (UTF-8, UTF-16), else strict UTF-8, else the best
  of GB18030, Big5 and cp1252 by ``charset-normalizer`` (accepted only when coherent); GBK and
  GB2312 are read as their superset GB18030;
- a binary file (NUL bytes), an empty file, undecodable bytes, a file over ``max_bytes`` (50 MB by
  default, checked before reading) or malformed front matter (broken or too deeply nested YAML, a
  date that does not exist) raise ``DocumentError`` naming the file;
- ``.md`` (and ``.txt`` that opens with a valid one) may carry YAML front matter (``title``, ``date``);
- ``.html``: the article text is extracted (``html.py``); ``Document.text`` is then that extracted
  text (title line first), so all offsets point into it.

``split_articles(doc)`` finds the articles a file holds:

(a) a retrieved page: a headline line and a source line ``URL | date | language`` near the top make
    the file one article, dated by the source line (``dating.source_line``);
(b) a headline line followed by a byline ``outlet · YYYY-MM-DD HH:MM`` (the outlet may be missing);
(c) a headline, one long paragraph, and ``(outlet)`` / ``（outlet）`` closing the paragraph (a photo
    caption or credit, ``(圖：路透)``, ``Credit: …``, is no outlet mark and no headline);
(d) a document with front matter (or HTML) is one article, whatever headings it contains;
otherwise the whole text is one article headed by its first line.

Each ``Article`` gets a headline, a publication date (the source line's, the byline's, the front
matter's, else the first date written in its text with a missing year taken from context; ``None``
when unknowable, never today's date), a ``reference`` date for relative periods (the publication date,
else a date the source line hints at), and ``body``: where its text after the headline begins.
``start``/``end``/``body`` are offsets into ``doc.text`` (the decoded original text).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metrics.errors import DocumentError
from metrics.extraction.articles import (
    Raw,
    clean_headline,
    lines_of,
    split_bylines,
    split_outlets,
    split_source,
)
from metrics.extraction.dating import (
    YearMention,
    context_year,
    first_date,
    make_date,
    text_date,
    vote_year,
    written_dates,
    year_mentions,
)
from metrics.extraction.html import parse_html

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUFFIXES",
    "Article",
    "Document",
    "context_year",
    "read_document",
    "split_articles",
    "text_date",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(eq=False)
class Document:
    """A decoded document: its bytes' hash and size, the encoding found, and the text."""

    path: Path
    name: str
    doc_hash: str
    size: int
    encoding: str
    text: str
    title: str | None = None  # front matter / HTML title
    date: dt.date | None = None  # front matter / HTML publication date
    body_start: int = 0  # offset of the text after any front matter
    single: bool = False  # front matter or HTML: one article, never split
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Article:
    """One article of a document: ``text`` is ``doc.text[start:end]``; its body begins at ``body``."""

    doc: Document
    index: int
    headline: str
    published: dt.date | None
    start: int
    end: int
    body: int = -1  # -1: the extractor finds where the headline ends
    reference: dt.date | None = None  # the date relative periods are resolved against

    @property
    def text(self) -> str:
        return self.doc.text[self.start : self.end]


# --------------------------------------------------------------------------- reading


def _decode(data: bytes, path: Path, *, html: bool) -> tuple[str, str]:
    """The text and the name of the encoding of ``data``; ``DocumentError`` if none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise DocumentError(
                f"has a UTF-8 BOM but invalid UTF-8 at byte {e.start + 3}", source=path
            ) from e
    for bom, enc in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[2:].decode(enc), enc.replace("-le", "").replace("-be", "")
            except UnicodeDecodeError as e:
                raise DocumentError(
                    f"has a UTF-16 BOM but is not valid UTF-16: {e.reason}", source=path
                ) from e
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
    from charset_normalizer import from_bytes  # noqa: PLC0415 - charset_normalizer is heavy; loaded only when used

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "cp1252"]).best()
    if best is None or best.chaos > 0.3:
        raise DocumentError("cannot be decoded as UTF-8, GB18030, Big5 or cp1252", source=path)
    enc = _canonical_encoding(best.encoding)
    try:
        return data.decode(enc), enc
    except (UnicodeDecodeError, LookupError) as e:
        raise DocumentError(f"undecodable as {enc}", source=path) from e


def _canonical_encoding(enc: str) -> str:
    enc = enc.lower().replace("-", "_")
    if enc in {"gbk", "gb2312", "gb18030", "cp936", "euc_cn", "hz"}:
        return "gb18030"
    if enc in {"big5", "cp950", "big5hkscs"}:
        return enc
    return enc


_META_CHARSET = re.compile(rb"""<meta[^>]{0,400}charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


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
        raise DocumentError(
            f"is too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit)", source=path
        )
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
    doc = Document(
        path=path,
        name=path.name,
        doc_hash=hashlib.sha256(data).hexdigest(),
        size=size,
        encoding=encoding,
        text=text,
    )
    if is_html:
        _apply_html(doc)
    else:
        _apply_front_matter(doc, strict=suffix in {".md", ".markdown"})
    return doc


# --------------------------------------------------------------------------- front matter

_FM_OPEN = re.compile(r"\A---[ \t]*\r?\n")
_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
FM_MAX = 64 * 1024  # front matter longer than this is not front matter
_FM_DEPTH = re.compile(r"[\[{]{64}")  # flow collections nested this deep: refused before parsing


def _apply_front_matter(doc: Document, *, strict: bool) -> None:
    m = _FM_OPEN.match(doc.text)
    if not m:
        return
    close = _FM_CLOSE.search(doc.text, m.end(), m.end() + FM_MAX)
    if close is None:
        if strict:
            raise DocumentError(
                f"malformed front matter: no closing '---' line within {FM_MAX // 1024} KB", source=doc.path
            )
        return
    raw = doc.text[m.end() : close.start()]
    try:
        if _FM_DEPTH.search(raw.replace(" ", "")):
            raise RecursionError("nested too deeply")
        meta = yaml.safe_load(raw) if raw.strip() else {}
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError, TypeError) as e:
        if not strict:
            return
        where = getattr(e, "problem_mark", None)
        line = where.line + 2 if where is not None else None
        why = getattr(e, "problem", None) or str(e) or type(e).__name__
        raise DocumentError(f"malformed front matter: {why}", source=doc.path, line=line) from e
    if not isinstance(meta, dict):
        if not strict:
            return
        raise DocumentError("malformed front matter: not a mapping of keys to values", source=doc.path)
    title = meta.get("title")
    if title is not None and not isinstance(title, str | int | float):
        raise DocumentError("malformed front matter: 'title' is not text", source=doc.path)
    doc.title = clean_headline(str(title)) if title is not None else None
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
        m = _ISO.match(value.strip())
        found = make_date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
        if found is not None:
            return found
    raise DocumentError(f"malformed front matter: 'date' {value!r} is not a date", source=path)


_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


# --------------------------------------------------------------------------- HTML


def _apply_html(doc: Document) -> None:
    page = parse_html(doc.text)
    title = clean_headline(page.title) if page.title else None
    body = page.body
    if title and body.startswith(title):
        body = body[len(title) :].lstrip("\n")
    if not body and not title:
        raise DocumentError("HTML has no article text", source=doc.path)
    doc.text = f"{title}\n\n{body}\n" if title else f"{body}\n"
    doc.title = title
    doc.date = page.published
    doc.body_start = 0
    doc.single = True


# --------------------------------------------------------------------------- splitting


def split_articles(doc: Document) -> list[Article]:
    """The articles of ``doc`` in order (at least one for any non-empty document)."""
    lines = [ln for ln in lines_of(doc.text, doc.body_start) if ln.stripped]
    if not lines:
        return [
            Article(
                doc, 0, doc.title or "", doc.date, doc.body_start, len(doc.text), doc.body_start, doc.date
            )
        ]
    raw: list[Raw]
    if doc.single:
        headline = doc.title or clean_headline(lines[0].stripped)
        raw = [(headline, doc.date, lines[0].start, lines[-1].end, -1, doc.date)]
    else:
        raw = (
            split_source(lines)
            or split_bylines(lines)
            or split_outlets(lines)
            or [(clean_headline(lines[0].stripped), None, lines[0].start, lines[-1].end, -1, None)]
        )
    return _with_dates(doc, raw)


# --------------------------------------------------------------------------- dates


def _with_dates(doc: Document, raw: list[Raw]) -> list[Article]:
    known = [p for _, p, *_ in raw if p is not None]
    doc_years: dict[int | None, int | None] = {}
    mentions: list[YearMention] | None = None
    articles = []
    for i, (headline, given, start, end, body, hint) in enumerate(raw):
        published, reference = given, hint
        if published is None and reference is None:
            year: int | None
            dates = written_dates(doc.text[start:end])
            first = next(dates, None)
            if known:
                before = [p for _, p, *_ in raw[:i] if p is not None]
                after = [p for _, p, *_ in raw[i + 1 :] if p is not None]
                year = (before[-1] if before else after[0]).year
            else:
                # the document's year, judged knowing the month the article's date names (the month
                # of its first date when that is a month-day without a year: ``month_day_month``)
                month = first[1] if first is not None and first[0] is None else None
                if month not in doc_years:
                    if mentions is None:  # the document's years, read once for every month
                        mentions = year_mentions(doc.text)
                    doc_years[month] = vote_year(mentions, month=month)
                year = doc_years[month]
            published, _ = first_date(itertools.chain([first] if first else [], dates), year=year)
            reference = published
        elif reference is None:
            reference = published
        articles.append(Article(doc, i, headline, published, start, end, body, reference))
    return articles
