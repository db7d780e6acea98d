"""Joining, invite links, attribution and inviter progress through the stream."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.referral.store import participants as participant_store
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, campaign_body, join, live_campaign, window
from tests.integration.conftest import deliver_every_batch_twice


def test_join_returns_code_links_and_token(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    status, body = join(api, cid, external_id="wx-openid-1", nickname="小明")
    assert status == 201
    code = body["invite_code"]
    assert len(code) == 8 and body["participant_id"] == code
    assert body["invite_url"].endswith(f"/v1/i/{code}")
    assert body["poster_url"].endswith(f"/v1/posters/{cid}/{code}.jpg")
    assert body["token"].startswith("pt1.")
    assert body["progress"]["counted_invites"] == 0
    assert body["progress"]["next_milestone"]["invites"] == 1


def test_repeated_join_returns_the_same_participant(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    first = join(api, cid, external_id="same-user")
    again = join(api, cid, external_id="same-user", nickname="changed")
    assert (first[0], again[0]) == (201, 200)
    assert again[1]["invite_code"] == first[1]["invite_code"]
    assert again[1]["joined_at"] == first[1]["joined_at"]


def test_the_same_person_has_different_codes_in_different_campaigns(api: Api, tenant: Tenant) -> None:
    a, b = live_campaign(api, tenant), live_campaign(api, tenant)
    assert join(api, a, external_id="u1")[1]["invite_code"] != join(api, b, external_id="u1")[1]["invite_code"]


def test_joining_is_refused_outside_the_window(api: Api, tenant: Tenant, clock: Clock) -> None:
    upcoming = live_campaign(api, tenant, **window(start_in=timedelta(days=1)))
    status, body = join(api, upcoming)
    assert (status, body["error"]["code"]) == (409, "CAMPAIGN_NOT_STARTED")
    paused = live_campaign(api, tenant)
    api.call("POST", f"/v1/admin/campaigns/{paused}/pause", token=tenant.owner_token)
    status, body = join(api, paused)
    assert (status, body["error"]["code"]) == (409, "CAMPAIGN_PAUSED")
    ended = live_campaign(api, tenant)
    api.call("POST", f"/v1/admin/campaigns/{ended}/end", token=tenant.owner_token)
    status, body = join(api, ended)
    assert (status, body["error"]["code"]) == (410, "CAMPAIGN_ENDED")


def test_drafts_and_unknown_campaigns_cannot_be_joined(api: Api, tenant: Tenant) -> None:
    _, draft = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    for cid in (draft["campaign_id"], "cmp_doesnotexist"):
        status, body = join(api, cid)
        assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_join_input_is_validated(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    # A signed campaign (the default) takes the id from an assertion only: none, no join.
    status, body = api.call("POST", f"/v1/campaigns/{cid}/participants", {"nickname": "no id"})
    assert (status, body["error"]["code"]) == (401, "IDENTITY_REQUIRED")
    status, body = join(api, cid, admin=True)
    assert (status, body["error"]["code"]) == (422, "UNKNOWN_FIELD")
    status, body = join(api, cid, phone="call me")
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")


def test_short_link_records_the_click_and_redirects_with_the_ref(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant, landing_url="https://shop.example.cn/fission?lang=zh")
    code = join(api, cid)[1]["invite_code"]
    response = api.client.http.get(f"/v1/i/{code}?ch=wechat_moments")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("shop.example.cn", "/fission")
    query = parse_qs(target.query)
    click = query.pop("click")
    assert query == {"lang": ["zh"], "campaign": [cid], "ref": [code], "ch": ["wechat_moments"]}
    assert len(click) == 1 and click[0].startswith("c1.")

    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    pages = (
        db.dynamodb_client()
        .get_paginator("scan")
        .paginate(  # a scan page stops at 1 MB of a shared table
            TableName=get_settings().table_name,
            FilterExpression="#e = :click AND code = :code",
            ExpressionAttributeNames={"#e": "entity"},
            ExpressionAttributeValues={":click": {"S": "click"}, ":code": {"S": code}},
        )
    )
    clicks = [item for page in pages for item in page["Items"]]
    assert len(clicks) == 1 and clicks[0]["channel"]["S"] == "wechat_moments" and "expires_at" in clicks[0]


def test_unknown_invite_code_is_a_json_404(api: Api) -> None:
    for code in ("zzzzzzzz", "not-a-code!"):
        status, body = api.call("GET", f"/v1/i/{code}")
        assert (status, body["error"]["code"]) == (404, "INVITE_CODE_NOT_FOUND")


def test_me_needs_the_participant_token_of_that_campaign(api: Api, tenant: Tenant) -> None:
    cid, other = live_campaign(api, tenant), live_campaign(api, tenant)
    token = join(api, cid)[1]["token"]
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me", token=token)
    assert status == 200 and "token" not in body and body["progress"]["counted_invites"] == 0
    assert api.call("GET", f"/v1/campaigns/{cid}/me")[1]["error"]["code"] == "PARTICIPANT_TOKEN_REQUIRED"
    assert api.call("GET", f"/v1/campaigns/{other}/me", token=token)[1]["error"]["code"] == "WRONG_CAMPAIGN"
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me", token=forged)
    assert (status, body["error"]["code"]) == (401, "INVALID_PARTICIPANT_TOKEN")


def test_invitees_count_for_their_inviter_once_the_stream_runs(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    inviter = join(api, cid, external_id="inviter")[1]
    for i in range(3):
        assert join(api, cid, external_id=f"friend-{i}", ref=inviter["invite_code"])[0] == 201
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
    assert me["progress"]["counted_invites"] == 3
    assert me["progress"]["milestones_reached"] == 2  # the ladder is 1 and 3
    assert me["progress"]["next_milestone"] is None


def test_a_join_reads_its_inviters_attribution_fields_but_not_their_invitee_sets(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = live_campaign(api, tenant)
    inviter = join(api, cid, external_id="inviter", device_id="dev-inviter")[1]
    for i in range(3):
        assert join(api, cid, external_id=f"friend-{i}", ref=inviter["invite_code"])[0] == 201
    pump.drain()
    full = participant_store.get(inviter["invite_code"])
    read = participant_store.get_inviter(inviter["invite_code"])
    assert full is not None and read is not None and len(full.counted) == 3
    assert (read.cid, read.tid, read.code, read.identity, read.joined_at, read.device_id, read.depth) == (
        full.cid, full.tid, full.code, full.identity, full.joined_at, full.device_id, full.depth
    )  # fmt: skip
    assert read.counted == set() and read.nickname is None


def test_replayed_batches_and_repeated_joins_count_each_invitee_once(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = live_campaign(api, tenant)
    inviter = join(api, cid, external_id="inviter")[1]
    for _attempt in range(3):  # every POST three times
        for i in range(4):
            join(api, cid, external_id=f"friend-{i}", ref=inviter["invite_code"])
    delivered = deliver_every_batch_twice(pump)
    pump.drain()
    assert delivered
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
    assert me["progress"]["counted_invites"] == 4


def test_a_repeat_join_cannot_switch_inviter(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    first = join(api, cid, external_id="first-inviter")[1]
    second = join(api, cid, external_id="second-inviter")[1]
    join(api, cid, external_id="friend", ref=first["invite_code"])
    status, again = join(api, cid, external_id="friend", ref=second["invite_code"])
    assert status == 200 and again["invited_by"] == first["invite_code"]
    pump.drain()
    counted = [
        api.call("GET", f"/v1/campaigns/{cid}/me", token=p["token"])[1]["progress"]["counted_invites"]
        for p in (first, second)
    ]
    assert counted == [1, 0]


@pytest.mark.parametrize("same", ["device_id", "phone"])
def test_self_invites_are_not_credited(api: Api, tenant: Tenant, pump: StreamPump, same: str) -> None:
    cid = live_campaign(api, tenant)
    shared = {"device_id": "device-abc"} if same == "device_id" else {"phone": "13812345678"}
    inviter = join(api, cid, external_id="alt-1", **shared)[1]
    status, invitee = join(api, cid, external_id="alt-2", ref=inviter["invite_code"], **shared)
    assert status == 201 and invitee["invited_by"] is None
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
    assert me["progress"]["counted_invites"] == 0


def test_a_code_from_another_campaign_credits_nobody(api: Api, tenant: Tenant) -> None:
    a, b = live_campaign(api, tenant), live_campaign(api, tenant)
    outsider = join(api, a)[1]["invite_code"]
    status, body = join(api, b, ref=outsider)
    assert status == 201 and body["invited_by"] is None


def test_follow_qualified_invites_wait_for_the_qualifying_action(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant, "poster")  # the poster rules qualify on `follow`
    inviter = join(api, cid, external_id="poster-owner")[1]
    join(api, cid, external_id="friend", ref=inviter["invite_code"])
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
    assert me["progress"]["counted_invites"] == 0


@pytest.mark.parametrize("token", ["pt1.é.ü", "pt1.e30.x", "pt1..", "garbage"])
def test_malformed_participant_tokens_are_401_not_500(api: Api, tenant: Tenant, token: str) -> None:
    cid = live_campaign(api, tenant)
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me", headers={"Authorization": f"Bearer {token}"})
    assert (status, body["error"]["code"]) == (401, "INVALID_PARTICIPANT_TOKEN")


def click(api: Api, code: str) -> str:
    """Open `code`'s short link and return the click token the landing page is sent."""
    response = api.client.http.get(f"/v1/i/{code}")
    assert response.status_code == 302
    return str(parse_qs(urlsplit(response.headers["Location"]).query)["click"][0])


def test_the_first_click_wins_over_a_later_one(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    a, b = (join(api, cid, external_id=name)[1]["invite_code"] for name in ("inviter-a", "inviter-b"))
    first = click(api, a)
    clock.advance(hours=2)
    second = click(api, b)
    status, body = join(api, cid, external_id="friend", clicks=[second, first], ref=b)
    assert status == 201 and body["invited_by"] == a


def test_a_click_older_than_the_window_loses_to_a_fresh_one(api: Api, tenant: Tenant, clock: Clock) -> None:
    rules = {**campaign_body()["rules"], "attribution_window_hours": 24}
    cid = live_campaign(api, tenant, rules=rules)
    a, b = (join(api, cid, external_id=name)[1]["invite_code"] for name in ("inviter-a", "inviter-b"))
    stale = click(api, a)
    clock.advance(hours=30)
    fresh = click(api, b)
    status, body = join(api, cid, external_id="friend", clicks=[stale, fresh])
    assert status == 201 and body["invited_by"] == b


def test_the_default_window_is_a_week(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)  # its rules do not set attribution_window_hours
    a = join(api, cid, external_id="inviter-a")[1]["invite_code"]
    token = click(api, a)
    clock.advance(hours=167)
    assert join(api, cid, external_id="within", clicks=[token])[1]["invited_by"] == a
    clock.advance(hours=2)
    assert join(api, cid, external_id="too-late", clicks=[token])[1]["invited_by"] is None


def test_only_expired_clicks_credit_nobody_and_say_why(api: Api, tenant: Tenant, clock: Clock) -> None:
    rules = {**campaign_body()["rules"], "attribution_window_hours": 1}
    cid = live_campaign(api, tenant, rules=rules)
    a = join(api, cid, external_id="inviter-a")[1]["invite_code"]
    token = click(api, a)
    clock.advance(hours=2)
    status, body = join(api, cid, external_id="friend", clicks=[token])
    assert status == 201 and body["invited_by"] is None

    from chalicelib.referral.store import participants as store

    record = store.get(body["invite_code"], consistent=True)
    assert record is not None and record.attribution == "click_expired"


def test_a_forged_click_is_ignored(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    a, b = (join(api, cid, external_id=name)[1]["invite_code"] for name in ("inviter-a", "inviter-b"))
    real = click(api, b)
    prefix, _, at, tag = real.split(".")
    backdated = f"{prefix}.{a}.{int(at) - 3600}.{tag}"  # A's code and an earlier time, B's signature
    status, body = join(api, cid, external_id="friend", clicks=[backdated, "c1.garbage", real])
    assert status == 201 and body["invited_by"] == b


def test_a_click_wins_over_the_ref(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    a, b = (join(api, cid, external_id=name)[1]["invite_code"] for name in ("inviter-a", "inviter-b"))
    status, body = join(api, cid, external_id="friend", clicks=[click(api, a)], ref=b)
    assert status == 201 and body["invited_by"] == a


def test_a_self_click_is_ignored_for_the_next_valid_touch(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    own = join(api, cid, external_id="friend-alt", device_id="device-xyz")[1]["invite_code"]
    b = join(api, cid, external_id="inviter-b")[1]["invite_code"]
    mine = click(api, own)
    clock.advance(minutes=5)
    status, body = join(api, cid, external_id="friend", device_id="device-xyz", clicks=[mine], ref=b)
    assert status == 201 and body["invited_by"] == b


def test_a_click_on_another_campaigns_link_is_ignored(api: Api, tenant: Tenant) -> None:
    cid, other = live_campaign(api, tenant), live_campaign(api, tenant)
    outsider = join(api, other, external_id="outsider")[1]["invite_code"]
    status, body = join(api, cid, external_id="friend", clicks=[click(api, outsider)])
    assert status == 201 and body["invited_by"] is None


def test_a_repeat_join_with_an_earlier_click_keeps_the_first_inviter(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    a, b = (join(api, cid, external_id=name)[1]["invite_code"] for name in ("inviter-a", "inviter-b"))
    early = click(api, a)
    clock.advance(hours=1)
    assert join(api, cid, external_id="friend", ref=b)[1]["invited_by"] == b
    status, again = join(api, cid, external_id="friend", clicks=[early])
    assert status == 200 and again["invited_by"] == b


def test_click_lists_are_bounded(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    for clicks in (["c1.x"] * 11, ["x" * 65]):
        status, body = join(api, cid, clicks=clicks)
        assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
