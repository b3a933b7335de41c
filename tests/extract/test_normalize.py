"""normalize(): traditional to simplified, full-width to ASCII, odd spaces to ' ', length kept."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import opencc
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.extraction.normalize import _converter, ascii_lower, fold_width, normalize, to_simplified


def test_traditional_becomes_simplified() -> None:
    """Taiwan/Hong Kong forms are converted to simplified characters."""
    assert normalize("輝達與台積電的營業收入") == "辉达与台积电的营业收入"


def test_full_width_digits_letters_and_punctuation_become_ascii() -> None:
    """Full-width digits, letters and punctuation become their ASCII forms."""
    assert normalize("营收１２３．５亿元（ＡＢＣ）！") == "营收123.5亿元(ABC)!"


def test_odd_spaces_become_plain_spaces() -> None:
    """No-break, ideographic, thin and zero-width spaces and a stray BOM become ' '."""
    assert normalize("a\u00a0b\u3000c\u2009d\u200be\ufefff") == "a b c d e f"


def test_line_breaks_and_tabs_are_kept() -> None:
    """Line structure survives normalization."""
    assert normalize("第一行\r\n第二行\t完") == "第一行\r\n第二行\t完"


def test_phrase_conversion_never_changes_offsets() -> None:
    """Every character maps to one character, so offsets into the normalized text hold for the original."""
    text = "香港的後臺系統與乾燥的著名瞭解,聯發科淨利潤達１０億元"
    out = normalize(text)
    assert len(out) == len(text)
    i = text.index("淨利潤")
    assert out[i : i + 3] == "净利润"


def test_ascii_only_lowering() -> None:
    """ascii_lower lowers A-Z only and keeps the length of any text."""
    text = "AMD İstanbul ß NVIDIA"
    assert ascii_lower(text) == "amd İstanbul ß nvidia"
    assert len(ascii_lower(text)) == len(text)


def test_steps_are_exposed_separately() -> None:
    """to_simplified and fold_width are the two halves of normalize."""
    assert to_simplified("營收") == "营收"
    assert fold_width("５％") == "5%"


def test_opencc_leaves_ascii_alone(tmp_path: Path) -> None:
    """``to_simplified`` skips ASCII lines: OpenCC changes no ASCII text (no key of the t2s dictionaries
    is ASCII, checked with the dictionary tool shipped with OpenCC when it is there)."""
    ascii_text = "".join(map(chr, range(128)))
    assert _converter().convert(ascii_text) == ascii_text
    got = _converter().convert("營收 revenue 1,234億 US$ (台積電) AI")
    assert got == "营收 revenue 1,234亿 US$ (台积电) AI"
    clib = Path(opencc.__file__).parent / "clib"
    tool, share = clib / "bin" / "opencc_dict", clib / "share" / "opencc"
    if tool.is_file():
        config = json.loads((share / "t2s.json").read_text(encoding="utf-8"))
        files = re.findall(r'"file": "([^"]+)"', json.dumps(config))
        assert files
        for name in files:
            out = tmp_path / (name + ".txt")
            cmd = [str(tool), "-i", str(share / name), "-o", str(out), "-f", "ocd2", "-t", "text"]
            subprocess.run(cmd, check=True, capture_output=True)
            keys = [line.split("\t")[0] for line in out.read_text(encoding="utf-8").splitlines()]
            assert keys and not any(k.isascii() for k in keys), name
    mixed = "Revenue rose 5%\n營收成長5%\n"
    assert to_simplified(mixed) == "Revenue rose 5%\n营收成长5%\n" == _converter().convert(mixed)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_length_is_always_preserved(text: str) -> None:
    """For any text, normalize keeps the length exactly."""
    assert len(normalize(text)) == len(text)


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet="與後臺乾燥著名瞭解發髮面麵裡裏台臺週周鍾鐘係繫隻只萬億兆元美元１２３ ，。", max_size=60)
)
def test_length_is_preserved_on_dense_chinese(text: str) -> None:
    """Dense traditional text with variant characters still keeps its length."""
    assert len(normalize(text)) == len(text)
