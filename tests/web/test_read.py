"""Laws of the web view's own helpers: cutting a document's text at the facts' spans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.web.read import segments


@given(text=st.text(max_size=60), spans=st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70)),
                                                  max_size=6))
def test_segments_rebuild_the_text_and_mark_exact_spans(text: str, spans: list[tuple[int, int]]) -> None:
    """The segments join back into the text; each marked one is exactly its span; none overlap."""
    given_spans = [(a, b, f"f{i}") for i, (a, b) in enumerate(spans)]
    parts = segments(text, given_spans)
    assert "".join(p.text for p in parts) == text
    by_id = {fid: (a, b) for a, b, fid in given_spans}
    pos = 0
    for p in parts:
        if p.fact_id is not None:
            assert (pos, pos + len(p.text)) == by_id[p.fact_id]
        pos += len(p.text)
    marked = [p.fact_id for p in parts if p.fact_id]
    assert len(marked) == len(set(marked))


def test_overlapping_spans_keep_the_first() -> None:
    """Of two overlapping quotes the one starting first is marked, the other left as text."""
    parts = segments("revenue rose 15% to 12 billion", [(13, 16, "b"), (8, 16, "a"), (20, 30, "c")])
    assert [(p.text, p.fact_id) for p in parts] == [
        ("revenue ", None), ("rose 15%", "a"), (" to ", None), ("12 billion", "c")]
