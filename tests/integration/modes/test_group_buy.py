"""Group buying: open, join, full, deadline failure, leader perk, under concurrency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant, campaign_body, join, live_campaign


def group_campaign(api: Api, tenant: Tenant, **rules: Any) -> str:
    body = campaign_body("group_buy")
    body["rules"] = {**body["rules"], "leader_perk": {"type": "coupon", "name": "Leader 10 off", "value_fen": 1000},
                     **rules}  # fmt: skip
    return live_campaign(api, tenant, "group_buy", **{k: v for k, v in body.items() if k != "mode"})


def participant(api: Api, cid: str, name: str | None = None) -> dict[str, Any]:
    status, body = join(api, cid, external_id=name or f"u-{uuid.uuid4().hex[:8]}", nickname=name or "买家")
    assert status == 201, body
    return dict(body)


def open_group(api: Api, cid: str, leader: dict[str, Any], **body: Any) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/groups", body, token=leader["token"])


def join_group(api: Api, gid: str, who: dict[str, Any]) -> tuple[int, Any]:
    return api.call("POST", f"/v1/groups/{gid}/members", {}, token=who["token"])


def test_leader_opens_a_group_at_a_tier_price(api: Api, tenant: Tenant) -> None:
    cid = group_campaign(api, tenant)
    leader = participant(api, cid, "团长")
    status, group = open_group(api, cid, leader, size=3)
    assert status == 201
    assert (group["size"], group["price_fen"], group["members_count"], group["status"]) == (3, 6900, 1, "open")
    assert group["members"] == [
        {"nickname": "团*", "leader": True, "joined_at": group["members"][0]["joined_at"], "system": False}
    ]
    assert group["system_members"] == 0
    assert 23 * 3600 < group["seconds_left"] <= 24 * 3600
    # The link a leader shares opens the landing page on this group, crediting the leader.
    share = urlsplit(group["share_url"])
    assert share.path == "/l/"
    assert parse_qs(share.query) == {"campaign": [cid], "group": [group["group_id"]], "ref": [leader["invite_code"]]}
    status, error = open_group(api, cid, participant(api, cid), size=4)
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")


def test_a_leader_has_one_open_group_at_a_time(api: Api, tenant: Tenant) -> None:
    cid = group_campaign(api, tenant)
    leader = participant(api, cid)
    assert open_group(api, cid, leader)[0] == 201
    status, error = open_group(api, cid, leader)
    assert (status, error["error"]["code"]) == (409, "TOO_MANY_OPEN_GROUPS")


def test_group_fills_succeeds_and_takes_no_one_else(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = group_campaign(api, tenant)
    leader = participant(api, cid)
    gid = open_group(api, cid, leader, size=3)[1]["group_id"]
    friend = participant(api, cid)
    assert join_group(api, gid, friend)[0] == 200
    status, error = join_group(api, gid, friend)
    assert (status, error["error"]["code"]) == (409, "ALREADY_MEMBER")
    status, full = join_group(api, gid, participant(api, cid))
    assert status == 200 and full["status"] == "succeeded" and full["members_count"] == 3
    status, error = join_group(api, gid, participant(api, cid))
    assert (status, error["error"]["code"]) == (409, "GROUP_FULL")

    pump.drain()
    pump.drain()  # a second pass changes nothing
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=leader["token"])[1]
    assert [(r["name"], r["status"]) for r in me["rewards"]] == [("Leader 10 off", "issued")]
    # The leader's slot is free again once the group has succeeded.
    assert open_group(api, cid, leader)[0] == 201


def test_40_parallel_joins_into_a_group_of_5_leave_exactly_5_members(api: Api, tenant: Tenant) -> None:
    cid = group_campaign(api, tenant)
    gid = open_group(api, cid, participant(api, cid), size=5)[1]["group_id"]
    joiners = [participant(api, cid) for _ in range(40)]

    from chalicelib.core.errors import FissionError
    from chalicelib.modes.group_buy import service as groups

    def attempt(who: dict[str, Any]) -> tuple[int, str | None]:
        # The service directly: the app object keeps one current request, as one Lambda container does.
        try:
            groups.join_group(gid, f"Bearer {who['token']}", datetime.now(UTC))
        except FissionError as exc:
            return exc.status, exc.code
        return 200, None

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, joiners))
    assert outcomes.count((200, None)) == 4  # the leader is the fifth member
    assert outcomes.count((409, "GROUP_FULL")) == 36
    group = api.call("GET", f"/v1/groups/{gid}")[1]
    assert group["members_count"] == 5 and len(group["members"]) == 5


def test_an_unfilled_group_fails_at_its_deadline_by_the_scheduler(
    api: Api, tenant: Tenant, clock: Clock, monkeypatch: pytest.MonkeyPatch, app: Any
) -> None:
    from chalicelib.entrypoints import events as handlers

    cid = group_campaign(api, tenant, deadline_hours=2)
    leader = participant(api, cid)
    gid = open_group(api, cid, leader, size=3)[1]["group_id"]
    join_group(api, gid, participant(api, cid))

    later = datetime.now(UTC) + timedelta(hours=3)
    clock.advance(hours=3)
    assert api.call("GET", f"/v1/groups/{gid}")[1]["status"] == "failed"  # shown before the scheduler runs
    status, error = join_group(api, gid, participant(api, cid))
    assert (status, error["error"]["code"]) == (410, "GROUP_EXPIRED")

    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    result = Scheduler(app, clock=lambda: later).invoke("fail_expired_groups")
    assert gid in result["failed"]
    assert Scheduler(app, clock=lambda: later).invoke("fail_expired_groups")["failed"] == []  # once only
    assert open_group(api, cid, leader)[0] == 201  # the leader's slot is free again


def test_group_routes_refuse_bad_input(api: Api, tenant: Tenant) -> None:
    cid = group_campaign(api, tenant)
    assert api.call("GET", "/v1/groups/grp_missing")[1]["error"]["code"] == "GROUP_NOT_FOUND"
    someone = participant(api, cid)
    status, error = api.call("POST", "/v1/groups/grp_missing/members", {}, token=someone["token"])
    assert (status, error["error"]["code"]) == (404, "GROUP_NOT_FOUND")
    status, error = api.call("POST", f"/v1/campaigns/{cid}/groups", {})
    assert (status, error["error"]["code"]) == (403, "PARTICIPANT_TOKEN_REQUIRED")
    invite_cid = live_campaign(api, tenant)
    status, error = open_group(api, invite_cid, participant(api, invite_cid))
    assert (status, error["error"]["code"]) == (409, "WRONG_MODE")
