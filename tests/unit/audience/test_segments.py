"""The segment language: what parses, what it means on a profile, and where a mistake is reported."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chalicelib.audience.rules import profiles, segments
from chalicelib.audience.rules.segments import (
    And,
    Campaign,
    Compare,
    Duration,
    Expr,
    Not,
    Or,
    SegmentError,
    Tag,
    evaluate,
    parse,
    unparse,
)

PROPERTIES = settings(max_examples=150, derandomize=True, deadline=None)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# Seen 14 days ago (exactly 2w, 336h, 20160m), first seen in January, birthday today.
PROFILE: dict[str, Any] = {
    "tags": {"invited", "vip"},
    "campaign_ids": {"cmp_a"},
    "spend": 12000,
    "orders": 2,
    "invites": 3,
    "rewards": 1,
    "campaigns": 1,
    "groups": 0,
    "helps": 5,
    "source": "douyin",
    "invited": True,
    "first_seen": "2026-01-15T08:00:00Z",
    "last_seen": "2026-11-10T12:00:00Z",
    "birthday": "11-24",
}
EMPTY: dict[str, Any] = {}
QUOTED = {**PROFILE, "source": 'a "b"'}

VALID: list[tuple[str, dict[str, Any], bool]] = [
    ("tag:vip", PROFILE, True),
    ("tag:gold", PROFILE, False),
    ("TAG:vip", PROFILE, True),
    ("campaign:cmp_a", PROFILE, True),
    ("campaign:cmp_b", PROFILE, False),
    ("spend >= 10000", PROFILE, True),
    ("spend >= 10_000 AND spend < 12_001", PROFILE, True),
    ("spend > 12000", PROFILE, False),
    ("spend>=12000", PROFILE, True),
    ("spend == 12000", PROFILE, True),
    ("orders = 2", PROFILE, True),
    ("orders != 2", PROFILE, False),
    ("invites >= 3 AND helps > 4", PROFILE, True),
    ("rewards <= 0", PROFILE, False),
    ("groups = 0 AND campaigns = 1", PROFILE, True),
    ("Spend > 0", PROFILE, True),
    ("source = douyin", PROFILE, True),
    ('source = "douyin"', PROFILE, True),
    ("source != douyin", PROFILE, False),
    ("source = wechat", PROFILE, False),
    ('source = "a \\"b\\""', QUOTED, True),
    ("invited", PROFILE, True),
    ("invited = false", PROFILE, False),
    ("NOT invited", PROFILE, False),
    ("invited != FALSE", PROFILE, True),
    ("last_seen < 30d", PROFILE, True),
    ("last_seen > 30d", PROFILE, False),
    ("last_seen < 2w", PROFILE, False),
    ("last_seen <= 2w", PROFILE, True),
    ("last_seen > 335h", PROFILE, True),
    ("last_seen < 20160m", PROFILE, False),
    ("first_seen < 2026-02-01", PROFILE, True),
    ("first_seen >= 2026-01-15T08:00:00Z", PROFILE, True),
    ("first_seen > 2026-01-15T16:00:00+08:00", PROFILE, False),
    ("birthday = 11-24", PROFILE, True),
    ('birthday != "11-24"', PROFILE, False),
    ("tag:invited AND spend >= 10000 AND NOT last_seen < 30d", PROFILE, False),
    ("tag:gold OR spend >= 10000 AND orders > 5", PROFILE, False),
    ("(tag:gold OR spend >= 10000) AND orders > 1", PROFILE, True),
    ("NOT tag:gold AND tag:vip", PROFILE, True),
    ("not (tag:gold or tag:vip)", PROFILE, False),
    ("NOT NOT tag:vip", PROFILE, True),
    # missing fields: counts are 0, flags false, everything else makes the comparison false
    ("last_seen < 30d", EMPTY, False),
    ("NOT last_seen < 30d", EMPTY, True),
    ("last_seen > 30d", EMPTY, False),
    ("source != douyin", EMPTY, False),
    ("NOT source = douyin", EMPTY, True),
    ("spend = 0 AND orders < 1", EMPTY, True),
    ("invited", EMPTY, False),
    ("birthday != 01-01", EMPTY, False),
    ("tag:vip OR campaign:cmp_a", EMPTY, False),
]


@pytest.mark.parametrize(("text", "profile", "expected"), VALID)
def test_valid_expressions_evaluate(text: str, profile: dict[str, Any], expected: bool) -> None:
    expr = parse(text)
    assert evaluate(expr, profile, NOW) is expected
    assert parse(unparse(expr)) == expr


INVALID: list[tuple[str, int, str]] = [
    ("", 0, "empty expression"),
    ("   ", 0, "empty expression"),
    ("spend >= AND", 9, "expected a value after '>='"),
    ("tag:invited AND spend >=", 24, "expected a value after '>=' at position 24"),
    ("spnd >= 5", 0, "unknown field 'spnd' at position 0 (did you mean 'spend'?)"),
    ("vip", 0, "did you mean 'tag:vip'?"),
    ("(tag:a", 0, "unclosed '(' opened at position 0"),
    ("tag:a AND (tag:b OR (tag:c)", 10, "unclosed '(' opened at position 10"),
    ("spend > 30d", 8, "a duration like 30d cannot be compared with 'spend'"),
    ("AND tag:a", 0, "unexpected 'AND' at position 0"),
    ("tag:a tag:b", 6, "unexpected 'tag:b'"),
    ("tag:a && tag:b", 6, "use AND"),
    ("tag:VIP", 4, "invalid tag name 'VIP'"),
    ("tag:", 4, "expected a tag name"),
    ("campaign:a.b", 9, "invalid campaign id"),
    ("tagg:vip", 0, "did you mean 'tag:'?"),
    ("spend >>= 1", 7, "expected a value after '>'"),
    ("source > douyin", 7, "'source' can only be compared with = or !="),
    ("source = and", 9, 'quote it: "and"'),
    ('source = ""', 9, "expected a channel name"),
    ("last_seen < 30", 12, "add a unit"),
    ("last_seen = 30d", 10, "a duration can only be compared with <, <=, > or >="),
    ("last_seen < 30M", 12, "unknown duration unit 'M'"),
    ("last_seen < 2026-02-30", 12, "no such date"),
    ("first_seen > 2026-01-01T08:00", 13, "needs a time zone"),
    ('first_seen > "2026-01-01"', 13, "without quotes"),
    ("spend >= 10.5", 9, "money is in fen"),
    ("spend >= 2026-01-01", 9, "a date like 2026-01-01 cannot be compared"),
    ("birthday = 02-30", 11, "no such date '02-30'"),
    ("birthday = 1225", 11, "MM-DD"),
    ("birthday < 12-25", 9, "can only be compared with = or !="),
    ("invited = yes", 10, "expected true or false"),
    ("tag:a )", 6, "no '(' to close"),
    ("()", 1, "empty parentheses"),
    ("NOT", 3, "expected a condition after 'NOT'"),
    ("tag:a OR", 8, "expected a condition after 'OR'"),
    ("!invited", 0, "use NOT"),
    ('source = "abc', 9, "unclosed '\"'"),
    ("spend", 5, "expected an operator"),
    ("spend >= 1 AND >= 2", 15, "unexpected '>='"),
    ("x" * 1001, 1000, "too long"),
    ("(" * 33 + "tag:a" + ")" * 33, 32, "nested too deeply"),
    ("NOT " * 33 + "tag:a", 128, "nested too deeply"),
    (" OR ".join(["tag:a"] * 101), 900, "too many conditions"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), INVALID)
def test_invalid_expressions_say_where(text: str, position: int, fragment: str) -> None:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    assert caught.value.position == position, caught.value.message
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message


def test_errors_name_what_was_expected() -> None:
    with pytest.raises(SegmentError) as caught:
        parse("spend >= AND")
    assert caught.value.expected == "a value"
    with pytest.raises(SegmentError) as caught:
        parse("(tag:a")
    assert caught.value.expected == "')'"


def test_limits_are_inclusive() -> None:
    parse("(" * 32 + "tag:a" + ")" * 32)
    parse("NOT " * 32 + "tag:a")
    parse(" OR ".join(["tag:a"] * 100))
    parse("tag:a" + " " * (segments.MAX_LENGTH - 5))


def test_the_tree_is_what_was_written() -> None:
    expr = parse("tag:invited AND spend >= 10_000 AND NOT last_seen < 30d OR invited")
    assert expr == Or(
        (
            And((Tag("invited"), Compare("spend", ">=", 10000), Not(Compare("last_seen", "<", Duration(30, "d"))))),
            Compare("invited", "=", True),
        )
    )
    # A parenthesised chain inside a chain stays nested, and unparse keeps its parentheses.
    nested = parse("(tag:a AND tag:b) AND tag:c")
    assert nested == And((And((Tag("a"), Tag("b"))), Tag("c")))
    assert unparse(nested) == "(tag:a AND tag:b) AND tag:c"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("tag:a and not (tag:b or spend>=1_000)", "tag:a AND NOT (tag:b OR spend >= 1000)"),
        ("invited", "invited = true"),
        ("first_seen >= 2026-01-01T08:00:00+08:00", "first_seen >= 2026-01-01"),
        ("first_seen >= 2026-01-01T08:30Z", "first_seen >= 2026-01-01T08:30:00Z"),
        ('source = "douyin"', "source = douyin"),
        ('source = "and"', 'source = "and"'),
        ("(tag:a OR tag:b) AND tag:c", "(tag:a OR tag:b) AND tag:c"),
        ("tag:a AND tag:b OR tag:c", "tag:a AND tag:b OR tag:c"),
    ],
)
def test_unparse_is_canonical(text: str, canonical: str) -> None:
    assert unparse(parse(text)) == canonical


def test_what_an_expression_uses() -> None:
    expr = parse("tag:vip AND campaign:c1 AND spend > 0 AND NOT (last_seen < 7d OR source = douyin)")
    assert segments.uses_recency(expr) and segments.uses_tags(expr)
    assert segments.fields(expr) == frozenset({"tags", "campaign_ids", "spend", "last_seen", "source"})
    dated = parse("first_seen < 2026-01-01 AND orders >= 2")
    assert not segments.uses_recency(dated) and not segments.uses_tags(dated)


def test_auto_tag_rules_refuse_durations_and_tags_where_they_are() -> None:
    with pytest.raises(SegmentError) as caught:
        segments.check("orders >= 1 AND last_seen < 7d", auto_tag=True)
    assert caught.value.position == 28 and "duration" in caught.value.message
    with pytest.raises(SegmentError) as caught:
        segments.check("orders >= 1 OR tag:vip", auto_tag=True)
    assert caught.value.position == 15 and "tags" in caught.value.message
    assert segments.check("last_seen < 7d") == parse("last_seen < 7d")
    for rule in profiles.BUILTIN_TAGS:
        if rule.rule:
            segments.check(rule.rule, auto_tag=True)


def test_the_profile_view_is_what_evaluate_reads() -> None:
    profile = profiles.apply(
        profiles.Profile(tid="t1", uid="u_1"),
        [
            profiles.ParticipantFact(code="c1", cid="cmp_a", joined_at="2026-11-01T08:00:00Z", channel="douyin"),
            profiles.OrderFact(oid="o1", net_fen=60000, at="2026-11-02T08:00:00Z"),
        ],
    )
    view = profiles.segment_view(profile)
    expr = parse("campaign:cmp_a AND source = douyin AND spend > 50000 AND orders = 1 AND last_seen < 30d")
    assert evaluate(expr, view, NOW)
    assert segments.fields(expr) <= set(view)


def test_odd_values_count_as_missing_and_never_raise() -> None:
    odd = {"spend": "lots", "orders": None, "last_seen": "yesterday", "source": 7, "birthday": "", "tags": None}
    assert not evaluate(parse("spend >= 0"), odd, NOW)
    assert evaluate(parse("orders = 0"), odd, NOW)
    assert not evaluate(parse("last_seen < 100w OR last_seen > 1m"), odd, NOW)
    assert not evaluate(parse("source != douyin OR birthday != 01-01 OR tag:vip"), odd, NOW)
    # Naive times are read as UTC; a full-date birthday reads as its month and day.
    naive = {"last_seen": datetime(2026, 11, 24, 11, 0), "birthday": "1990-11-24"}
    assert evaluate(parse("last_seen < 61m AND last_seen > 59m AND birthday = 11-24"), naive, NOW.replace(tzinfo=None))


# ---- properties ---------------------------------------------------------------------------

_UTC_TIMES = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
_ORDERING = ("<", "<=", ">", ">=")


def _durations() -> st.SearchStrategy[Duration]:
    return st.sampled_from(sorted(segments.DURATION_UNITS)).flatmap(
        lambda unit: st.integers(0, segments.MAX_DURATION_MINUTES // segments.DURATION_UNITS[unit]).map(
            lambda amount: Duration(amount, unit)
        )
    )


ATOMS: st.SearchStrategy[Expr] = st.one_of(
    st.from_regex(segments.TAG_RE, fullmatch=True).map(Tag),
    st.from_regex(segments.CAMPAIGN_RE, fullmatch=True).map(Campaign),
    st.builds(Compare, st.sampled_from(segments.INT_FIELDS), st.sampled_from(segments.OPS), st.integers(0, 10**15)),
    st.builds(Compare, st.just("source"), st.sampled_from(("=", "!=")), st.text(min_size=1, max_size=12)),
    st.builds(Compare, st.just("invited"), st.sampled_from(("=", "!=")), st.booleans()),
    st.builds(
        Compare,
        st.just("birthday"),
        st.sampled_from(("=", "!=")),
        st.dates(datetime(2000, 1, 1).date(), datetime(2000, 12, 31).date()).map(lambda d: d.strftime("%m-%d")),
    ),
    st.builds(Compare, st.sampled_from(segments.TIME_FIELDS), st.sampled_from(_ORDERING), _durations()),
    st.builds(Compare, st.sampled_from(segments.TIME_FIELDS), st.sampled_from(segments.OPS), _UTC_TIMES),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    chains = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(children.map(Not), chains.map(And), chains.map(Or))


EXPRS = st.recursive(ATOMS, _extend, max_leaves=12)


@PROPERTIES
@given(EXPRS)
def test_unparse_then_parse_gives_the_same_tree(expr: Expr) -> None:
    text = unparse(expr)
    try:
        parsed = parse(text)
    except SegmentError as exc:  # only the limits may refuse a generated tree
        assume("too deeply" not in exc.message and "too long" not in exc.message)
        raise
    assert parsed == expr


FRAGMENTS = st.sampled_from(
    ["tag:vip", "campaign:c-1", "spend", "last_seen", "birthday", "source", "invited", "AND", "or", "NOT", "(", ")",
     ">=", "=", "!=", "<", "30d", "12-25", "2026-01-01", "2026-01-01T08:00Z", "10_000", '"x', '"a b"', "true", "!",
     "&&", "tag:", "x:y", "1.5", "99999999999999999999d", "0001-01-01T00:00+01:00"]
)  # fmt: skip


@PROPERTIES
@given(st.one_of(st.text(max_size=200), st.lists(FRAGMENTS, max_size=12).map(" ".join)))
def test_parse_raises_only_segment_errors(text: str) -> None:
    try:
        expr = parse(text)
    except SegmentError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message
    else:
        assert parse(unparse(expr)) == expr
        evaluate(expr, PROFILE, NOW)


PROFILES = st.fixed_dictionaries(
    {},
    optional={
        "tags": st.sets(st.sampled_from(["a", "b", "vip"])),
        "campaign_ids": st.sets(st.sampled_from(["c1", "c2"])),
        "spend": st.integers(0, 100_000),
        "orders": st.integers(0, 5),
        "source": st.sampled_from([None, "douyin", "wechat"]),
        "invited": st.booleans(),
        "last_seen": st.one_of(st.none(), _UTC_TIMES.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))),
        "birthday": st.sampled_from([None, "01-01", "12-25"]),
    },
)


SMALL_EXPRS = st.recursive(ATOMS, _extend, max_leaves=6)


@PROPERTIES
@given(SMALL_EXPRS, SMALL_EXPRS, PROFILES)
def test_de_morgan(a: Expr, b: Expr, profile: dict[str, Any]) -> None:
    assert evaluate(Not(And((a, b))), profile, NOW) == evaluate(Or((Not(a), Not(b))), profile, NOW)
    assert evaluate(Not(Or((a, b))), profile, NOW) == evaluate(And((Not(a), Not(b))), profile, NOW)
    assert evaluate(Not(Not(a)), profile, NOW) == evaluate(a, profile, NOW)
