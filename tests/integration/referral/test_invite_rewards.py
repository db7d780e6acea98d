"""Invite mode: milestone rewards, double-sided rewards, caps, decay, stock and budget, exactly once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from local.pump import StreamPump
from tests.conftest import Api, Tenant, campaign_body, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice


def coupon(name: str, value: int, stock: int | None = None) -> dict[str, Any]:
    return {"type": "coupon", "name": name, "value_fen": value, **({"stock": stock} if stock is not None else {})}


def ladder_campaign(api: Api, tenant: Tenant, rules: dict[str, Any], **overrides: Any) -> str:
    body = campaign_body("invite", **overrides)
    body["rules"] = rules
    return live_campaign(api, tenant, **{k: v for k, v in body.items() if k not in ("mode",)})


def rewards_of(api: Api, cid: str, participant: dict[str, Any]) -> list[tuple[str, str, int]]:
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])[1]
    return [(r["rule"], r["status"], r["value_fen"]) for r in me["rewards"]]


def invite_friends(api: Api, cid: str, inviter: dict[str, Any], count: int) -> list[dict[str, Any]]:
    code = inviter["invite_code"]
    return [join(api, cid, external_id=f"friend-{code}-{i}", ref=code)[1] for i in range(count)]


def test_milestones_and_double_sided_rewards_are_issued(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {
        "milestones": [
            {"invites": 1, "reward": coupon("5 yuan", 500)},
            {"invites": 3, "reward": coupon("Sample", 2000)},
        ],
        "invitee_reward": coupon("Welcome", 300),
    }
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="inviter")[1]
    friends = invite_friends(api, cid, inviter, 3)
    pump.drain()
    assert rewards_of(api, cid, inviter) == [("m1", "issued", 500), ("m2", "issued", 2000)]
    for friend in friends:
        assert rewards_of(api, cid, friend) == [("invitee", "issued", 300)]


def test_replayed_batches_and_posts_issue_nothing_twice(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {"milestones": [{"invites": 2, "reward": coupon("Gift", 1000)}], "invitee_reward": coupon("Hi", 100)}
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="inviter")[1]
    for _ in range(3):
        friends = invite_friends(api, cid, inviter, 2)
    deliver_every_batch_twice(pump)
    pump.drain()
    assert rewards_of(api, cid, inviter) == [("m1", "issued", 1000)]
    assert [rewards_of(api, cid, f) for f in friends] == [[("invitee", "issued", 100)]] * 2


def test_per_participant_cap_stops_the_ladder(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {
        "milestones": [{"invites": 1, "reward": coupon("A", 100)}, {"invites": 2, "reward": coupon("B", 200)}],
        "per_participant_cap": 1,
    }
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="capped")[1]
    invite_friends(api, cid, inviter, 3)
    pump.drain()
    assert rewards_of(api, cid, inviter) == [("m1", "issued", 100)]


def test_decay_pays_a_share_after_n_invites(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {
        "milestones": [{"invites": 1, "reward": coupon("A", 1000)}, {"invites": 2, "reward": coupon("B", 1000)}],
        "decay": {"after_invites": 1, "percent": 40},
    }
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="decay")[1]
    invite_friends(api, cid, inviter, 2)
    pump.drain()
    assert rewards_of(api, cid, inviter) == [("m1", "issued", 1000), ("m2", "issued", 400)]


def test_stock_runs_out_and_the_ladder_says_so(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": coupon("Rare", 500, stock=2)}]})
    inviters = [join(api, cid, external_id=f"inviter-{i}")[1] for i in range(4)]
    for inviter in inviters:
        invite_friends(api, cid, inviter, 1)
    pump.drain()
    outcomes = sorted(rewards_of(api, cid, i)[0][1] for i in inviters)
    assert outcomes == ["issued", "issued", "unavailable", "unavailable"]
    every = [r for i in inviters for r in api.call("GET", f"/v1/campaigns/{cid}/me", token=i["token"])[1]["rewards"]]
    unavailable = [r for r in every if r["status"] == "unavailable"]
    assert len(unavailable) == 2 and all(r["reason"] == "this reward has run out" for r in unavailable)
    assert {r["reason_code"] for r in unavailable} == {"STOCK_EXHAUSTED"}
    assert {r["reason_code"] for r in every if r["status"] == "issued"} == {None}


def test_budget_caps_what_is_spent(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {"milestones": [{"invites": 1, "reward": coupon("Cash-ish", 500)}]}
    cid = ladder_campaign(api, tenant, rules, budget_fen=1000)
    inviters = [join(api, cid, external_id=f"b-{i}")[1] for i in range(3)]
    for inviter in inviters:
        invite_friends(api, cid, inviter, 1)
    pump.drain()
    assert sorted(rewards_of(api, cid, i)[0][1] for i in inviters) == ["issued", "issued", "unavailable"]
    every = [r for i in inviters for r in api.call("GET", f"/v1/campaigns/{cid}/me", token=i["token"])[1]["rewards"]]
    spent = [(r["reason"], r["reason_code"]) for r in every if r["status"] == "unavailable"]
    assert spent == [("the campaign's reward budget is spent", "BUDGET_EXHAUSTED")]


def test_300_grants_racing_for_a_stock_of_50_issue_exactly_50(api: Api, tenant: Tenant) -> None:
    from chalicelib.campaigns import store as campaign_store
    from chalicelib.referral import rewards
    from chalicelib.referral.rules.rewards import Grant

    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": coupon("Flash", 100, stock=50)}]})
    rec = campaign_store.get(cid)
    assert rec is not None
    grant = Grant(rule="m1", type="coupon", name="Flash", value_fen=100, points=0, stock_limited=True)
    now = datetime.now(UTC)
    prefix = uuid.uuid4().hex[:5]  # participant codes of their own: the table is shared by the session
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda i: rewards.issue(rec, f"{prefix}{i:03d}", grant, now), range(300)))
    assert outcomes.count("issued") == 50
    assert outcomes.count("out_of_stock") == 250

    from chalicelib.referral.store import rewards as reward_store

    assert reward_store.stock_left(cid, ["m1"]) == {"m1": 0}


def test_republishing_does_not_refill_stock(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = ladder_campaign(api, tenant, {"milestones": [{"invites": 1, "reward": coupon("One", 100, stock=1)}]})
    invite_friends(api, cid, join(api, cid, external_id="first")[1], 1)
    pump.drain()
    api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)
    api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)

    from chalicelib.referral.store import rewards as reward_store

    assert reward_store.stock_left(cid, ["m1"]) == {"m1": 0}
