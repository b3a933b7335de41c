"""The article text of an HTML page (selectolax): title, publication date and body text.

The body is taken from ``<article>``, else ``<main>``, else ``<body>``, without scripts, navigation,
headers and footers; block elements become line breaks. The tree is walked with an explicit stack (no
recursion limit); a page nested deeper than ``MAX_DEPTH`` elements, on which the tree parser slows
down, is read by a plain linear reader instead (tags removed), so any page is read in time
proportional to its size.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["HtmlPage", "parse_html"]

BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "table",
        "tr",
        "br",
        "hr",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "dl",
        "header",
        "footer",
        "td",
        "th",
    }
)
DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "header",
    "footer",
)
DATE_META = frozenset(
    k.lower()
    for k in (
        "article:published_time",
        "og:published_time",
        "datePublished",
        "pubdate",
        "publishdate",
        "date",
        "dc.date",
        "dcterms.date",
        "sailthru.date",
        "parsely-pub-date",
    )
)
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class HtmlPage:
    title: str | None
    published: date | None
    body: str


def _iso(s: str) -> date | None:
    m = _ISO.match(s.strip())
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _text(root: Any) -> str:
    """The text under ``root``, block elements as line breaks (an explicit stack: no recursion)."""
    parts: list[str] = []
    stack: list[Any] = [root]  # nodes still to read, or text to emit
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        for child in reversed(list(item.iter(include_text=True))):
            tag = child.tag
            if tag == "-text":
                stack.append(_SPACES.sub(" ", child.text_content or ""))
            elif tag in BLOCK_TAGS:
                stack.extend(("\n", child, "\n"))
            elif tag != "-comment":
                stack.append(child)
    return "".join(parts)


MAX_DEPTH = 400  # deeper nesting is read by the plain reader (the tree parser slows down on it)
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]{0,30})[^<>]{0,2000}?(/?)>")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_DROP_BLOCK = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]{0,200}>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _depth(html: str) -> int:
    """The deepest nesting of elements (a linear scan of the tags)."""
    depth = deepest = 0
    for m in _TAG.finditer(html):
        name = m.group(2).lower()
        if name in _VOID or m.group(3):
            continue
        depth = max(0, depth - 1) if m.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _plain(html: str) -> HtmlPage:
    """A page too deeply nested for the tree parser: its text with tags removed (block tags as line
    breaks), its <title>."""

    t = _TITLE.search(html)
    title = " ".join(html_lib.unescape(t.group(1)).split()) if t else None
    body = _DROP_BLOCK.sub(" ", html)
    body = _TAG.sub(lambda m: "\n" if m.group(2).lower() in BLOCK_TAGS else "", body)
    body = html_lib.unescape(body)
    body = "\n".join(_SPACES.sub(" ", line).strip() for line in body.split("\n"))
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return HtmlPage(title, None, body)


def parse_html(html: str) -> HtmlPage:
    """Title, date and body text of an HTML page."""
    if _depth(html) > MAX_DEPTH:
        return _plain(html)
    from selectolax.lexbor import LexborHTMLParser  # noqa: PLC0415 - selectolax is heavy; loaded only when used

    tree = LexborHTMLParser(html)
    title = None
    for sel, attr in (('meta[property="og:title"]', "content"), ("h1", None), ("title", None)):
        node = tree.css_first(sel)
        if node is not None:
            value = node.attributes.get(attr) if attr else node.text(separator=" ")
            if value and value.strip():
                title = " ".join(value.split())
                break
    published = None
    time_node = tree.css_first("time[datetime]")
    if time_node is not None:
        published = _iso(time_node.attributes.get("datetime") or "")
    if published is None:
        for meta in tree.css("meta"):
            a = meta.attributes
            key = a.get("property") or a.get("name") or a.get("itemprop") or ""
            if key.lower() in DATE_META:
                published = _iso(a.get("content") or "")
                if published is not None:
                    break
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    body = ""
    if root is not None:
        for sel in DROP_TAGS:
            for node in root.css(sel):
                node.decompose()
        body = "\n".join(line.strip() for line in _text(root).split("\n"))
        body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return HtmlPage(title, published, body)
