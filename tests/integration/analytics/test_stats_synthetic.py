"""The stats API against a synthetic campaign: a seeded generator drives 2,000+ participants over several
days, generations, channels, orders and refunds through the public API and webhooks; the expected
figures are computed from the generator's own records, independently of the counters."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, campaign_body, join_body
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

SEED = 20261124
PARTICIPANTS = 2_000
CHANNELS = ["wechat_moments", "wechat_group", "wechat_friend", "douyin", "xiaohongshu", "sms", "qr_offline", "link"]
ZONE = ZoneInfo("Asia/Shanghai")
WELCOME, FIRST, THIRD = 300, 500, 2000  # the campaign's rewards in fen


@dataclass
class Person:
    external_id: str
    code: str
    joined: datetime
    channel: str | None
    inviter: Person | None
    depth: int
    invitees: list[Person] = field(default_factory=list)


@dataclass
class Expected:
    """What the generator did, and nothing the engine computed."""

    people: list[Person] = field(default_factory=list)
    views: Counter[str | None] = field(default_factory=Counter)
    shares: Counter[str | None] = field(default_factory=Counter)
    clicks: Counter[str | None] = field(default_factory=Counter)
    orders: list[tuple[Person, int, bool]] = field(default_factory=list)  # buyer, amount, refunded later
    joins_by_day: Counter[str] = field(default_factory=Counter)


def day_of(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d")


def generate(api: Api, tenant: Tenant, clock: Clock, cid: str) -> Expected:
    rng = random.Random(SEED)
    seen = Expected()
    key = secret(api, tenant)
    for i in range(PARTICIPANTS):
        clock.advance(minutes=rng.randint(0, 4))
        now = clock()
        channel = rng.choice([*CHANNELS, None])
        if rng.random() < 0.3:
            seen.views[channel] += 1
            view = {"type": "view", **({"channel": channel} if channel else {})}
            assert api.call("POST", f"/v1/campaigns/{cid}/events", view)[0] == 202
        # Most joins come from someone's invite, more often from recent and prolific inviters.
        inviter = None
        if seen.people and rng.random() < 0.8:
            pool = seen.people[-300:]
            inviter = rng.choice(pool)
            if rng.random() < 0.6:  # the short link is opened first
                seen.clicks[channel] += 1
                response = api.client.http.get(f"/v1/i/{inviter.code}" + (f"?ch={channel}" if channel else ""))
                assert response.status_code == 302
        body: dict[str, Any] = join_body(cid, f"user-{i}", nickname=f"用户{i}")
        if channel:
            body["channel"] = channel
        if inviter:
            body["ref"] = inviter.code
        status, joined = api.call("POST", f"/v1/campaigns/{cid}/participants", body)
        assert status == 201, joined
        person = Person(f"user-{i}", joined["invite_code"], now, channel, inviter, inviter.depth + 1 if inviter else 0)
        if inviter:
            inviter.invitees.append(person)
        seen.people.append(person)
        seen.joins_by_day[day_of(now)] += 1
        for _ in range(rng.choice([0, 0, 1, 2])):
            share_channel = rng.choice(CHANNELS)
            seen.shares[share_channel] += 1
            sent = api.call("POST", f"/v1/campaigns/{cid}/events", {"type": "share", "channel": share_channel},
                            token=joined["token"])  # fmt: skip
            assert sent[0] == 202
        if rng.random() < 0.15:
            amount = rng.randint(990, 29900)
            refunded = rng.random() < 0.2
            oid = f"o-{i}"
            stamp = int(clock().timestamp())  # signed at the (moved) clock of the service
            sent = post_order(api, tenant, key, order(cid, person.external_id, oid, amount=amount), stamp=stamp)
            assert sent[0] == 200, sent
            if refunded:
                back = order(cid, person.external_id, oid, "refunded", amount)
                assert post_order(api, tenant, key, back, stamp=stamp)[0] == 200
            seen.orders.append((person, amount, refunded))
    return seen


def percentile(values: list[int], pct: int) -> int:
    ordered = sorted(values)
    rank = -(-pct * len(ordered) // 100)  # nearest rank
    return ordered[max(rank, 1) - 1]


@pytest.fixture
def synthetic(api: Api, tenant: Tenant, clock: Clock, pump: StreamPump) -> tuple[str, Expected, dict[str, Any]]:
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    body = campaign_body("invite", starts_at=starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         ends_at=(starts + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
    body["rules"] = {
        "milestones": [
            {"invites": 1, "reward": {"type": "coupon", "name": "First", "value_fen": FIRST}},
            {"invites": 3, "reward": {"type": "coupon", "name": "Third", "value_fen": THIRD}},
        ],
        "invitee_reward": {"type": "coupon", "name": "Welcome", "value_fen": WELCOME},
    }
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    seen = generate(api, tenant, clock, cid)
    pump.drain(timeout=300)
    token = tenant.totp_token()  # a new login at the moved clock; the owner has an authenticator by now
    first, last = day_of(seen.people[0].joined), day_of(clock())
    status, stats = api.call("GET", f"/v1/admin/campaigns/{cid}/stats?from={first}&to={last}", token=token)
    assert status == 200, stats
    return cid, seen, stats


def test_the_stats_api_returns_exactly_what_the_generator_did(synthetic: tuple[str, Expected, dict[str, Any]]) -> None:
    _, seen, stats = synthetic
    people = seen.people
    invited = [p for p in people if p.inviter]
    paid = [(p, amount) for p, amount, _ in seen.orders]
    net = {id(p): (0 if refunded else amount) for p, amount, refunded in seen.orders}

    funnel = {step["step"]: step["count"] for step in stats["funnel"]}
    assert funnel == {
        "view": sum(seen.views.values()), "join": len(people), "share": sum(seen.shares.values()),
        "click": sum(seen.clicks.values()), "qualified": len(invited), "converted": len(paid),
    }  # fmt: skip

    assert {row["period"]: row["join"] for row in stats["series"] if row["join"]} == dict(seen.joins_by_day)

    channels = {row["channel"]: row for row in stats["channels"]}
    for channel in {*CHANNELS, None}:
        row = channels.get(channel, {})
        joined_here = [p for p in people if p.channel == channel]
        assert row.get("joins", 0) == len(joined_here), channel
        assert row.get("shares", 0) == seen.shares[channel], channel
        assert row.get("clicks", 0) == seen.clicks[channel], channel
        assert row.get("conversions", 0) == sum(1 for p, _ in paid if p.channel == channel), channel
        assert row.get("revenue_fen", 0) == sum(net[id(p)] for p, _ in paid if p.channel == channel), channel

    k = stats["k_factor"]
    assert k["k_realised"] == pytest.approx(len(invited) / len(people), abs=1e-12)
    assert k["k_sent"] == pytest.approx(len(invited) / len(people), abs=1e-12)
    assert k["invites_per_participant"] == pytest.approx(sum(seen.shares.values()) / len(people), abs=1e-12)

    depths = Counter(p.depth for p in people)
    assert {g["depth"]: g["participants"] for g in stats["generations"]} == dict(depths)
    assert len(depths) >= 4

    cycles = [int((p.joined - p.inviter.joined).total_seconds()) // 60 for p in invited if p.inviter]
    assert stats["cycle_time_minutes"] == {
        "median": percentile(cycles, 50), "p90": percentile(cycles, 90), "samples": len(cycles)
    }  # fmt: skip

    reward_cost = WELCOME * len(invited) + sum(
        (FIRST if len(p.invitees) >= 1 else 0) + (THIRD if len(p.invitees) >= 3 else 0) for p in people
    )
    attributed = sum(net[id(p)] for p, _ in paid if p.inviter)
    roi = stats["roi"]
    assert roi["cost_fen"] == reward_cost
    assert roi["attributed_revenue_fen"] == attributed
    assert roi["revenue_fen"] == sum(net.values())
    assert roi["refunded_fen"] == sum(amount for _, amount, refunded in seen.orders if refunded)
    assert roi["roi"] == pytest.approx((attributed - reward_cost) / reward_cost, abs=1e-12)

    assert stats["data_quality"]["invalid_events"] == 0
    assert stats["forecast"]["model"] == "galton-watson"


def test_bad_stats_queries_are_4xx(api: Api, tenant: Tenant) -> None:
    from tests.conftest import live_campaign

    cid = live_campaign(api, tenant)
    path = f"/v1/admin/campaigns/{cid}/stats"
    token = tenant.owner_token
    cases = {
        "?from=2026-12-02&to=2026-12-01": "INVALID_RANGE",
        "?from=2025-01-01&to=2026-12-01": "INVALID_RANGE",
        "?from=yesterday": "INVALID_RANGE",
        "?granularity=hour": "INVALID_GRANULARITY",
    }
    for query, code in cases.items():
        status, body = api.call("GET", path + query, token=token)
        assert (status, body["error"]["code"]) == (422, code), query
    assert api.call("GET", "/v1/admin/campaigns/cmp_nope/stats", token=token)[0] == 404
    assert api.call("GET", path, token=tenant.operator("viewer"))[0] == 200


def test_stats_reads_do_not_grow_with_events(api: Api, tenant: Tenant) -> None:
    """100,000 facts through the aggregation path, then the same stats read as for a nearly empty campaign."""
    from chalicelib.analytics import aggregation
    from chalicelib.table import db
    from chalicelib.table.changes import Change
    from chalicelib.table.images import BeaconImage
    from tests.conftest import live_campaign

    small, large = live_campaign(api, tenant), live_campaign(api, tenant)
    at = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    sequence = int(time.time() * 1000) * 1_000_000
    for start in range(0, 100_000, 100):
        batch = []
        for i in range(start, start + 100):
            sequence += 1
            fact = BeaconImage(cid=large, type="share" if i % 3 else "view", at=at, channel=CHANNELS[i % len(CHANNELS)])
            batch.append(Change("beacon", "INSERT", None, fact, str(sequence)))
        assert aggregation.count(batch, None) == set()

    calls: Counter[str] = Counter()
    client = db.dynamodb_client()

    def tally(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb", tally)
    from chalicelib.table.models import ALL_MODELS

    for model in ALL_MODELS:
        model._get_connection().connection.client.meta.events.register("before-call.dynamodb", tally)
    reads: dict[str, int] = {}
    try:
        for cid in (small, large):
            calls.clear()
            status, stats = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.owner_token)
            assert status == 200
            reads[cid] = sum(calls.values())
    finally:
        client.meta.events.unregister("before-call.dynamodb", tally)
        for model in ALL_MODELS:
            model._get_connection().connection.client.meta.events.unregister("before-call.dynamodb", tally)
    assert stats["totals"]["share"] + stats["totals"]["view"] == 100_000
    assert reads[large] == reads[small]
    assert reads[large] <= 10  # 30 days x 8 shards in 3 batch gets, the campaign, the board, the lag; auth
