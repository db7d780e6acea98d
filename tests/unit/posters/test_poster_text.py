"""Line breaking and sanitising for poster text, with a fake font: wide characters 10 px, everything else 5 px."""

from __future__ import annotations

import random

import pytest

from chalicelib.posters import text
from chalicelib.posters.text import ELLIPSIS, NO_LINE_END, NO_LINE_START


def measure(value: str) -> float:
    return float(sum(10 if text.is_wide(ch) else 5 for ch in value))


def wrap(value: str, max_width: float = 100, max_lines: int = 10) -> list[str]:
    return text.wrap(value, measure, max_width, max_lines)


def test_clean_strips_controls_bidi_and_zero_width_and_normalises_to_nfc() -> None:
    hostile = "\u202eevil\u202c\x00\x07 name\u200b\u2066x\u2069\ufeff"
    assert text.clean(hostile) == "evil namex"
    assert text.clean("e\u0301") == "\u00e9"
    assert text.clean("  a \t\n b\u3000c  ") == "a b c"


def test_clean_keeps_paragraphs_only_when_multiline() -> None:
    assert text.clean("1. one\r\n2. two\n\n\n", multiline=True) == "1. one\n2. two"
    assert text.clean("1. one\n2. two") == "1. one 2. two"


def test_keep_covered_drops_what_no_font_draws() -> None:
    def covers(ch: str) -> bool:
        return ord(ch) < 0x2000 or 0x4E00 <= ord(ch) <= 0x9FFF

    assert text.keep_covered("小明 😀🎉 Ming", covers) == "小明 Ming"
    assert text.keep_covered("😀 😀", covers) == ""


def test_latin_words_are_never_split() -> None:
    sentence = "the quick brown fox jumps over the lazy dog again and again"
    lines = wrap(sentence, max_width=60)
    assert len(lines) > 1
    assert " ".join(lines).split() == sentence.split()
    assert all(measure(line) <= 60 for line in lines)
    assert all(not line.startswith(" ") and not line.endswith(" ") for line in lines)


def test_cjk_breaks_between_any_two_characters() -> None:
    lines = wrap("邀请好友一起领取新客体验装免费包邮", max_width=100)
    assert lines == ["邀请好友一起领取新客", "体验装免费包邮"]


def test_a_word_wider_than_the_line_is_hard_broken() -> None:
    lines = wrap("https://example.com/" + "a" * 40, max_width=50)
    assert "".join(lines) == "https://example.com/" + "a" * 40
    assert all(measure(line) <= 50 for line in lines)


def test_kinsoku_keeps_closing_punctuation_off_the_line_start() -> None:
    # Ten characters fill a line exactly, so a naive break puts "，" first on the second line.
    lines = wrap("一二三四五六七八九十，后面还有", max_width=100)
    assert lines[1][0] not in NO_LINE_START
    assert lines[0] == "一二三四五六七八九"
    assert lines[1].startswith("十，")


def test_kinsoku_keeps_opening_punctuation_off_the_line_end() -> None:
    lines = wrap("一二三四五六七八九《书名》", max_width=100)
    assert lines[0][-1] not in NO_LINE_END
    assert lines[1].startswith("《")


def test_mixed_text_breaks_between_cjk_and_latin() -> None:
    lines = wrap("欢迎使用Fission增长工具，邀请好友", max_width=80)
    assert all(measure(line) <= 80 for line in lines)
    assert "Fission" in "".join(lines).replace(" ", "") and any("Fission" in line for line in lines)


def test_max_lines_ends_with_an_ellipsis_that_fits() -> None:
    lines = wrap("一二三四五六七八九十" * 5, max_width=100, max_lines=2)
    assert len(lines) == 2
    assert lines[-1].endswith(ELLIPSIS)
    assert measure(lines[-1]) <= 100


def test_ellipsis_on_latin_text_and_single_line() -> None:
    lines = wrap("word " * 30, max_width=60, max_lines=1)
    assert len(lines) == 1 and lines[0].endswith(ELLIPSIS) and measure(lines[0]) <= 60


def test_text_that_fits_has_no_ellipsis() -> None:
    assert wrap("短标题", max_lines=1) == ["短标题"]
    assert wrap("") == []


def test_newlines_force_breaks() -> None:
    assert wrap("1. 第一条\n2. 第二条", max_width=200) == ["1. 第一条", "2. 第二条"]


@pytest.mark.parametrize("seed", range(200))
def test_random_mixed_text_keeps_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = list("邀请好友领取体验装") + ["word", "Fission", "ok", " ", " ", "，", "。", "（", "）", "2026"]
    source = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
    max_lines = rng.randint(1, 6)
    lines = wrap(text.clean(source), max_width=120, max_lines=max_lines)
    assert len(lines) <= max_lines
    for line in lines:
        assert measure(line) <= 120
        assert line == line.strip()
        if line:
            assert line[0] not in NO_LINE_START or line == lines[0]
            assert line[-1] not in NO_LINE_END or line is lines[-1]  # the text itself may end on one
    # Latin runs come out whole: every run of Latin letters on a line is a whole run of the source.
    source_runs = set(_latin_runs(text.clean(source)))
    if all(measure(run) <= 120 for run in source_runs):
        for line in lines:
            runs = _latin_runs(line.removesuffix(ELLIPSIS))
            whole = runs[:-1] if line.endswith(ELLIPSIS) else runs
            assert set(whole) <= source_runs


def _latin_runs(value: str) -> list[str]:
    runs, current = [], ""
    for ch in value:
        if ch.isascii() and ch.isalnum():
            current += ch
        else:
            runs.append(current)
            current = ""
    runs.append(current)
    return [run for run in runs if run]
