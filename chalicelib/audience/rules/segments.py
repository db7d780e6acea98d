"""The segment language: audiences, auto-tag rules and automation conditions (pure, no I/O).

`tag:invited AND spend >= 10000 AND NOT last_seen < 30d` is parsed once into an immutable tree
(`parse`), checked against the fields it names, and evaluated against a profile's view
(`evaluate`, see `profiles.segment_view`). Mistakes raise `SegmentError` with the 0-based
character offset of the mistake, which the console highlights. The grammar, the fields and
their semantics are documented for operators in docs/segments.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

MAX_LENGTH = 1000
MAX_DEPTH = 32  # enclosing '(' and NOT
MAX_ATOMS = 100
MAX_INT = 10**15  # more than any count or amount in fen
MAX_DURATION_MINUTES = 36_525 * 24 * 60  # a century: far beyond any real "last seen"

INT_FIELDS = ("spend", "orders", "invites", "rewards", "campaigns", "groups", "helps", "tier_rank")
TIME_FIELDS = ("first_seen", "last_seen")
FieldType = Literal["int", "str", "bool", "time", "month_day"]
FIELDS: dict[str, FieldType] = {
    **dict.fromkeys(INT_FIELDS, "int"),
    "source": "str",
    "invited": "bool",
    **dict.fromkeys(TIME_FIELDS, "time"),
    "birthday": "month_day",
    "tier": "str",
    "churn_level": "str",  # low | medium | high, from the daily churn score; null until scored
}
OPS = ("=", "!=", "<", "<=", ">", ">=")
EQUALITY_OPS = ("=", "!=")
DURATION_UNITS = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
KEYWORDS = ("and", "or", "not")

TAG_RE = re.compile(r"[a-z0-9_]{1,40}")
CAMPAIGN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INT_RE = re.compile(r"[0-9]+(?:_[0-9]+)*")
_DURATION_RE = re.compile(r"([0-9]+(?:_[0-9]+)*)([A-Za-z]+)")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_MONTH_DAY_RE = re.compile(r"([0-9]{2})-([0-9]{2})")
_BARE_STR_RE = re.compile(r"[A-Za-z0-9_]+")
_SPECIAL = '()<>=!"'


class SegmentError(Exception):
    """A mistake in an expression: `position` is the 0-based offset of the mistake in the text."""

    def __init__(self, message: str, position: int, expected: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.expected = expected


# ---- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """An age such as `30d`: kept as written (amount and unit) so `unparse` gives it back."""

    amount: int
    unit: str  # m, h, d or w

    def __post_init__(self) -> None:
        if self.unit not in DURATION_UNITS or self.amount < 0:
            raise ValueError(f"not a duration: {self.amount}{self.unit}")

    @property
    def delta(self) -> timedelta:
        return timedelta(minutes=self.amount * DURATION_UNITS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


Value = int | bool | str | Duration | datetime


@dataclass(frozen=True)
class Tag:
    name: str


@dataclass(frozen=True)
class Campaign:
    cid: str


@dataclass(frozen=True)
class Compare:
    """`field op value`; `value` is an int, bool, str (source, birthday), Duration or aware datetime."""

    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class And:
    """A chain `a AND b AND c`; a parenthesised chain inside stays a nested And, as written."""

    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("And needs at least two items")


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("Or needs at least two items")


Expr = And | Or | Not | Tag | Campaign | Compare


# ---- the lexer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "string", "op", "(", ")", "end"]
    text: str  # the word, the op, the string's content (unescaped)
    pos: int
    raw: str  # as written, for messages

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "word" and self.text.lower() in KEYWORDS else None


def _show(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            out.append(_Token("(", ch, i, ch))
            i += 1
        elif ch == ")":
            out.append(_Token(")", ch, i, ch))
            i += 1
        elif ch in "<>=!":
            two = text[i : i + 2]
            if two in ("<=", ">=", "!=", "=="):
                out.append(_Token("op", "=" if two == "==" else two, i, two))
                i += 2
            elif ch == "!":
                raise SegmentError(f"unexpected '!' at position {i} (use NOT, or != to compare)", i, "NOT or !=")
            else:
                out.append(_Token("op", ch, i, ch))
                i += 1
        elif ch == '"':
            start, i, chars = i, i + 1, []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise SegmentError(f"unclosed '\"' opened at position {start}", start, "'\"'")
            i += 1
            out.append(_Token("string", "".join(chars), start, text[start:i]))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            out.append(_Token("word", text[start:i], start, text[start:i]))
    out.append(_Token("end", "", n, ""))
    return out


# ---- the parser ---------------------------------------------------------------------------


def _describe(tok: _Token) -> str:
    return "the end" if tok.kind == "end" else f"'{_show(tok.raw)}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.atoms = 0
        self.recency_at: int | None = None  # first duration literal
        self.tag_at: int | None = None  # first tag: atom

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def _prev(self) -> _Token | None:
        return self.toks[self.i - 1] if self.i else None

    def _next(self) -> _Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise SegmentError(
                "empty expression: write a condition such as tag:vip or spend >= 10000", 0, "a condition"
            )
        expr = self._or()
        tok = self.tok
        if tok.kind == ")":
            raise SegmentError(f"unexpected ')' at position {tok.pos} (no '(' to close)", tok.pos, "AND, OR or the end")
        if tok.kind != "end":
            raise self._missing_connective(tok, "AND, OR or the end")
        return expr

    def _missing_connective(self, tok: _Token, expected: str) -> SegmentError:
        if tok.text in ("&&", "&"):
            hint = " (use AND)"
        elif tok.text in ("||", "|"):
            hint = " (use OR)"
        else:
            hint = f" (expected {expected})"
        return SegmentError(f"unexpected {_describe(tok)} at position {tok.pos}{hint}", tok.pos, expected)

    def _or(self) -> Expr:
        items = [self._and()]
        while self.tok.keyword == "or":
            self._next()
            items.append(self._and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self) -> Expr:
        items = [self._unary()]
        while self.tok.keyword == "and":
            self._next()
            items.append(self._unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SegmentError(
                f"expression nested too deeply at position {tok.pos} (at most {MAX_DEPTH} levels of ( and NOT)",
                tok.pos,
            )

    def _unary(self) -> Expr:
        tok = self.tok
        if tok.keyword == "not":
            self._enter(tok)
            self._next()
            negated = Not(self._unary())
            self.depth -= 1
            return negated
        if tok.kind == "(":
            self._enter(tok)
            self._next()
            if self.tok.kind == ")":
                pos = self.tok.pos
                raise SegmentError(f"empty parentheses at position {pos}", pos, "a condition")
            inner = self._or()
            close = self.tok
            if close.kind == "end":
                raise SegmentError(f"unclosed '(' opened at position {tok.pos}", tok.pos, "')'")
            if close.kind != ")":
                raise self._missing_connective(close, "AND, OR or ')'")
            self._next()
            self.depth -= 1
            return inner
        return self._atom()

    def _atom(self) -> Expr:
        tok = self.tok
        if tok.kind != "word" or tok.keyword:
            prev = self._prev()
            if tok.kind == "end" and prev is not None:
                raise SegmentError(
                    f"expected a condition after '{_show(prev.raw)}' at position {tok.pos}", tok.pos, "a condition"
                )
            if tok.kind == "word" and tok.text in ("&&", "||", "&", "|"):
                raise self._missing_connective(tok, "a condition")
            raise SegmentError(
                f"unexpected {_describe(tok)} at position {tok.pos} (expected a condition)", tok.pos, "a condition"
            )
        self.atoms += 1
        if self.atoms > MAX_ATOMS:
            raise SegmentError(f"too many conditions (at most {MAX_ATOMS}) at position {tok.pos}", tok.pos)
        self._next()
        word = tok.text
        prefix, colon, rest = word.partition(":")
        if colon:
            return self._prefixed(tok, prefix.lower(), rest)
        name = word.lower()
        if name not in FIELDS:
            raise self._unknown_field(tok)
        if self.tok.kind != "op":
            if name == "invited":  # the bare atom means `invited = true`
                return Compare("invited", "=", True)
            raise SegmentError(
                f"expected an operator (=, !=, <, <=, >, >=) after '{name}' at position {self.tok.pos}",
                self.tok.pos,
                "an operator",
            )
        op_tok = self._next()
        return Compare(name, op_tok.text, self._value(name, op_tok))

    def _prefixed(self, tok: _Token, prefix: str, rest: str) -> Expr:
        pos = tok.pos + len(prefix) + 1
        if prefix == "tag":
            if not rest:
                raise SegmentError(f"expected a tag name after 'tag:' at position {pos}", pos, "a tag name")
            if not TAG_RE.fullmatch(rest):
                hint = f" (did you mean 'tag:{rest.lower()}'?)" if TAG_RE.fullmatch(rest.lower()) else ""
                raise SegmentError(
                    f"invalid tag name '{_show(rest)}' at position {pos}: 1-40 lowercase letters, digits or _{hint}",
                    pos,
                    "a tag name",
                )
            if self.tag_at is None:
                self.tag_at = tok.pos
            return Tag(rest)
        if prefix == "campaign":
            if not rest:
                raise SegmentError(f"expected a campaign id after 'campaign:' at position {pos}", pos, "a campaign id")
            if not CAMPAIGN_RE.fullmatch(rest):
                raise SegmentError(
                    f"invalid campaign id '{_show(rest)}' at position {pos}: 1-64 letters, digits, _ or -",
                    pos,
                    "a campaign id",
                )
            return Campaign(rest)
        guess = difflib.get_close_matches(prefix, ["tag", "campaign"], n=1)
        hint = f"did you mean '{guess[0]}:'?" if guess else "use tag:NAME or campaign:ID"
        raise SegmentError(
            f"unknown condition '{_show(tok.text)}' at position {tok.pos} ({hint})", tok.pos, "tag: or campaign:"
        )

    def _unknown_field(self, tok: _Token) -> SegmentError:
        word = tok.text
        guess = difflib.get_close_matches(word.lower(), list(FIELDS), n=1)
        if guess:
            hint = f"did you mean '{guess[0]}'?"
        elif self.tok.kind != "op" and TAG_RE.fullmatch(word):
            hint = f"did you mean 'tag:{word}'?"
        else:
            hint = "fields: " + ", ".join(FIELDS) + "; or tag:NAME, campaign:ID"
        return SegmentError(f"unknown field '{_show(word)}' at position {tok.pos} ({hint})", tok.pos, "a field")

    def _value(self, name: str, op_tok: _Token) -> Value:
        op = op_tok.text
        kind = FIELDS[name]
        tok = self.tok
        if tok.kind not in ("word", "string") or tok.keyword:
            found = "" if tok.kind == "end" else f", found {_describe(tok)}"
            quote = f' (quote it: "{tok.text}")' if tok.keyword and kind == "str" else ""
            raise SegmentError(f"expected a value after '{op}' at position {tok.pos}{found}{quote}", tok.pos, "a value")
        self._next()
        text, found, at = tok.text, f"found '{_show(tok.raw)}'", f"at position {tok.pos}"

        def fail(message: str, expected: str) -> SegmentError:
            return SegmentError(message, tok.pos, expected)

        if kind in ("str", "bool", "month_day") and op not in EQUALITY_OPS:
            raise SegmentError(
                f"'{name}' can only be compared with = or != at position {op_tok.pos}", op_tok.pos, "= or !="
            )
        if kind == "str":
            if not text:
                what, short = ("a tier id", "a tier id") if name == "tier" else ("a channel name", "a channel")
                raise fail(f"expected {what} for '{name}' {at}", short)
            return text
        if kind == "bool":
            if tok.kind == "word" and text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise fail(f"expected true or false for '{name}' {at}, {found}", "true or false")
        if kind == "month_day":
            match = _MONTH_DAY_RE.fullmatch(text)
            if not match:
                raise fail(f"expected a birthday like 12-25 (MM-DD) for '{name}' {at}, {found}", "MM-DD")
            try:
                date(2000, int(match.group(1)), int(match.group(2)))  # a leap year: 02-29 exists
            except ValueError:
                raise fail(f"no such date '{text}' {at}", "MM-DD") from None
            return text
        if tok.kind == "string":
            expected = "a whole number" if kind == "int" else "a duration or a date"
            raise fail(f"expected {expected} without quotes for '{name}' {at}, {found}", expected)
        duration = _DURATION_RE.fullmatch(text)
        if kind == "int":
            if duration and duration.group(2) in DURATION_UNITS:
                raise fail(f"a duration like {text} cannot be compared with '{name}' ({at})", "a whole number")
            if _DATE_RE.fullmatch(text) or _DATETIME_RE.fullmatch(text):
                raise fail(f"a date like {_show(text)} cannot be compared with '{name}' ({at})", "a whole number")
            if not _INT_RE.fullmatch(text):
                if re.fullmatch(r"[0-9_]*\.[0-9_]*", text):
                    money = " (money is in fen: 100 yuan is 10000)" if name == "spend" else ""
                    raise fail(f"'{name}' takes whole numbers {at}, {found}{money}", "a whole number")
                raise fail(f"expected a whole number for '{name}' {at}, {found}", "a whole number")
            value = int(text.replace("_", ""))
            if value > MAX_INT:
                raise fail(f"number too large for '{name}' {at} (at most {MAX_INT})", "a smaller number")
            return value
        # a timestamp: an age (a duration) or an instant (a date or a date-time)
        if duration:
            unit = duration.group(2)
            if unit not in DURATION_UNITS:
                raise fail(f"unknown duration unit '{_show(unit)}' {at} (use m, h, d or w)", "a duration unit")
            if op in EQUALITY_OPS:
                raise SegmentError(
                    f"a duration can only be compared with <, <=, > or >= (at position {op_tok.pos})",
                    op_tok.pos,
                    "<, <=, > or >=",
                )
            amount = int(duration.group(1).replace("_", ""))
            if amount * DURATION_UNITS[unit] > MAX_DURATION_MINUTES:
                raise fail(f"duration {text} too long {at} (at most 100 years)", "a shorter duration")
            if self.recency_at is None:
                self.recency_at = tok.pos
            return Duration(amount, unit)
        if _INT_RE.fullmatch(text):
            raise fail(
                f"expected a duration like 30d or a date like 2026-01-01 for '{name}' {at}, {found} "
                "(add a unit: m, h, d or w)",
                "a duration or a date",
            )
        instant = _DATETIME_RE.fullmatch(text)
        if instant and instant.group(1) is None:
            raise fail(f"a date-time needs a time zone {at}: add Z for UTC or an offset like +08:00", "a time zone")
        if instant or _DATE_RE.fullmatch(text):
            try:
                parsed = datetime.fromisoformat(text)
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            except (ValueError, OverflowError):
                raise fail(f"no such date '{_show(text)}' {at}", "a date") from None
        raise fail(
            f"expected a duration like 30d or a date like 2026-01-01 for '{name}' {at}, {found}", "a duration or a date"
        )


def _parsed(text: str) -> tuple[Expr, _Parser]:
    if len(text) > MAX_LENGTH:
        raise SegmentError(f"expression too long (at most {MAX_LENGTH} characters)", MAX_LENGTH)
    parser = _Parser(text)
    return parser.parse(), parser


def parse(text: str) -> Expr:
    """The expression's tree, or SegmentError with the position of the first mistake."""
    return _parsed(text)[0]


def check(text: str, *, auto_tag: bool = False) -> Expr:
    """`parse`, and for an auto-tag rule refuse durations and tags, pointing at the first one.

    Auto-tag rules are evaluated when a person's facts change, not as time passes, so an age
    (`last_seen < 30d`) would go stale; and a rule reading tags could feed on its own output.
    """
    expr, parser = _parsed(text)
    if auto_tag:
        if parser.recency_at is not None:
            pos = parser.recency_at
            raise SegmentError(
                f"an auto-tag rule cannot use a duration (at position {pos}): it is evaluated when facts change, "
                "not as time passes; use a segment for recency",
                pos,
            )
        if parser.tag_at is not None:
            pos = parser.tag_at
            raise SegmentError(f"an auto-tag rule cannot use tags (at position {pos})", pos)
    return expr


# ---- reading a tree -----------------------------------------------------------------------


def _walk(expr: Expr) -> Iterator[Expr]:
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.expr)


def uses_recency(expr: Expr) -> bool:
    """Whether the expression compares an age (a duration), so its verdict changes as time passes."""
    return any(isinstance(n, Compare) and isinstance(n.value, Duration) for n in _walk(expr))


def uses_tags(expr: Expr) -> bool:
    return any(isinstance(n, Tag) for n in _walk(expr))


def fields(expr: Expr) -> frozenset[str]:
    """The profile keys `evaluate` reads: compared fields, plus `tags` / `campaign_ids` for those atoms."""
    out: set[str] = set()
    for node in _walk(expr):
        if isinstance(node, Compare):
            out.add(node.field)
        elif isinstance(node, Tag):
            out.add("tags")
        elif isinstance(node, Campaign):
            out.add("campaign_ids")
    return frozenset(out)


def _unparse_value(value: Value, field_name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Duration):
        return str(value)
    if isinstance(value, datetime):
        utc = value.astimezone(UTC).replace(tzinfo=None)
        if utc.time() == datetime.min.time():
            return utc.date().isoformat()
        return utc.isoformat() + "Z"
    if FIELDS.get(field_name) == "month_day" or (_BARE_STR_RE.fullmatch(value) and value.lower() not in KEYWORDS):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unparse(expr: Expr) -> str:
    """Canonical text: `parse(unparse(e)) == e`. Parentheses only where the tree needs them."""

    def part(node: Expr, parent: type | None) -> str:
        if isinstance(node, Tag):
            return f"tag:{node.name}"
        if isinstance(node, Campaign):
            return f"campaign:{node.cid}"
        if isinstance(node, Compare):
            return f"{node.field} {node.op} {_unparse_value(node.value, node.field)}"
        if isinstance(node, Not):
            return "NOT " + part(node.expr, Not)
        joiner = " AND " if isinstance(node, And) else " OR "
        text = joiner.join(part(item, type(node)) for item in node.items)
        # A chain inside NOT or inside a chain is parenthesised, except AND inside OR (precedence).
        needs = parent is Not or parent is type(node) or (parent is And and isinstance(node, Or))
        return f"({text})" if needs else text

    return part(expr, None)


# ---- evaluation ---------------------------------------------------------------------------


def _instant(value: Any) -> datetime | None:
    """A profile timestamp (ISO-8601 string or datetime); anything unreadable counts as missing."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _members(value: Any) -> Any:
    """A set-like profile value; a lone string is one member, not a string to search in."""
    if isinstance(value, str):
        return (value,)
    return value if isinstance(value, set | frozenset | list | tuple | dict) else ()


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _holds(node: Compare, profile: Mapping[str, Any], now: datetime) -> bool:
    kind = FIELDS.get(node.field)
    raw = profile.get(node.field)
    if kind == "int":
        if raw is None:
            raw = 0  # a count of nothing
        if isinstance(raw, bool) or not isinstance(raw, int):
            return False
        return _compare(raw, node.op, node.value)
    if kind == "bool":
        return _compare(bool(raw), node.op, node.value)
    if kind == "str":
        if not isinstance(raw, str) or not raw:
            return False  # unknown source (no tier): neither = nor != holds
        return _compare(raw, node.op, node.value)
    if kind == "month_day":
        if not isinstance(raw, str) or not raw:
            return False
        return _compare(raw[-5:], node.op, node.value)  # YYYY-MM-DD reads as MM-DD
    if kind == "time":
        at = _instant(raw)
        if at is None:
            return False
        if isinstance(node.value, Duration):
            return _compare(now - at, node.op, node.value.delta)
        return _compare(at, node.op, node.value)
    return False


def evaluate(expr: Expr, profile: Mapping[str, Any], now: datetime) -> bool:
    """Whether the profile view matches; never raises for odd values (they count as missing)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if isinstance(expr, And):
        return all(evaluate(item, profile, now) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, profile, now) for item in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.expr, profile, now)
    if isinstance(expr, Tag):
        return expr.name in _members(profile.get("tags"))
    if isinstance(expr, Campaign):
        return expr.cid in _members(profile.get("campaign_ids"))
    return _holds(expr, profile, now)
