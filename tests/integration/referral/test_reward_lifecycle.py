"""Rewards after issuing: coupon code pools, claiming (gift addresses encrypted), revoking, and their webhooks."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Tenant, campaign_body, join, proof
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.referral.test_invite_rewards import invite_friends, ladder_campaign


def pooled(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"type": "coupon", "name": name, "value_fen": value, "code_pool": True, **extra}


def gift(name: str, value: int) -> dict[str, Any]:
    return {"type": "gift", "name": name, "value_fen": value}


def my_rewards(api: Api, cid: str, participant: dict[str, Any]) -> list[dict[str, Any]]:
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])
    assert status == 200, me
    return list(me["rewards"])


def upload(api: Api, tenant: Tenant, cid: str, rule: str, codes: list[str]) -> tuple[int, dict[str, Any]]:
    return api.call(
        "POST", f"/v1/admin/campaigns/{cid}/coupon-pools/{rule}/codes", {"codes": codes}, token=tenant.owner_token
    )


def queued_events(tid: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event queued in the outbox for the tenant, whatever its due time."""
    from chalicelib.messaging.rules.webhooks import SHARDS
    from chalicelib.table import keys
    from chalicelib.table.models import Item, OutboxItem

    found = []
    for shard in range(SHARDS):
        for item in Item.query(keys.outbox_pk(shard), consistent_read=True):
            if isinstance(item, OutboxItem) and item.tid == tid:
                found.append((str(item.event_type), json.loads(item.payload)))
    return found


@pytest.fixture
def endpoint(tenant: Tenant) -> Iterator[None]:
    from chalicelib.messaging.rules.webhooks import SHARDS
    from chalicelib.table import keys
    from chalicelib.table.models import Item, OutboxItem
    from tests.integration.messaging.test_outbound_webhooks import register

    register(tenant.tid, "http://127.0.0.1:9/hook")  # never delivered here: the outbox is inspected
    yield
    # Leave no pending deliveries behind for the delivery tests that share the table.
    for shard in range(SHARDS):
        for item in Item.query(keys.outbox_pk(shard), consistent_read=True):
            if isinstance(item, OutboxItem) and item.tid == tenant.tid:
                item.delete()


def test_pooled_coupons_wait_for_codes_and_each_code_goes_to_one_participant(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": pooled("10 off", 1000)}]})
    inviters = [join(api, cid, external_id=f"pool-{i}")[1] for i in range(5)]
    for inviter in inviters:
        invite_friends(api, cid, inviter, 1)
    status, first = upload(api, tenant, cid, "m1", ["CODE-A", "CODE-B", "CODE-A"])
    assert status == 200, first
    assert (first["added"], first["duplicates"], first["uploaded"], first["free"]) == (2, 1, 2, 2)
    pump.drain()

    states = Counter(r["status"] for i in inviters for r in my_rewards(api, cid, i))
    assert states == {"issued": 2, "pending": 3}
    pending = next(r for i in inviters for r in my_rewards(api, cid, i) if r["status"] == "pending")
    assert (pending["reason"], pending["reason_code"]) == ("waiting for coupon codes", "WAITING_FOR_CODES")

    # Codes already uploaded, issued or not, are never added again; the new ones release the waiting rewards.
    status, second = upload(api, tenant, cid, "m1", ["CODE-B", "CODE-C", "CODE-D", "CODE-E"])
    assert (second["added"], second["duplicates"]) == (3, 1)
    pump.drain()
    assert Counter(r["status"] for i in inviters for r in my_rewards(api, cid, i)) == {"issued": 5}

    claimed = [api.call("POST", f"/v1/rewards/{my_rewards(api, cid, i)[0]['id']}/claim", token=i["token"])
               for i in inviters]  # fmt: skip
    assert all(status == 200 for status, _ in claimed)
    assert sorted(body["coupon_code"] for _, body in claimed) == ["CODE-A", "CODE-B", "CODE-C", "CODE-D", "CODE-E"]
    status, pools = api.call("GET", f"/v1/admin/campaigns/{cid}/coupon-pools", token=tenant.owner_token)
    assert pools["items"] == [{"rule": "m1", "name": "10 off", "uploaded": 5, "free": 0, "issued": 5}]


def test_concurrent_issuers_never_share_a_code(api: Api, tenant: Tenant) -> None:
    from chalicelib.campaigns import store as campaign_store
    from chalicelib.referral import rewards
    from chalicelib.referral.rules.rewards import grant_of
    from chalicelib.referral.store import rewards as reward_store

    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": pooled("Flash", 100)}]})
    assert upload(api, tenant, cid, "m1", [f"F{i:03d}" for i in range(20)])[0] == 200
    rec = campaign_store.get(cid)
    assert rec is not None
    grant = grant_of("m1", pooled("Flash", 100))
    prefix = uuid.uuid4().hex[:5]  # participant codes of their own: the table is shared by the session
    now = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda i: rewards.issue(rec, f"{prefix}{i:03d}", grant, now), range(30)))
    assert Counter(outcomes) == {"issued": 20, "pending": 10}
    issued = [r for i in range(30) for r in reward_store.for_participant(f"{prefix}{i:03d}")]
    codes = [r.coupon_code for r in issued if r.coupon_code]
    assert sorted(codes) == [f"F{i:03d}" for i in range(20)]


def test_a_gift_is_claimed_once_with_an_encrypted_address(
    api: Api, tenant: Tenant, pump: StreamPump, endpoint: None
) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": gift("Tote bag", 3900)}]})
    inviter = join(api, cid, external_id="gifted")[1]
    invite_friends(api, cid, inviter, 1)
    pump.drain()
    rid = my_rewards(api, cid, inviter)[0]["id"]
    address = {"name": "王小明", "phone": "13800138000", "province": "上海市", "city": "上海市",
               "line": "漕溪北路 88 号"}  # fmt: skip

    status, body = api.call("POST", f"/v1/rewards/{rid}/claim", {}, token=inviter["token"])
    assert (status, body["error"]["code"]) == (422, "ADDRESS_REQUIRED")
    status, body = api.call(
        "POST",
        f"/v1/rewards/{rid}/claim",
        {"address": address},
        token=inviter["token"],
        headers=proof(api, inviter["token"]),
    )
    assert status == 200, body
    assert body["status"] == "claimed" and body["claimed_at"]
    # A retried claim answers the same; another address is a conflict.
    assert api.call(
        "POST",
        f"/v1/rewards/{rid}/claim",
        {"address": address},
        token=inviter["token"],
        headers=proof(api, inviter["token"]),
    ) == (200, body)
    moved = {**address, "line": "另一个地址"}
    status, body = api.call(
        "POST",
        f"/v1/rewards/{rid}/claim",
        {"address": moved},
        token=inviter["token"],
        headers=proof(api, inviter["token"]),
    )
    assert (status, body["error"]["code"]) == (409, "REWARD_ALREADY_CLAIMED")

    from chalicelib.table import keys
    from chalicelib.table.models import Item

    raw = Item.get(keys.participant_pk(inviter["invite_code"]), keys.reward_sk("m1"), consistent_read=True)
    assert "王小明" not in json.dumps(raw.attribute_values, default=str, ensure_ascii=False)
    claims = [data for kind, data in queued_events(tenant.tid) if kind == "reward.claimed"]
    assert [c["address"] for c in claims] == [address]


def test_only_the_owner_claims_and_only_issued_rewards(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": pooled("Soon", 500)}]})
    inviter = join(api, cid, external_id="owner")[1]
    (friend,) = invite_friends(api, cid, inviter, 1)
    pump.drain()
    rid = my_rewards(api, cid, inviter)[0]["id"]
    assert api.call("POST", f"/v1/rewards/{rid}/claim", token=friend["token"])[1]["error"]["code"] == "REWARD_NOT_FOUND"
    assert api.call("POST", f"/v1/rewards/{rid}/claim")[1]["error"]["code"] == "PARTICIPANT_TOKEN_REQUIRED"
    assert api.call("POST", "/v1/rewards/nonsense/claim", token=inviter["token"])[0] == 404
    status, body = api.call("POST", f"/v1/rewards/{rid}/claim", token=inviter["token"])
    assert (status, body["error"]["code"]) == (409, "REWARD_PENDING")


def test_revoking_returns_stock_and_budget_and_is_announced_once(
    api: Api, tenant: Tenant, pump: StreamPump, endpoint: None
) -> None:
    from chalicelib.referral.store import rewards as reward_store

    rules = {"milestones": [{"invites": 1, "reward": {"type": "cash", "name": "Cash", "value_fen": 800, "stock": 2}}]}
    cid = ladder_campaign(api, tenant, rules, budget_fen=5000)
    inviter = join(api, cid, external_id="suspect")[1]
    invite_friends(api, cid, inviter, 1)
    pump.drain()
    rid = my_rewards(api, cid, inviter)[0]["id"]
    assert reward_store.stock_left(cid, ["m1"]) == {"m1": 1}

    path = f"/v1/admin/campaigns/{cid}/rewards/{rid}/revoke"
    for _ in range(3):
        status, body = api.call("POST", path, {"reason": "device farm"}, token=tenant.owner_token)
        assert status == 200, body
        assert (body["status"], body["reason"], body["reason_code"]) == ("revoked", "device farm", "OPERATOR_REVOKED")
    assert reward_store.stock_left(cid, ["m1"]) == {"m1": 2}
    from chalicelib.table import keys
    from chalicelib.table.models import CounterItem

    assert int(CounterItem.get(keys.budget_pk(cid), keys.META, consistent_read=True).spent) == 0
    status, body = api.call("POST", f"/v1/rewards/{rid}/claim", token=inviter["token"])
    assert (status, body["error"]["code"]) == (410, "REWARD_REVOKED")
    assert [kind for kind, _ in queued_events(tenant.tid)].count("reward.revoked") == 1
    viewer = tenant.operator("viewer")
    assert api.call("POST", path, {"reason": "x"}, token=viewer)[0] == 403


def test_a_claimed_reward_cannot_be_revoked(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": {"type": "points", "name": "P",
                                                                                   "points": 100}}]})  # fmt: skip
    inviter = join(api, cid, external_id="fast")[1]
    invite_friends(api, cid, inviter, 1)
    pump.drain()
    rid = my_rewards(api, cid, inviter)[0]["id"]
    assert api.call("POST", f"/v1/rewards/{rid}/claim", token=inviter["token"])[0] == 200
    status, body = api.call(
        "POST", f"/v1/admin/campaigns/{cid}/rewards/{rid}/revoke", {"reason": "late"}, token=tenant.owner_token
    )
    assert (status, body["error"]["code"]) == (409, "REWARD_ALREADY_CLAIMED")


def test_milestones_are_announced_once_under_replay(api: Api, tenant: Tenant, pump: StreamPump, endpoint: None) -> None:
    rules = {"milestones": [{"invites": 1, "reward": gift("A", 100)}, {"invites": 2, "reward": gift("B", 200)}]}
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="climber")[1]
    for _ in range(3):
        invite_friends(api, cid, inviter, 2)
    deliver_every_batch_twice(pump)
    pump.drain()
    reached = sorted(d["milestone"] for kind, d in queued_events(tenant.tid) if kind == "milestone.reached")
    assert reached == ["m1", "m2"]
    issued = [d["rule"] for kind, d in queued_events(tenant.tid) if kind == "reward.issued"]
    assert sorted(issued) == ["m1", "m2"]


def test_pool_errors(api: Api, tenant: Tenant) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": gift("Not pooled", 100)}]})
    status, body = upload(api, tenant, cid, "m1", ["X1"])
    assert (status, body["error"]["code"]) == (404, "POOL_NOT_FOUND")
    status, body = upload(api, tenant, cid, "m1", ["has space"])
    assert status == 422
    body = campaign_body("invite")
    body["rules"] = {"milestones": [{"invites": 1, "reward": {**gift("Bag", 100), "code_pool": True}}]}
    status, answer = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 422, answer
    assert "only a coupon reward" in json.dumps(answer["error"]["details"])


def test_a_stocked_leader_perk_draws_on_one_campaign_wide_stock(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from tests.integration.modes.test_group_buy import group_campaign, join_group, open_group, participant

    cid = group_campaign(api, tenant, leader_perk={"type": "coupon", "name": "Leader", "value_fen": 500, "stock": 1})
    leaders = [participant(api, cid) for _ in range(2)]
    for leader in leaders:
        gid = open_group(api, cid, leader, size=2)[1]["group_id"]
        assert join_group(api, gid, participant(api, cid))[0] == 200
    pump.drain()
    perks = sorted(r["status"] for leader in leaders for r in my_rewards(api, cid, leader))
    assert perks == ["issued", "unavailable"]
