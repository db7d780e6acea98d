"""Text for posters: sanitising untrusted strings and breaking mixed Chinese/Latin text into lines.

Pure functions over a width function, so they are tested without fonts. The rules follow how Chinese
typesetting reads naturally: a break may fall between any two CJK characters, Latin words are never split
(unless one word alone is wider than the line), basic kinsoku keeps closing punctuation off the start of a
line and opening punctuation off its end, and text that does not fit ends in an ellipsis.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

ELLIPSIS = "…"
# Closing punctuation and marks that must not begin a line.
NO_LINE_START = frozenset("，。．、！？：；）〕］｝」』》〉】〗〙〛”’…‥·・ー～%,.!?:;)]}»›")
# Opening punctuation that must not end a line.
NO_LINE_END = frozenset("（〔［｛「『《〈【〖〘〚“‘([{«‹$￥¥")
# Bidi embeddings, overrides and isolates: reordering tricks in a nickname must not reach the poster.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class Measure(Protocol):
    """The advance width of `text` in pixels, in the font (or fonts) it will be drawn in."""

    def __call__(self, text: str, /) -> float: ...


def clean(text: str, *, multiline: bool = False) -> str:
    """`text` in NFC without control, format (bidi, zero-width) or unassigned characters; whitespace collapsed.

    Newlines survive only when `multiline` (rule copy keeps its paragraphs); every other run of whitespace
    becomes one space, and leading and trailing whitespace goes.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    out: list[str] = []
    for ch in text:
        if ch == "\n" or ch == "\r" or ch in "\u2028\u2029":
            out.append("\n" if multiline else " ")
        elif ch.isspace():
            out.append(" ")
        elif ch in BIDI_CONTROLS or unicodedata.category(ch) in _DROPPED_CATEGORIES:
            continue
        else:
            out.append(ch)
    return _collapse("".join(out))


def _collapse(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def keep_covered(text: str, covers: Callable[[str], bool]) -> str:
    """`text` without the characters no font can draw (emoji, scripts the fonts lack), tidied up again.

    Dropping beats drawing a row of tofu boxes: a nickname of emoji simply disappears, and a name that mixes
    them keeps its readable part.
    """
    kept = "".join(ch for ch in text if ch in " \n" or covers(ch))
    return _collapse(kept)


def is_wide(ch: str) -> bool:
    """CJK ideographs, kana, Hangul and fullwidth forms: a line may break on either side of them."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


@dataclass(frozen=True)
class _Atom:
    text: str
    kind: str  # "text", "space" or "newline"


def atoms(text: str) -> list[_Atom]:
    """`text` cut into the units a line break may fall between, with kinsoku applied."""
    raw: list[_Atom] = []
    word: list[str] = []

    def flush() -> None:
        if word:
            raw.append(_Atom("".join(word), "text"))
            word.clear()

    for ch in text:
        if ch == "\n":
            flush()
            raw.append(_Atom("\n", "newline"))
        elif ch == " ":
            flush()
            raw.append(_Atom(" ", "space"))
        elif is_wide(ch):
            flush()
            raw.append(_Atom(ch, "text"))
        else:
            word.append(ch)
    flush()
    merged: list[_Atom] = []
    for atom in raw:
        if atom.kind == "text" and merged:
            # Look back over spaces: no break before closing punctuation or after opening punctuation,
            # even where a space would otherwise allow one.
            back = len(merged)
            while back > 0 and merged[back - 1].kind == "space":
                back -= 1
            previous = merged[back - 1] if back > 0 else None
            if (
                previous is not None
                and previous.kind == "text"
                and (atom.text[0] in NO_LINE_START or previous.text[-1] in NO_LINE_END)
            ):
                joined = "".join(a.text for a in merged[back - 1 :]) + atom.text
                del merged[back - 1 :]
                merged.append(_Atom(joined, "text"))
                continue
        merged.append(atom)
    return merged


def _hard_break(piece: str, measure: Measure, max_width: float) -> list[str]:
    """A single unit wider than the line, split by character (at least one character per line)."""
    lines: list[str] = []
    current = ""
    for ch in piece:
        if current and measure(current + ch) > max_width:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def fit_ellipsis(line: str, measure: Measure, max_width: float) -> str:
    """`line` shortened until it fits with a trailing ellipsis (never ending on opening punctuation)."""
    candidate = line.rstrip()
    while candidate and (measure(candidate + ELLIPSIS) > max_width or candidate[-1] in NO_LINE_END):
        candidate = candidate[:-1].rstrip()
    return candidate + ELLIPSIS if measure(ELLIPSIS) <= max_width else ""


def wrap(text: str, measure: Measure, max_width: float, max_lines: int) -> list[str]:
    """`text` broken into at most `max_lines` lines no wider than `max_width`; an ellipsis marks a cut.

    Greedy: each line takes as many units as fit. Spaces at a line break are dropped; newlines in `text`
    force a break.
    """
    lines: list[str] = []
    current = ""
    truncated = False

    def push(line: str) -> None:
        lines.append(line.rstrip(" "))

    for atom in atoms(text):
        if len(lines) > max_lines:
            truncated = True
            break
        if atom.kind == "newline":
            push(current)
            current = ""
            continue
        if atom.kind == "space":
            if current and measure(current + " ") <= max_width:
                current += " "
            elif current:
                push(current)
                current = ""
            continue
        if measure(current + atom.text) <= max_width:
            current += atom.text
            continue
        if current.strip(" "):
            push(current)
        current = ""
        if measure(atom.text) <= max_width:
            current = atom.text
        else:
            *full, current = _hard_break(atom.text, measure, max_width)
            for line in full:
                push(line)
    if current.strip(" "):
        push(current)
    while lines and not lines[-1] and not truncated:
        lines.pop()
    if len(lines) > max_lines or truncated:
        lines = lines[:max_lines]
        lines[-1] = fit_ellipsis(lines[-1], measure, max_width)
    return lines
