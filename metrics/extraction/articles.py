"""Where the articles of a text file begin and end, and their headlines (see ``split_articles`` in
``documents.py``): a retrieved page's source line ``URL | date | language``, headline + byline pairs,
paragraphs closed by ``(outlet)``; a photo caption or credit (``(圖：路透)``, ``Credit: …``) is never an
outlet mark, a headline or the end of an article. Each split gives ``Raw`` tuples: (headline, date
stated, start, end, body start or -1, reference date).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from metrics.extraction.dating import make_date, source_line, text_date

__all__ = [
    "HEADLINE_MAX",
    "Line",
    "Raw",
    "clean_headline",
    "is_caption",
    "lines_of",
    "split_bylines",
    "split_outlets",
    "split_source",
]

HEADLINE_MAX = 150  # a line longer than this is a paragraph, not a headline

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")
_BYLINE = re.compile(
    r"^(?:(?P<outlet>[^\s·•・|][^·•・|]{0,40}?)\s*[·•・|]\s*)?"
    r"(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|年(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日)"
    r"(?:\s*[T ]?\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
)
_OUTLET_END = re.compile(r"(?:^|(?<=[\s。！？!?…”\"」』.;；]))[(（](?P<outlet>[^()（）\n]{1,30})[)）]\s*$")
_SENTENCE_END = re.compile(r"[。！？!?]")
# a photo caption or credit: never an outlet mark, a headline or the end of an article
_CAPTION_WORD = r"(?:圖|图|攝|摄|照片|图片|圖片|资料图|資料圖|photo|image|picture|credit|来源|來源)"
_CAPTION = re.compile(
    r"^\s*[(（]?\s*"
    + _CAPTION_WORD
    + r"\s*[:：/／]|[(（]\s*"
    + _CAPTION_WORD
    + r"\s*[:：/／][^()（）]{0,60}[)）]\s*$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^\s*\[[^\]]{0,60}\]\s*")  # "[headline not in retrieved text] topic"
_DATELINE = re.compile(r"^\s*date\s+(\d{4})-(\d{2})-(\d{2})\b", re.IGNORECASE)


class Line(NamedTuple):
    start: int  # offset of the first character
    end: int  # offset after the last character, line break excluded
    text: str  # the line without its line break

    @property
    def stripped(self) -> str:
        return self.text.strip()


def lines_of(text: str, start: int = 0) -> list[Line]:
    out = []
    for m in _LINE.finditer(text, start):
        if m.start() == m.end():
            break
        raw = m.group(0)
        body = raw.rstrip("\r\n")
        out.append(Line(m.start(), m.start() + len(body), body))
    return out


def clean_headline(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^#{1,6}\s*", "", s)
    s = re.sub(r"^\*\*(.+)\*\*$", r"\1", s)
    return s.strip()


def is_caption(line: str) -> bool:
    """A photo caption or credit line (``Credit: X/Shutterstock``, ``(圖：路透)``)."""
    return _CAPTION.search(line) is not None


def _is_headline(line: Line) -> bool:
    s = line.stripped
    return 0 < len(s) <= HEADLINE_MAX and not s.endswith(("。", "；", ";", "，", ",")) and not is_caption(s)


# (headline, published, start, end, body, reference); body -1: found by the extractor
Raw = tuple[str, dt.date | None, int, int, int, dt.date | None]


def split_source(lines: list[Line]) -> list[Raw]:
    """A retrieved page: headline, then ``URL | date | language`` within the first lines."""
    for i, ln in enumerate(lines[:4]):
        src = source_line(ln.stripped)
        if src is None:
            continue
        head = lines[i - 1].stripped if i > 0 else ""
        head = _PLACEHOLDER.sub("", clean_headline(head))
        body = lines[i + 1].start if i + 1 < len(lines) else lines[-1].end
        published = src.published
        if i + 1 < len(lines) and published is None:
            m = _DATELINE.match(lines[i + 1].stripped)
            if m is not None:
                published = make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        start = lines[i - 1].start if i > 0 else ln.start
        reference = published or src.reference
        if reference is None:  # no date on the source line: the text's first full date, if any
            reference, _ = text_date("\n".join(x.text for x in lines[i + 1 : i + 6]), year=None)
        return [(head, published, start, lines[-1].end, body, reference)]
    return []


def split_bylines(lines: list[Line]) -> list[Raw]:
    marks: list[tuple[int, dt.date | None]] = []  # (index of the headline line, byline date)
    for i, ln in enumerate(lines):
        if i == 0:
            continue
        m = _BYLINE.match(ln.stripped)
        if m and _is_headline(lines[i - 1]) and not _BYLINE.match(lines[i - 1].stripped):
            y = int(m.group("y"))
            mo = int(m.group("m") or m.group("m2"))
            d = int(m.group("d") or m.group("d2"))
            marks.append((i - 1, make_date(y, mo, d)))
    out: list[Raw] = []
    for k, (h, published) in enumerate(marks):
        last = marks[k + 1][0] - 1 if k + 1 < len(marks) else len(lines) - 1
        out.append(
            (clean_headline(lines[h].stripped), published, lines[h].start, lines[last].end, -1, published)
        )
    return out


def _outlet_end(s: str) -> re.Match[str] | None:
    """The outlet mark closing a line ('… (路透)'): it can only open at the line's last parenthesis,
    so the pattern is tried there alone."""
    p = max(s.rfind("("), s.rfind("（"))
    return _OUTLET_END.match(s, p) if p >= 0 else None


def split_outlets(lines: list[Line]) -> list[Raw]:
    ends = [
        i
        for i, ln in enumerate(lines)
        if len(ln.stripped) > 40
        and (m := _outlet_end(ln.stripped)) is not None
        and not is_caption(m.group("outlet"))
    ]
    if not ends:
        return []
    chunks = []
    prev = -1
    for e in ends:
        chunks.append((prev + 1, e))
        prev = e
    if prev + 1 < len(lines):
        tail = lines[prev + 1 :]
        if any(not _is_headline(ln) for ln in tail):  # a trailing article without an outlet mark
            chunks.append((prev + 1, len(lines) - 1))
    out: list[Raw] = []
    for first, last in chunks:
        body = next((j for j in range(first, last + 1) if not _is_headline(lines[j])), last)
        h = body - 1 if body > first else None
        if h is not None:
            headline = clean_headline(lines[h].stripped)
            start = lines[h].start
        else:
            text = lines[body].stripped
            cut = _SENTENCE_END.search(text)
            headline = text[: cut.end() if cut and cut.end() <= 80 else 80]
            start = lines[body].start
        out.append((headline, None, start, lines[last].end, -1, None))
    return out
