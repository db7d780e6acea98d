"""Assist mode: exact cuts to the target, one help per friend, limits, expiry, races and the prize once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator

from local.pump import StreamPump
from tests import contract
from tests.conftest import MODE_RULES, Api, Clock, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice

RULES = MODE_RULES["assist"]  # 10 helpers cut 10000 down to 100 fen, 100..2000 each


def assist_campaign(api: Api, tenant: Tenant, **rules: Any) -> str:
    return live_campaign(api, tenant, "assist", rules={**RULES, **rules})


def member(api: Api, cid: str, external_id: str, **fields: Any) -> dict[str, Any]:
    status, body = join(api, cid, external_id=external_id, **fields)
    assert status in (200, 201), body
    return dict(body)


def help_(api: Api, cid: str, owner: dict[str, Any], helper: dict[str, Any]) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/assists/{owner['invite_code']}", token=helper["token"])


@cache
def assist_schema() -> OAS31Validator:
    """The documented `Assist` schema (docs/openapi.yaml), so the answers and the document agree."""
    document = contract.document()
    schemas = json.loads(json.dumps(document["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    return OAS31Validator({**schemas["Assist"], "$defs": schemas})


def documented(body: Any) -> dict[str, Any]:
    assist_schema().validate(body)
    return dict(body)


def progress(api: Api, cid: str, owner: dict[str, Any]) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/assists/{owner['invite_code']}")
    assert status == 200, body
    return documented(body)


def rewards_of(api: Api, cid: str, participant: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])[1]
    return [(r["rule"], r["type"], r["name"], r["value_fen"]) for r in me["rewards"]]


def test_friends_cut_the_price_exactly_to_the_floor_and_the_owner_gets_the_deal(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = assist_campaign(api, tenant)
    owner = member(api, cid, "owner")
    before = progress(api, cid, owner)
    assert (before["status"], before["helpers"], before["current_price_fen"]) == ("in_progress", 0, 10000)
    assert before["expires_at"] is None and before["remaining"] == 9900

    cuts, remaining = [], 9900
    for i in range(10):
        status, body = help_(api, cid, owner, member(api, cid, f"friend-{i}"))
        assert status == 200, body
        documented(body)
        assert 100 <= body["cut"] <= 2000
        remaining -= body["cut"]
        assert (body["remaining"], body["helpers"], body["helpers_required"]) == (remaining, i + 1, 10)
        cuts.append(body["cut"])
    assert sum(cuts) == 9900 and remaining == 0
    assert body["status"] == "completed"

    after = progress(api, cid, owner)
    assert (after["status"], after["current_price_fen"], after["floor_price_fen"]) == ("completed", 100, 100)
    assert after["cuts"] == cuts and after["cut_so_far"] == 9900 and after["expires_at"] is not None

    status, body = help_(api, cid, owner, member(api, cid, "too-late"))
    assert (status, body["error"]["code"]) == (409, "ASSIST_COMPLETED")

    pump.drain()
    assert rewards_of(api, cid, owner) == [("assist", "custom", "Full-size serum", 100)]


def test_a_friend_helps_only_once_and_a_repeat_names_the_first_cut(api: Api, tenant: Tenant) -> None:
    cid = assist_campaign(api, tenant, helper_daily_limit=2)
    owner, friend = member(api, cid, "owner"), member(api, cid, "friend")
    first = help_(api, cid, owner, friend)[1]
    status, body = help_(api, cid, owner, friend)
    assert (status, body["error"]["code"]) == (409, "ALREADY_HELPED")
    assert body["error"]["details"]["cut"] == first["cut"]
    assert progress(api, cid, owner)["helpers"] == 1
    # The refused repeat did not use up the friend's second help of the day.
    assert help_(api, cid, member(api, cid, "other-owner"), friend)[0] == 200


@pytest.mark.parametrize("shared", [{}, {"device_id": "device-abc"}, {"phone": "13812345678"}])
def test_nobody_helps_their_own_assist(api: Api, tenant: Tenant, shared: dict[str, str]) -> None:
    cid = assist_campaign(api, tenant)
    owner = member(api, cid, "owner", **shared)
    helper = member(api, cid, "second-account", **shared) if shared else owner
    status, body = help_(api, cid, owner, helper)
    assert (status, body["error"]["code"]) == (403, "SELF_ASSIST")
    assert progress(api, cid, owner)["helpers"] == 0


def test_a_helper_has_a_daily_limit_in_the_campaigns_time_zone(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = assist_campaign(api, tenant, helper_daily_limit=2)
    owners = [member(api, cid, f"owner-{i}") for i in range(4)]
    helper = member(api, cid, "busy-friend")
    assert [help_(api, cid, o, helper)[0] for o in owners[:2]] == [200, 200]
    status, body = help_(api, cid, owners[2], helper)
    assert (status, body["error"]["code"], body["error"]["details"]["limit"]) == (429, "HELPER_DAILY_LIMIT", 2)
    assert progress(api, cid, owners[2])["helpers"] == 0
    clock.advance(days=1)
    assert help_(api, cid, owners[2], helper)[0] == 200


def test_an_assist_expires_after_its_time_limit(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = assist_campaign(api, tenant, time_limit_hours=2)
    owner = member(api, cid, "owner")
    assert help_(api, cid, owner, member(api, cid, "early"))[0] == 200
    clock.advance(hours=1, minutes=59)
    assert help_(api, cid, owner, member(api, cid, "in-time"))[0] == 200
    clock.advance(minutes=2)
    status, body = help_(api, cid, owner, member(api, cid, "late"))
    assert (status, body["error"]["code"]) == (410, "ASSIST_EXPIRED")
    view = progress(api, cid, owner)
    assert (view["status"], view["helpers"]) == ("expired", 2)


def test_unknown_owners_other_campaigns_and_other_modes(api: Api, tenant: Tenant) -> None:
    cid, other = assist_campaign(api, tenant), assist_campaign(api, tenant)
    helper = member(api, cid, "helper")
    outsider = member(api, other, "outsider")
    for code in ("zzzzzzzz", "not-a-code!", outsider["invite_code"]):
        for method in ("GET", "POST"):
            status, body = api.call(method, f"/v1/campaigns/{cid}/assists/{code}", token=helper["token"])
            assert (status, body["error"]["code"]) == (404, "ASSIST_NOT_FOUND"), (method, code)
    invite = live_campaign(api, tenant, "invite")
    status, body = api.call("GET", f"/v1/campaigns/{invite}/assists/{member(api, invite, 'x')['invite_code']}")
    assert (status, body["error"]["code"]) == (409, "WRONG_MODE")


def test_helping_needs_a_token_of_the_same_campaign_while_it_is_live(api: Api, tenant: Tenant) -> None:
    cid, other = assist_campaign(api, tenant), assist_campaign(api, tenant)
    owner = member(api, cid, "owner")
    path = f"/v1/campaigns/{cid}/assists/{owner['invite_code']}"
    assert api.call("POST", path)[1]["error"]["code"] == "PARTICIPANT_TOKEN_REQUIRED"
    status, body = api.call("POST", path, token=member(api, other, "stranger")["token"])
    assert (status, body["error"]["code"]) == (403, "WRONG_CAMPAIGN")
    api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)
    from chalicelib.campaigns import live

    live.forget()  # the status change reaches helps within the cache's 5 seconds
    status, body = help_(api, cid, owner, member(api, other, "x"))
    assert (status, body["error"]["code"]) == (409, "CAMPAIGN_PAUSED")


def test_a_hundred_friends_racing_take_exactly_the_required_slots(api: Api, tenant: Tenant) -> None:
    from chalicelib.core.clock import utcnow
    from chalicelib.core.config import get_settings
    from chalicelib.core.errors import FissionError
    from chalicelib.modes.assist import service as assists
    from chalicelib.table import db

    cid = assist_campaign(api, tenant)
    owner = member(api, cid, "owner")
    friends = [member(api, cid, f"racer-{i:03d}") for i in range(100)]

    def attempt(friend: dict[str, Any]) -> tuple[str, int]:
        # The service directly: Chalice's test client shares one `current_request` between threads.
        try:
            return "ok", int(
                assists.help_friend(cid, owner["invite_code"], f"Bearer {friend['token']}", utcnow())["cut"]
            )
        except FissionError as exc:
            return exc.code, 0

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(attempt, friends))
    winners = [cut for outcome, cut in results if outcome == "ok"]
    assert len(winners) == 10
    assert sorted({outcome for outcome, _ in results}) == ["ASSIST_COMPLETED", "ok"]
    assert sum(winners) == 9900 and all(100 <= c <= 2000 for c in winners)
    view = progress(api, cid, owner)
    assert (view["status"], view["helpers"], view["remaining"], view["current_price_fen"]) == ("completed", 10, 0, 100)
    assert sorted(view["cuts"]) == sorted(winners)

    # The losers' counted helps were given back.
    losers = [f for f, (outcome, _) in zip(friends, results, strict=True) if outcome != "ok"]
    from chalicelib.modes.assist.rules import help_day
    from chalicelib.table import keys

    day = help_day(utcnow(), "Asia/Shanghai")
    counts = [
        db.dynamodb_client().get_item(
            TableName=get_settings().table_name,
            Key={"PK": {"S": keys.participant_pk(f["invite_code"])}, "SK": {"S": keys.helps_sk(day)}},
            ConsistentRead=True,
        )["Item"]["helps"]["N"]
        for f in losers[:10]
    ]
    assert counts == ["0"] * 10


def test_an_unlock_prize_is_issued_once_even_when_batches_are_delivered_twice(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    prize = {"type": "coupon", "name": "Free coffee", "value_fen": 1800, "stock": 5}
    cid = live_campaign(api, tenant, "assist", rules={"goal": "unlock", "helpers_required": 3, "prize": prize})
    owner = member(api, cid, "owner")
    bodies = [help_(api, cid, owner, member(api, cid, f"friend-{i}"))[1] for i in range(3)]
    assert [(documented(b)["cut"], b["remaining"]) for b in bodies] == [(1, 2), (1, 1), (1, 0)]
    assert bodies[-1]["status"] == "completed" and bodies[-1]["prize"]["name"] == "Free coffee"
    delivered = deliver_every_batch_twice(pump)
    pump.drain()
    assert delivered
    assert rewards_of(api, cid, owner) == [("assist", "coupon", "Free coffee", 1800)]

    from chalicelib.referral.store import rewards as reward_store

    assert reward_store.stock_left(cid, ["assist"]) == {"assist": 4}
