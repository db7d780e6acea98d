"""Analytics counting from the stream: beacons, joins, generations, qualification, orders, rewards, exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice


def totals(cid: str) -> dict[str, int]:
    """Every counter of the campaign over today and the days around it, summed."""
    from datetime import timedelta

    from chalicelib.analytics.store import counters as analytics

    today = datetime.now(UTC).date()
    days = [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    found, _ = analytics.read_days(cid, days)
    summed: Counter[str] = Counter()
    for counters in found.values():
        summed.update(counters)
    return dict(summed)


def beacon(api: Api, cid: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/events", body, token=token)


def test_beacons_are_facts_counted_by_the_stream(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    me = join(api, cid, external_id="b1", channel="douyin")[1]
    assert beacon(api, cid, {"type": "view", "channel": "douyin"}) == (202, {"accepted": True})
    assert beacon(api, cid, {"type": "share", "channel": "wechat_moments"}, me["token"])[0] == 202
    assert beacon(api, cid, {"type": "share", "channel": "my_new_channel"})[0] == 202
    assert beacon(api, cid, {"type": "custom", "name": "coupon.copied"})[0] == 202
    assert totals(cid) == {}  # nothing is counted on the request path
    status, body = beacon(api, cid, {"type": "teleport"})
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert beacon(api, cid, "{not json")[0] == 400
    assert beacon(api, cid, {"type": "custom"})[0] == 422
    assert beacon(api, "cmp_missing", {"type": "view"})[0] == 404
    pump.drain()
    counted = totals(cid)
    assert counted["n|view|douyin|-"] == 1
    assert counted["n|share|wechat_moments|-"] == 1
    assert counted["n|share|my_new_channel|-"] == 1
    assert counted["n|custom|-|-"] == 1
    assert counted["n|join|douyin|-"] == 1
    assert counted["n|dq_invalid_event|-|-"] == 3


def test_generations_qualification_and_cycle_time_are_counted_once(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    root = join(api, cid, external_id="root")[1]
    child = join(api, cid, external_id="child", ref=root["invite_code"], channel="wechat_group")[1]
    join(api, cid, external_id="grandchild", ref=child["invite_code"])
    api.client.http.get(f"/v1/i/{root['invite_code']}?ch=sms")
    deliver_every_batch_twice(pump)
    pump.drain()
    counted = totals(cid)
    assert counted["n|depth:0|-|-"] == 1 and counted["n|depth:1|-|-"] == 1 and counted["n|depth:2|-|-"] == 1
    assert counted["n|join|-|-"] == 2 and counted["n|join|wechat_group|-"] == 1
    assert counted["n|invited_join|wechat_group|-"] == 1 and counted["n|qualified|wechat_group|-"] == 1
    assert counted["n|activated|-|-"] == 1 and counted["n|activated|wechat_group|-"] == 1
    assert counted["n|offspring_sq|-|-"] == 1 and counted["n|offspring_sq|wechat_group|-"] == 1
    assert counted["h|cycle|0"] == 2
    assert counted["n|click|sms|-"] == 1
    # m1 for root and child (500 each), the welcome coupon for child and grandchild (300 each), each in the channel
    # of the participant it rewards: the child came through wechat_group.
    assert (counted["n|rewards|-|-"], counted["n|reward_cost_fen|-|-"]) == (2, 800)
    assert (counted["n|rewards|wechat_group|-"], counted["n|reward_cost_fen|wechat_group|-"]) == (2, 800)


def test_variants_are_assigned_deterministically_and_change_the_ladder(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    experiment = {"variants": [
        {"id": "control", "weight": 50},
        {"id": "rich", "weight": 50, "share": {"title": "Rich copy"},
         "milestones": [{"invites": 1, "reward": {"type": "points", "name": "Big", "points": 999}}]},
    ]}  # fmt: skip
    cid = live_campaign(api, tenant, experiment=experiment)
    people = [join(api, cid, external_id=f"v{i}")[1] for i in range(40)]
    again = [join(api, cid, external_id=f"v{i}")[1]["variant"] for i in range(40)]
    assert [p["variant"] for p in people] == again
    assert set(again) == {"control", "rich"}
    rich = next(p for p in people if p["variant"] == "rich")
    assert rich["share"]["title"] == "Rich copy"
    assert rich["progress"]["next_milestone"]["reward"]["points"] == 999
    join(api, cid, external_id="friend-of-rich", ref=rich["invite_code"])
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=rich["token"])[1]
    assert [(r["rule"], r["points"]) for r in me["rewards"]] == [("m1", 999)]
    counted = totals(cid)
    assert counted["n|join|-|control"] + counted["n|join|-|rich"] == 41
    status, stats = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.owner_token)
    assert status == 200, stats
    arms = {arm["variant"]: arm for arm in stats["experiments"]["variants"]}
    assert arms["control"]["participants"] + arms["rich"]["participants"] == 41
    assert arms["rich"]["activated"] == 1 and arms["control"]["activated"] == 0
    (comparison,) = stats["experiments"]["comparisons"]
    assert (comparison["baseline"], comparison["variant"]) == ("control", "rich")
    assert comparison["warning"] == "minimum sample not reached"


@pytest.mark.parametrize("replays", [1, 2])
def test_orders_refunds_rewards_and_commission_add_up(api: Api, tenant: Tenant, pump: StreamPump, replays: int) -> None:
    from tests.integration.modes.test_orders_distribution import order, post_order
    from tests.integration.referral.test_follow_hooks import secret

    cid = live_campaign(api, tenant, "distribution")
    inviter = join(api, cid, external_id="seller")[1]
    join(api, cid, external_id="buyer", ref=inviter["invite_code"], channel="link")
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "buyer", "o-1", amount=10000))[0] == 200
    assert post_order(api, tenant, key, order(cid, "seller", "o-2", amount=5000))[0] == 200
    assert post_order(api, tenant, key, order(cid, "buyer", "o-1", status="refunded", amount=10000))[0] == 200
    if replays == 2:
        deliver_every_batch_twice(pump)
    pump.drain()
    counted = totals(cid)
    assert counted["n|converted|link|-"] == 1 and counted["n|converted|-|-"] == 1
    # Revenue is net of refunds; counters that net to zero in a batch are not written at all.
    assert counted.get("n|revenue_fen|link|-", 0) == 0 and counted["n|revenue_fen|-|-"] == 5000
    assert counted.get("n|attributed_revenue_fen|link|-", 0) == 0
    assert counted["n|refunds|link|-"] == 1 and counted["n|refunded_fen|link|-"] == 10000
    assert counted.get("n|commission_fen|-|-", 0) == 0  # earned on o-1, clawed back with its refund


def test_held_joins_count_nowhere_until_approved_then_once_and_rejected_ones_never(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    from tests.integration.referral.test_fraud import _ring

    cid = live_campaign(api, tenant)
    ring = _ring(api, cid, pump, size=4)  # the last two are held
    assert [r.get("review") for r in ring] == [None, None, "pending", "pending"]
    counted = totals(cid)
    assert (counted.get("n|join|-|-"), counted.get("n|invited_join|-|-"), counted.get("n|qualified|-|-")) == (2, 1, 1)
    assert {k for k in counted if k.startswith("n|depth:")} == {"n|depth:0|-|-", "n|depth:1|-|-"}

    deliver_every_batch_twice(pump)
    for verb, held in (("approve", ring[2]), ("reject", ring[3])):
        for _ in range(2):  # a repeated decision changes nothing
            status, body = api.call("POST", f"/v1/admin/reviews/join-{held['invite_code']}/{verb}", {"reason": "r"},
                                    token=tenant.owner_token)  # fmt: skip
            assert status == 200, body
            pump.drain()
    counted = totals(cid)
    assert (counted["n|join|-|-"], counted["n|invited_join|-|-"], counted["n|qualified|-|-"]) == (3, 2, 2)
    assert {k: v for k, v in counted.items() if k.startswith("n|depth:")} == {
        "n|depth:0|-|-": 1, "n|depth:1|-|-": 1, "n|depth:2|-|-": 1,
    }  # fmt: skip
