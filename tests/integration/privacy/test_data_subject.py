"""Data-subject rights: a participant exports their data and erases themselves (docs/privacy.md)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Tenant, campaign_body, join, live_campaign, proof
from tests.integration.modes.test_orders_distribution import chain, commission, order, post_order
from tests.integration.posters.test_posters import fetch
from tests.integration.referral.test_follow_hooks import secret

ADDRESS = {"name": "王小明", "phone": "13700137000", "province": "上海市", "city": "上海市", "line": "漕溪北路 88 号"}
PERSONAL = ("nickname", "avatar_url", "phone_enc", "phone_hash", "device_id", "attribution")


def raw_table() -> tuple[Any, str]:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    return db.dynamodb_client(), get_settings().table_name


def raw_items(**query: Any) -> list[dict[str, Any]]:
    client, table = raw_table()
    return list(client.query(TableName=table, **query).get("Items", []))


def partition(code: str) -> list[dict[str, Any]]:
    return raw_items(KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": f"P#{code}"}})


def meta(code: str) -> dict[str, Any]:
    return next(i for i in partition(code) if i["SK"]["S"] == "META")


def whole_table_text() -> str:
    """Every item except the outbox (the merchant's own notifications, left on purpose), as text."""
    client, table = raw_table()
    found, start = [], None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        found += [
            i for i in page["Items"] if not i["PK"]["S"].startswith("OUT#") and not i["SK"]["S"].startswith("WHDEAD#")
        ]
        start = page.get("LastEvaluatedKey")
        if not start:
            return json.dumps(found, ensure_ascii=False)


def gift_campaign(api: Api, tenant: Tenant) -> str:
    body = campaign_body("invite")
    body["rules"] = {"milestones": [{"invites": 1, "reward": {"type": "gift", "name": "Tote bag", "value_fen": 3900}}]}
    return live_campaign(api, tenant, **{k: v for k, v in body.items() if k != "mode"})


def me(api: Api, cid: str, who: dict[str, Any]) -> tuple[int, Any]:
    return api.call("GET", f"/v1/campaigns/{cid}/me", token=who["token"])


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.fixture
def people(api: Api, tenant: Tenant, pump: StreamPump) -> dict[str, Any]:
    """Alice invites Bob, Bob invites Carol; both inviters earn a gift, and Bob claims his with an address."""
    cid = gift_campaign(api, tenant)
    names = {who: unique(who) for who in ("alice", "bob", "carol")}
    alice = join(api, cid, external_id=unique("ext-a"), nickname=names["alice"], phone="13800138000")[1]
    bob = join(
        api, cid, external_id=unique("ext-b"), nickname=names["bob"], phone="13900139000", device_id=unique("dev"),
        avatar_url=f"http://127.0.0.1:9/{names['bob']}-avatar.png", ref=alice["invite_code"],
    )[1]  # fmt: skip
    carol = join(api, cid, external_id=unique("ext-c"), nickname=names["carol"], ref=bob["invite_code"])[1]
    pump.drain()
    rid = me(api, cid, bob)[1]["rewards"][0]["id"]
    address = {**ADDRESS, "line": unique("漕溪北路 88 号 ")}
    claimed = api.call("POST", f"/v1/rewards/{rid}/claim", {"address": address}, token=bob["token"],
                       headers=proof(api, bob["token"]))  # fmt: skip
    assert claimed[0] == 200
    return {"cid": cid, "alice": alice, "bob": bob, "carol": carol, "names": names, "address": address, "rid": rid}


def test_export_holds_exactly_the_persons_own_data(api: Api, people: dict[str, Any]) -> None:
    bob, names = people["bob"], people["names"]
    headers = {"Authorization": f"Bearer {bob['token']}", **proof(api, bob["token"])}
    response = api.client.http.request("POST", "/v1/me/export", headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert body["format"] == "fission.data-subject-export.v1"
    assert body["campaign"]["campaign_id"] == people["cid"]
    person = body["participant"]
    assert (person["invite_code"], person["nickname"], person["phone"]) == (
        bob["invite_code"],
        names["bob"],
        "13900139000",
    )
    assert person["invited_by"] == people["alice"]["invite_code"] and person["counted_invites"] == 1
    [gift] = body["rewards"]
    assert (gift["status"], gift["claim"]) == ("claimed", people["address"])
    text = json.dumps(body, ensure_ascii=False)
    for other in ("alice", "carol"):
        assert names[other] not in text
    assert "13800138000" not in text and people["carol"]["invite_code"] not in text
    # Read-only: a repeat answers the same apart from the time.
    again = api.call("POST", "/v1/me/export", token=bob["token"], headers=proof(api, bob["token"]))[1]
    assert {**again, "exported_at": None} == {**body, "exported_at": None}


def test_erasure_strips_every_personal_field_and_keeps_the_books(
    api: Api, people: dict[str, Any], pump: StreamPump
) -> None:
    from chalicelib.campaigns import store as campaigns
    from chalicelib.posters import service as posters
    from chalicelib.referral.store import participants

    cid, alice, bob, names = people["cid"], people["alice"], people["bob"], people["names"]
    assert fetch(api, f"/v1/posters/{cid}/{bob['invite_code']}.jpg").status_code == 200
    rec, record = campaigns.get(cid), participants.get(bob["invite_code"])
    assert rec is not None and record is not None
    poster_keys = posters.cached_keys(rec, record)
    from chalicelib.posters import cache

    assert any(cache.get_cache().get(k) for k in poster_keys)
    alice_before = me(api, cid, alice)[1]
    board_before = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]

    status, body = api.call("DELETE", "/v1/me", token=bob["token"], headers=proof(api, bob["token"]))
    assert status == 200 and body["erased"] is True and body["erased_at"]
    assert api.call("DELETE", "/v1/me", token=bob["token"], headers=proof(api, bob["token"])) == (
        200,
        body,
    )  # idempotent
    pump.drain()  # the tombstone's change passes through the stream harmlessly

    tombstone = meta(bob["invite_code"])
    assert not set(PERSONAL) & set(tombstone)
    assert tombstone["erased_at"]["S"] == body["erased_at"] and "poster_keys" not in tombstone
    kept = ("code", "cid", "tid", "identity", "inviter", "joined_at", "qualified_at", "depth", "counted", "GSI2PK")
    assert set(kept) <= set(tombstone)
    assert all("claim_enc" not in i for i in partition(bob["invite_code"]))
    text = whole_table_text()
    for secret_text in (names["bob"], people["address"]["line"], "13900139000"):
        assert secret_text not in text
    assert names["alice"] in text  # nobody else's data went
    assert not any(cache.get_cache().get(k) for k in poster_keys)

    # The inviter keeps the credit; the board keeps Bob's score but not his name.
    assert me(api, cid, alice)[1] == alice_before
    board = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]
    assert [e["score"] for e in board["items"]] == [e["score"] for e in board_before["items"]]
    assert "*" in [e["nickname"] for e in board["items"]]

    # Every read path refuses the erased participant.
    assert me(api, cid, bob)[1]["error"]["code"] == "PARTICIPANT_ERASED"
    assert me(api, cid, bob)[0] == 410
    assert api.call("POST", "/v1/me/export", token=bob["token"], headers=proof(api, bob["token"]))[0] == 410
    poster = api.call("GET", f"/v1/posters/{cid}/{bob['invite_code']}.jpg", headers={"Accept": "*/*"})
    assert (poster[0], poster[1]["error"]["code"]) == (410, "PARTICIPANT_ERASED")
    assert api.call("GET", f"/v1/i/{bob['invite_code']}")[0] == 410
    claim = api.call("POST", f"/v1/rewards/{people['rid']}/claim", {"address": ADDRESS}, token=bob["token"],
                     headers=proof(api, bob["token"]))  # fmt: skip
    assert (claim[0], claim[1]["error"]["code"]) == (410, "PARTICIPANT_ERASED")


def test_a_rejoin_after_erasure_is_refused(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    external = unique("ext")
    joined = join(api, cid, external_id=external, nickname="再来一次")[1]
    assert api.call("DELETE", "/v1/me", token=joined["token"], headers=proof(api, joined["token"]))[0] == 200
    status, body = join(api, cid, external_id=external, nickname="再来一次")
    assert (status, body["error"]["code"]) == (409, "PARTICIPANT_ERASED")
    assert "nickname" not in meta(joined["invite_code"])
    # The same person may still join another campaign: the identity hash is per campaign.
    assert join(api, live_campaign(api, tenant), external_id=external)[0] == 201


def test_a_crash_mid_erasure_is_completed_by_the_retry(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.core.errors import Unavailable
    from chalicelib.referral import leaderboard

    cid, bob, names = people["cid"], people["bob"], people["names"]

    def down(*args: Any) -> None:
        raise Unavailable("the table is unavailable; retry", code="STORE_UNAVAILABLE")

    monkeypatch.setattr(leaderboard, "hide_nickname", down)
    assert api.call("DELETE", "/v1/me", token=bob["token"], headers=proof(api, bob["token"]))[0] == 503
    half = meta(bob["invite_code"])
    assert "erasing_at" in half and "erased_at" not in half and not set(PERSONAL) & set(half)
    assert me(api, cid, bob)[0] == 410  # a tombstone from the first step on
    assert names["bob"] in whole_table_text()  # the board still has it

    monkeypatch.undo()
    status, body = api.call("DELETE", "/v1/me", token=bob["token"], headers=proof(api, bob["token"]))
    assert status == 200 and body["erased_at"] == half["erasing_at"]["S"]
    assert names["bob"] not in whole_table_text() and people["address"]["line"] not in whole_table_text()


def test_distribution_ledgers_stay_whole_and_orders_are_pseudonymised(api: Api, tenant: Tenant) -> None:
    cid, top, mid, buyer = chain(api, tenant)
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "buyer", "o-privacy"))[0] == 200
    exported = api.call("POST", "/v1/me/export", token=buyer["token"], headers=proof(api, buyer["token"]))[1]
    assert [(o["order_id"], o["external_id"], o["amount_fen"]) for o in exported["orders"]] == [
        ("o-privacy", "buyer", 10_000)
    ]
    earned = api.call("POST", "/v1/me/export", token=mid["token"], headers=proof(api, mid["token"]))[1]["commission"]
    assert earned["balance"]["pending_fen"] == 1000 and [e["order_id"] for e in earned["entries"]] == ["o-privacy"]
    before = commission(api, cid, top)

    for who in (mid, buyer):
        assert api.call("DELETE", "/v1/me", token=who["token"], headers=proof(api, who["token"]))[0] == 200
    assert commission(api, cid, top) == before
    ledger = [i for i in partition(mid["invite_code"]) if i["SK"]["S"].startswith("LEDGER#")]
    assert [int(i["amount_fen"]["N"]) for i in ledger] == [1000]
    [stored] = raw_items(
        KeyConditionExpression="PK = :pk AND SK = :sk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant.tid}#O#o-privacy"}, ":sk": {"S": "META"}},
    )
    assert stored["external_id"]["S"].startswith("erased:") and int(stored["amount"]["N"]) == 10_000
    # A refund of the old order still claws back; a new order of the erased buyer is refused.
    refund = post_order(api, tenant, key, order(cid, "buyer", "o-privacy", status="refunded"))
    assert refund[0] == 200
    status, body = post_order(api, tenant, key, order(cid, "buyer", "o-after"))
    assert (status, body["error"]["code"]) == (410, "PARTICIPANT_ERASED")


def test_group_members_lose_the_nickname_copy(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant, "group_buy")
    leader = join(api, cid, external_id=unique("lead"), nickname="团长大人")[1]
    friend = join(api, cid, external_id=unique("mate"), nickname="好朋友")[1]
    status, group = api.call("POST", f"/v1/campaigns/{cid}/groups", {"size": 3}, token=leader["token"])
    assert status == 201, group
    gid = group["group_id"]
    assert api.call("POST", f"/v1/groups/{gid}/members", token=friend["token"])[0] == 200
    exported = api.call("POST", "/v1/me/export", token=leader["token"], headers=proof(api, leader["token"]))[1]
    assert [(g["group_id"], g["leader"]) for g in exported["groups"]] == [(gid, True)]

    assert api.call("DELETE", "/v1/me", token=leader["token"], headers=proof(api, leader["token"]))[0] == 200
    members = raw_items(KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": f"G#{gid}"}})
    assert [i["nickname"]["S"] for i in members if "nickname" in i] == ["好朋友"]
    view = api.call("GET", f"/v1/groups/{gid}")[1]
    assert sorted(m["nickname"] for m in view["members"]) == ["*", "好**"]
    status, body = api.call("POST", f"/v1/campaigns/{cid}/groups", {"size": 3}, token=leader["token"])
    assert (status, body["error"]["code"]) == (410, "PARTICIPANT_ERASED")


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/me/export"), ("DELETE", "/v1/me")])
def test_the_participant_token_is_required(api: Api, method: str, path: str) -> None:
    status, body = api.call(method, path)
    assert (status, body["error"]["code"]) == (403, "PARTICIPANT_TOKEN_REQUIRED")
    status, body = api.call(method, path, token="pt1.bogus.token")
    assert (status, body["error"]["code"]) == (401, "INVALID_PARTICIPANT_TOKEN")
