"""Which company a figure belongs to.

The nearest subject-like company of the figure's clause, else the subject of its sentence, else the
company a pronoun refers to ("公司", "该公司", "其", "the company", "its"; a bare 公司 is the company
of its paragraph's first sentence, else the article's), else the topic (the subject of the sentences
read so far), else the article's main company (the first its headline names).

Not subjects: a company after a preposition (向/为/与 X, "with X", "to X"), a possessor before 的
(甲的芯片), a brand before its product (英伟达GPU), a company inside parentheses or in a list closed by
等 (an aside: "(阿里云、字节跳动等)"). "甲、乙各…" gives the figure to each. "The two companies", 双方
name the article's main company. Segment and product figures belong to the company named, which is
the parent (the schema's convention).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import TYPE_CHECKING, cast

from metrics.extraction.context import Context, in_parentheses
from metrics.extraction.firstchar import finditer, skipping

if TYPE_CHECKING:
    from metrics.extraction.entities import Mention

__all__ = ["resolve_companies", "sentence_topic"]

_OBJECT_MARK = (
    "向",
    "为",
    "给",
    "对",
    "与",
    "和",
    "跟",
    "同",
    "把",
    "替",
    "帮",
    "对标",
    "及",
    "比",
    "从",
    "由",
    "收购",
    "投资",
    "分拆",
)
_EN_OBJECT = re.compile(r"\b(?:against|with|to|into|for|from|by|than)$")
_PHRASE_START = re.compile(r"[,，、:：;；。!?！？()（）“”\"\s]")
# (同 as 'likewise', not 'with', and 为 as 'to be' after an adverb: 同为/同属/同样/身为/亦为 describe the
# subject, '同为芯片厂的甲')
_PREP_IN_PHRASE = re.compile(
    r"(?<![成作认因称以行同身既亦均皆乃也])为(?!止)|[向与跟把替帮给]|同(?![为属样时期一是])|对(?!手)"
)
_BACKED = ("-backed", "-owned", "-led", "-funded", "-based", "-controlled", "-affiliated", "支持的", "旗下")
_PRODUCT_NOUNS = ("芯片", "晶片", "gpu", "tpu", "显卡", "加速卡", "服务器", "晶圆", "instinct")
_PRONOUN_SRC = (
    r"(?:(?P<dem>该|本|这家|此)(?:公司|集团)|(?<![^\s,，。;；:：*\-\]])公司|其(?![中他它余实次后])|"
    r"(?P<en>\b(?:the company|the group|its|it)\b))"
)
_PRONOUN = re.compile(_PRONOUN_SRC)  # over the lowered text (``Context.folded``)
# whether there is one: the same, tried only at the characters a pronoun can start with
_HAS_PRONOUN = re.compile("[该本这此公其ti](?<=(?=" + _PRONOUN_SRC + ").)")
_PRONOUN_ANYCASE = re.compile(_PRONOUN_SRC, re.IGNORECASE)
_PRONOUN_SCAN = {rx: skipping(rx) for rx in (_PRONOUN, _PRONOUN_ANYCASE)}  # (``firstchar``)
_LIST_ENDING_DENG = re.compile(r"(?:[、,，和及与][^,，。;；]{0,8}?)*等")
_BOTH_SRC = r"双方|两家公司|二者|the two companies|both companies"
_BOTH = re.compile(_BOTH_SRC)
_BOTH_ANYCASE = re.compile(_BOTH_SRC, re.IGNORECASE)
# a heading line naming one company ("台积电：", "■ 联发科", "**Infosys**", "2. Samsung (005930)"): what
# is left of the line around the company's name
_HEADING_MARKS = r"\s\-*•●■□◆◇▪▶►▸#>=|·・.．【\[「『〖▍▌◎★☆▲○◉✦"
_HEADING_HEAD = re.compile(r"[" + _HEADING_MARKS + r"]*(?:\d{1,2}[.、)）]\s*)?(?:\*\*|__)?\s*")
_HEADING_TAIL = re.compile(
    r"(?:,?\s*(?:[(（][A-Za-z0-9.:\s]{1,16}[)）]|公司|集团|股份|控股|有限|inc\b\.?|corp\b\.?|co\b\.?|ltd\b\.?|"
    r"limited\b|plc\b|group\b|holdings?\b|corporation\b|company\b|ag\b|se\b|n\.v\.|s\.a\.|"
    # report words: 'Samsung Electronics Q3 results', '台积电第三季财报'
    r"(?:fiscal\s+)?q[1-4]\b|(?:third|second|first|fourth)[- ]quarter\b|results\b|earnings\b|highlights\b|"
    r"(?:20\d\d\s*年?\s*)?第?[一二三四1-4]季度?|上半年|前三季度?|全年|财报|业绩|成绩|营运|快讯|速览|"
    r"[-–—:：|]))*\s*(?:\*\*|__|[】\]」』〗])?\s*[:：]?\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
# the end of a 的 phrase describing the name right after it (的竞争对手, 的, 的最大客户)
_DE_HEAD = re.compile(r"的[^\s,，。;；:：、()（）“”\"的]{0,10}$")
# between that company and its 的: nothing, or a short place or time ('特斯拉在中国的'), no verb
_POSSESSOR_GAP = re.compile(r"(?:[在于][^\s,，。;；:：把将了被让使放]{1,4})?")
# an English noun describing the company named right after it by another company
_EN_DESCRIBES = re.compile(
    r"(?:'s)?\s+(?:[a-z-]+\s+)?(?:rival|competitor|peer|supplier|partner|customer|client|contractor|"
    r"backer|investor|parent|affiliate|subsidiary)s?,?\s+(?:[A-Z]|[\u4e00-\u9fff])"
)
# '…, Infosys said on Thursday.' / '…，比亚迪在公告中表示。': the speaker named after the figures
_SAID_BEFORE = re.compile(r"[,，]\s*$")
_SAID_AFTER = re.compile(
    r"(?:\s+(?:inc\.?|corp\.?|ltd\.?))?\s*(?:\s(?:said|says|reported|announced|disclosed|added)\b|"
    r"(?:在[^,，。]{0,10}中)?(?:表示|称|指出|披露|宣布))",
    re.IGNORECASE,
)
_VERBISH = re.compile(r"[了是为比超过达较高低于自向与和及来到在从将被把]")
_FIGURE_NOUNS = frozenset(("metric", "change", "base", "other"))
_OPENING_PRONOUN = re.compile(
    r"[\s\-*•●>\[\]0-9]*(?P<dem>该|本|这家)?(?:公司|集团)|[\s\-*•●]*the (?:company|group)", re.IGNORECASE
)


def _is_object(ctx: Context, text: str, m: Mention) -> bool:
    """A company after a preposition (向/为/与 X, 'with X') is an object, not the subject."""
    before = text[max(0, m.start - 8) : m.start].rstrip().lower()
    if before[-1:].isascii():
        if _EN_OBJECT.search(before):
            return True
    elif before.endswith(_OBJECT_MARK):
        return True
    # '与英国云平台企业X': a preposition opening the noun phrase that ends in the name
    window = text[max(0, m.start - 12) : m.start]
    phrase = _PHRASE_START.split(window)[-1]
    prep = _PREP_IN_PHRASE.search(phrase)
    if prep is None:
        return False
    de = phrase.rfind("的")
    if de > prep.end():
        p0 = m.start - len(phrase)
        if ctx.mentions_in(p0 + prep.end(), p0 + de):
            return False  # '为英伟达代工的台积电': the preposition governs a company inside the 的 phrase
    # '伺服器與顯示卡廠技嘉…' opening a sentence: 与 joins two nouns describing the subject
    if len(phrase) == len(window):
        opening = m.start <= len(window)  # the text's start (else the window may cut the phrase)
    else:
        opening = window[-len(phrase) - 1] in "。!?！？\n"
    return not (opening and prep.start() > 0 and prep.group() in ("与", "和"))


def _is_possessive(text: str, m: Mention) -> bool:
    return text.startswith("的", m.end) and not text.startswith(
        ("的营", "的收", "的净", "的资本", "的股"), m.end
    )


_SHARE_CLASS = re.compile(r"[AaHhBb]股")


def _is_modifier(text: str, m: Mention) -> bool:
    """A brand before its product (英伟达GB300芯片, 英伟达GPU): not the subject."""
    nxt = text[m.end : m.end + 10].lstrip(" ")
    if not nxt:
        return False
    if nxt.lower().startswith(_BACKED):
        return True  # 'Microsoft-backed OpenAI': the company named is not the one spoken of
    if _EN_DESCRIBES.match(text, m.end):
        return True  # 'Apple rival Samsung', "Nvidia's supplier TSMC": the name described is the subject
    if not text[m.start].isascii() and nxt[0].isascii() and nxt[0].isalpha():
        return not _SHARE_CLASS.match(nxt)  # 比亚迪H股: its own shares, not a product
    return nxt.lower().startswith(_PRODUCT_NOUNS)


def _is_aside(ctx: Context, m: Mention) -> bool:
    """Inside parentheses, or in a list closed by 等 (competitors named in passing)."""
    lo = ctx.sentence(m.start)[0]
    if in_parentheses(ctx.text, m.start, lo):
        return True
    tail = ctx.text[m.end : m.end + 12]
    return _LIST_ENDING_DENG.match(tail) is not None


_OBJECT, _POSSESSIVE, _MODIFIER, _ASIDE = 1, 2, 4, 8


def _marks(ctx: Context, m: Mention) -> int:
    """What keeps ``m`` from being a subject, as bits (_OBJECT, _POSSESSIVE, _MODIFIER, _ASIDE);
    found once per mention."""
    key = ("marks", m.start, m.end)
    found = ctx.memo.get(key)
    if found is None:
        t = ctx.text
        found = (
            (_OBJECT if _is_object(ctx, t, m) else 0)
            | (_POSSESSIVE if _is_possessive(t, m) else 0)
            | (_MODIFIER if _is_modifier(t, m) else 0)
            | (_ASIDE if _is_aside(ctx, m) else 0)
        )
        ctx.memo[key] = found
    assert isinstance(found, int)
    return found


def _valid_subject(ctx: Context, m: Mention) -> bool:
    return not _marks(ctx, m)


def subject(ctx: Context, lo: int, hi: int) -> Mention | None:
    """The subject of text[lo:hi]: the mention opening the nearest clause that opens with one (walking
    back), else the first subject-like mention."""
    ms = ctx.mentions_in(lo, hi)
    if not ms:
        return None
    key = (lo, ms[-1].start)  # the answer depends only on the mentions in range
    if key in ctx.subjects:
        return ctx.subjects[key]
    ctx.subjects[key] = found = _subject(ctx, lo, ms)
    return found


def _subject(ctx: Context, lo: int, ms: list[Mention]) -> Mention | None:
    text = ctx.text
    for m in reversed(ms):
        c_lo = ctx.clause(m.start, m.end)[0]
        head = text[max(lo, c_lo) : m.start].strip(" -*•●>[]0123456789如例据")
        if not head and _valid_subject(ctx, m) and not ctx.mentions_in(max(lo, c_lo), m.start):
            return m
        if head and head.rfind("的") >= len(head) - 11 and _DE_HEAD.search(head) and _valid_subject(ctx, m):
            # '特斯拉在中国的最大对手比亚迪…': a phrase opening with another company and ending in 的
            # (and a noun) describes the name after it, the subject
            inner = ctx.mentions_in(max(lo, c_lo), m.start)
            if inner and not text[max(lo, c_lo) : inner[0].start].strip(" -*•●>[]0123456789"):
                de = text.rfind("的", inner[0].end, m.start)
                # the words between 的 and the name describe it: no verb, no figure's noun (not
                # '小米的营收超过了台积电')
                if (
                    _POSSESSOR_GAP.fullmatch(text, inner[0].end, de)
                    and not _VERBISH.search(text, de, m.start)
                    and not ctx.cues_in(de, m.start, _FIGURE_NOUNS)
                ):
                    return m
    cands = [m for m in ms if _valid_subject(ctx, m)]
    if not cands:
        # '甲的芯片…': a possessor is still what the sentence is about
        cands = [m for m in ms if not _marks(ctx, m) & (_OBJECT | _MODIFIER | _ASIDE)]
    return cands[0] if cands else None


def _pronoun_referent(ctx: Context, lo: int, hi: int, topic: Mention | None) -> tuple[bool, Mention | None]:
    """(whether text[lo:hi] has a pronoun, the company it refers to): "该公司" names the topic; "其",
    "its" and "the company" the subject before it in its sentence, else the topic (the company just
    spoken of); a bare "公司" the subject before it, else the paragraph's company, else the main one."""
    last = None
    rx, text = ctx.folded(_PRONOUN, _PRONOUN_ANYCASE)
    for m in finditer(rx, _PRONOUN_SCAN[rx], text, lo, hi):
        last = m
    if last is None:
        return False, None
    if last.group("dem"):
        return True, topic or ctx.main  # 该公司: the company just spoken of
    s_lo = ctx.sentence(last.start())[0]
    subj = subject(ctx, s_lo, last.start())
    if last.group("en") or last.group().startswith("其"):
        # '…宇树科技已启动上市辅导，其最近一轮…', 'TSMC, the chipmaker, said its revenue…', 'the company':
        # the subject before it in its sentence, else the one just spoken of
        return True, subj or topic or ctx.main
    return True, subj or paragraph_company(ctx, s_lo) or ctx.main or topic


def paragraph_company(ctx: Context, s_lo: int) -> Mention | None:
    """The company the paragraph of the sentence starting at ``s_lo`` is about, as a bare 公司 names
    it: the subject of its first sentence before ``s_lo`` that has one ('工业富联同日披露，…。公司表示，…');
    None when none has (then the article's company)."""
    key = ("paragraph", s_lo, 0)
    if key in ctx.memo:
        return cast("Mention | None", ctx.memo[key])
    l_lo = ctx.line(s_lo)[0]
    got: Mention | None = None
    pos = l_lo
    while pos < s_lo:
        a, b = ctx.sentence(pos)
        b = min(b, s_lo)
        if not _OPENING_PRONOUN.match(ctx.text, max(a, pos), b):
            got = subject(ctx, max(a, pos), b)
            if got is not None:
                break
        pos = max(b, pos + 1)
    ctx.memo[key] = got
    return got


def resolve_companies(
    ctx: Context, start: int, s_lo: int, c_lo: int, topic: Mention | None, *, brand: bool = False
) -> list[Mention]:
    """The companies a figure starting at ``start`` belongs to (several for '甲、乙各…'); with
    ``brand`` (a unit price) a brand before its product counts (英伟达H20芯片售价…)."""
    text = ctx.text
    rx, folded = ctx.folded(_BOTH, _BOTH_ANYCASE)
    if ctx.main is not None and rx.search(folded, s_lo, start):
        return [ctx.main]
    in_clause = [
        m
        for m in ctx.mentions_in(c_lo, start)
        if not _marks(ctx, m) & (_OBJECT | _ASIDE | (0 if brand else _MODIFIER))
    ]
    if in_clause:
        m = in_clause[-1]
        if "各" in text[m.end : start]:
            group = [m]
            for prev in reversed(ctx.mentions_in(s_lo, m.start)):
                if text[prev.end : group[0].start].strip() in ("、", "和", "及", "与", ",", "以及"):
                    group.insert(0, prev)
                else:
                    break
            return group
        if _marks(ctx, m) & _POSSESSIVE and len(in_clause) > 1:
            return [in_clause[-2]]
        return [m]
    found, ref = _pronoun_referent(ctx, c_lo, start, topic)
    if found:
        return [ref] if ref is not None else []
    subj = subject(ctx, s_lo, start)
    if subj is not None:
        return [subj]
    found, ref = _pronoun_referent(ctx, s_lo, start, topic)
    if found:
        return [ref] if ref is not None else []
    speaker = _speaker_after(ctx, start)
    if speaker is not None:
        return [speaker]
    fallback = topic or ctx.main
    return [fallback] if fallback is not None else []


def heading_company(ctx: Context, lo: int, hi: int) -> Mention | None:
    """The company a line names and nothing else (bullets, numbering, bold marks, a ticker in
    parentheses, a colon and legal-form words aside): the heading of a list of its figures."""
    ms = ctx.mentions_in(lo, hi)
    if not ms or len({m.company.name for m in ms}) != 1:
        return None
    text = ctx.text
    head = _HEADING_HEAD.match(text, lo, ms[0].start)
    if head is None or head.end() != ms[0].start:
        return None
    for a, b in pairwise(ms):
        if text[a.end : b.start].strip(" /、,()（）"):
            return None  # 'Samsung (三星)': the same company twice is still one name
    tail = _HEADING_TAIL.match(text, ms[-1].end, hi)
    return ms[-1] if tail is not None and not text[tail.end() : hi].strip() else None


def _speaker_after(ctx: Context, start: int) -> Mention | None:
    """The company a sentence attributes its figures to at its end ('…, Infosys said.', '…，比亚迪表示'):
    the subject of a sentence whose figures come first."""
    s_hi = ctx.sentence(start)[1]
    text = ctx.text
    for m in ctx.mentions_in(start, s_hi):
        if _SAID_BEFORE.search(text, max(0, m.start - 3), m.start) and _SAID_AFTER.match(text, m.end, s_hi):
            return m
    return None


def sentence_topic(ctx: Context, lo: int, hi: int, topic: Mention | None) -> Mention | None:
    """The company a sentence is about, for the sentences after it: its subject, or the company its
    opening pronoun refers to; else the topic so far. A heading line naming one company ('■ 联发科',
    '**Infosys**') makes it the topic of the list under it; another heading resets the topic to the
    article's company; a short line of figures (a list item) is read as a sentence."""
    if ctx.is_heading(lo, hi):
        named = heading_company(ctx, lo, hi)
        if named is not None:
            return named  # '■ 联发科' over a list of its figures: the list is about it
        if not ctx.quantities_in(lo, hi):
            return ctx.main  # a new section: about the article's company until a sentence names another
        # a short line of figures ('- 毛利率59.5%'), an item of a list: read as a sentence
    if not ctx.mentions_in(lo, hi):
        rx, text = ctx.folded(_HAS_PRONOUN, _PRONOUN_ANYCASE)
        if rx.search(text, lo, hi) is None:
            return topic  # no company and no pronoun: the topic goes on
    m = _OPENING_PRONOUN.match(ctx.text, lo, hi)
    if m is not None:
        if m.group("dem") or m.group().lstrip(" -*•●").lower().startswith("the"):
            return topic  # 该公司, 'the company': the one just spoken of
        return paragraph_company(ctx, lo) or ctx.main or topic  # 公司: the paragraph's company
    subj = subject(ctx, lo, hi)
    if subj is not None:
        return subj
    found, ref = _pronoun_referent(ctx, lo, hi, topic)
    return ref if found and ref is not None else topic
