"""WeCom and official account callbacks end to end: the local stand-in (local/wechat/) sends them over HTTP to the
product (a small server in the test hands each request to the app), the stream joins and counts, the schedule
settles the retention window, and refused callbacks write nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib.platforms.rules.scenes import scene_for
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, join, live_campaign, proof
from tests.integration.platforms.conftest import AES_KEY, APP_ID, CORP_ID, SECRET, WECOM, World, connect

POINTS = {"type": "points", "name": "100 points", "points": 100}
RULES = {
    "qualifying_action": "follow",
    "layout_id": "classic",
    "milestones": [{"invites": 1, "reward": POINTS}, {"invites": 2, "reward": POINTS | {"name": "200 points"}}],
    "follow_retention_hours": 72,
}
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Encrypt>&c;</Encrypt></xml>'
)


def follow_campaign(world: World, **rules: Any) -> tuple[str, dict[str, Any]]:
    """A live follow campaign (72-hour retention unless `rules` say otherwise) and its first participant, who
    invites."""
    cid = live_campaign(world.api, world.tenant, "poster", rules=RULES | rules)
    status, inviter = join(world.api, cid, external_id="alice")
    assert status == 201, inviter
    return cid, inviter


def me(api: Api, cid: str, participant: dict[str, Any]) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])
    assert status == 200, body
    return dict(body)


def tagged(world: World, tag: str) -> int:
    """How many audience profiles carry `tag`."""
    status, found = world.api.call("GET", f"/v1/admin/participants?tag={tag}", token=world.tenant.owner_token)
    assert status == 200, found
    return len(found["items"])


def settle(app: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> int:
    from chalicelib.entrypoints import events as handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: moment)
    return int(Scheduler(app, clock=lambda: moment).invoke("settle_follows")["counted"])


def test_a_wecom_add_joins_waits_out_the_window_and_counts_unless_deleted(
    world: World, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, inviter = follow_campaign(world)
    state = scene_for(inviter["invite_code"])
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": state, "user": ["xiaomei"]}, "")
    pump.drain()

    stays = world.control("/_local/wecom/add", {"state": state, "visitor": "bob"})
    leaves = world.control("/_local/wecom/add", {"state": state, "visitor": "erin"})
    pump.drain()
    waiting = me(world.api, cid, inviter)["progress"]
    welcome = world.inbox("bob")

    assert stays["delivery"]["delivered"] and leaves["delivery"]["delivered"]
    assert world.answers == [(200, b"success")] * 2
    assert waiting["counted_invites"] == 0 and len(waiting["pending_follows"]) == 2
    assert [(m["kind"], m["sender"]) for m in welcome] == [("welcome", "xiaomei")]
    assert tagged(world, "from_wecom") == 2  # the source tag of the join's channel
    link = welcome[0]["content"]["attachments"][0]["link"]
    assert "/i/" in link["url"] and link["picurl"]

    deleted = world.control("/_local/wecom/delete", {"corp_id": CORP_ID, "visitor": "erin", "by": "customer"})
    again = world.control("/_local/redeliver", {"id": stays["delivery"]["id"]})  # bob's add, sent again
    pump.drain()
    assert deleted["delivery"]["delivered"] and again["delivered"]
    assert len(me(world.api, cid, inviter)["progress"]["pending_follows"]) == 1
    assert len(world.inbox("bob")) == 1  # the redelivery wrote nothing, so nothing was sent again

    assert settle(app, monkeypatch, datetime.now(UTC) + timedelta(hours=71)) == 0
    assert settle(app, monkeypatch, datetime.now(UTC) + timedelta(hours=72, minutes=1)) == 1
    pump.drain()
    after = me(world.api, cid, inviter)
    assert after["progress"]["counted_invites"] == 1 and after["progress"]["pending_follows"] == []
    assert [r["name"] for r in after["rewards"]] == ["100 points"]  # erin would have made it 2
    assert settle(app, monkeypatch, datetime.now(UTC) + timedelta(hours=73)) == 0


def _signed(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()  # noqa: S324


def test_forged_broken_or_misdirected_wecom_callbacks_are_refused_and_write_nothing(
    world: World, pump: StreamPump
) -> None:
    cid, inviter = follow_campaign(world)
    state = scene_for(inviter["invite_code"])
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": state, "user": ["xiaomei"]}, "")
    other = "ww00000000000000ff"  # another corp, same token and key, sending to this tenant's URL
    world.standin.register_corp({
        "corp_id": other, "secret": SECRET, "token": WECOM["callback_token"], "encoding_aes_key": AES_KEY,
        "callback_url": world.standin.world.corp(CORP_ID).callback_url,
    })  # fmt: skip
    world.standin.world.add_contact_way(other, {"type": 1, "scene": 2, "state": "x" + state, "user": ["xiaomei"]}, "")
    pump.drain()

    misdirected = world.control("/_local/wecom/add", {"state": "x" + state, "visitor": "bob"})
    genuine = world.standin.deliveries[-1]
    parts = urlsplit(genuine.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = world.post(parts.path, query | {"msg_signature": "0" * 40}, genuine.body)
    garbage = "bm90IGFuIEFFUyBibG9jayBhdCBhbGw="
    body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt>{garbage}</Encrypt></xml>".encode()
    signed = _signed(WECOM["callback_token"], query["timestamp"], query["nonce"], garbage)
    broken = world.post(parts.path, query | {"msg_signature": signed}, body)
    bomb = world.post(parts.path, query, BOMB)

    assert [a["status"] for a in misdirected["delivery"]["attempts"]] == [401]
    assert json.loads(world.answers[0][1])["error"]["code"] == "WRONG_RECEIVER"
    assert (forged[0], forged[1]["error"]["code"]) == (401, "INVALID_SIGNATURE")
    assert (broken[0], broken[1]["error"]["code"]) == (400, "INVALID_CIPHERTEXT")
    assert (bomb[0], bomb[1]["error"]["code"]) == (400, "INVALID_XML")
    assert pump.drain() == 0  # nothing was written


def test_an_official_account_follow_counts_after_the_window_and_an_unfollow_inside_it_does_not(
    world: World, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, inviter = follow_campaign(world)
    scene = {"scene": {"scene_str": scene_for(inviter["invite_code"])}}
    code = world.standin.world.create_qrcode(APP_ID, {"action_name": "QR_LIMIT_STR_SCENE", "action_info": scene}, "")
    pump.drain()

    for visitor in ("bob", "erin"):
        assert world.control("/_local/mp/subscribe", {"ticket": code.ticket, "visitor": visitor})["delivery"][
            "delivered"
        ]
    pump.drain()
    assert len(me(world.api, cid, inviter)["progress"]["pending_follows"]) == 2
    assert tagged(world, "from_wechat_oa") == 2
    assert world.control("/_local/mp/unsubscribe", {"app_id": APP_ID, "visitor": "erin"})["delivery"]["delivered"]
    pump.drain()
    genuine = world.standin.deliveries[-1]  # erin's unfollow, its signature broken
    parts = urlsplit(genuine.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = world.post(parts.path, query | {"msg_signature": "0" * 40}, genuine.body)
    assert pump.drain() == 0

    assert settle(app, monkeypatch, datetime.now(UTC) + timedelta(hours=72, minutes=1)) == 1
    pump.drain()
    progress = me(world.api, cid, inviter)["progress"]
    assert (progress["counted_invites"], progress["pending_follows"]) == (1, [])
    assert world.answers == [(200, b"success")] * 3
    assert (forged[0], forged[1]["error"]["code"]) == (401, "INVALID_SIGNATURE")


def test_a_tagged_campaign_marks_its_wecom_tag_on_each_contact_and_a_failed_mark_still_counts(
    world: World, pump: StreamPump
) -> None:
    cid, inviter = follow_campaign(world, wecom_tag="春季老带新", follow_retention_hours=0)
    state = scene_for(inviter["invite_code"])
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": state, "user": ["xiaomei"]}, "")
    pump.drain()

    bob = world.control("/_local/wecom/add", {"state": state, "visitor": "bob"})
    erin = world.control("/_local/wecom/add", {"state": state, "visitor": "erin"})
    pump.drain()
    world.control("/_local/limits", {"path": "/qyapi/cgi-bin/externalcontact/mark_tag", "calls": 0})
    ivan = world.control("/_local/wecom/add", {"state": state, "visitor": "ivan"})
    pump.drain()

    def tags(added: dict[str, Any]) -> list[str]:
        contact = world.standin.world.external_contact(CORP_ID, added["external_userid"])
        return [t["tag_name"] for t in contact["follow_user"][0]["tags"]]

    groups = world.standin.world.corp_tag_list(CORP_ID)
    calls = world.standin.world.calls
    assert (tags(bob), tags(erin), tags(ivan)) == (["春季老带新"], ["春季老带新"], [])
    assert [(g["group_name"], [t["name"] for t in g["tag"]]) for g in groups] == [("Fission", ["春季老带新"])]
    assert calls["/qyapi/cgi-bin/externalcontact/add_corp_tag"] == 1  # made once, then the cached id
    assert me(world.api, cid, inviter)["progress"]["counted_invites"] == 3  # ivan's unmarked tag blocks nothing
    # In Fission's audience the contacts carry the channel's source tag and the campaign.
    segment = urlencode({"segment": f"tag:from_wecom AND campaign:{cid}"})
    status, found = world.api.call("GET", f"/v1/admin/participants?{segment}", token=world.tenant.owner_token)
    assert status == 200 and len(found["items"]) == 3, found
    assert len(world.inbox("ivan")) == 1


@pytest.mark.parametrize(("new_only", "counted"), [(True, 0), (False, 1)])
def test_an_add_by_someone_already_a_contact_counts_only_when_new_contacts_are_not_required(
    world: World, pump: StreamPump, new_only: bool, counted: int
) -> None:
    cid, inviter = follow_campaign(world, follow_new_contacts_only=new_only, follow_retention_hours=0)
    state = scene_for(inviter["invite_code"])
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": state, "user": ["xiaomei"]}, "")
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": "shop", "user": ["xiaomei"]}, "")
    pump.drain()
    world.control("/_local/wecom/add", {"state": "shop", "visitor": "bob"})  # bob was the shop's contact first
    world.control("/_local/wecom/delete", {"corp_id": CORP_ID, "visitor": "bob", "by": "customer"})
    pump.drain()
    world.control("/_local/clock", {"advance": 2})  # a later CreateTime: WeCom's is in seconds

    world.control("/_local/wecom/add", {"state": state, "visitor": "bob"})
    pump.drain()  # no schedule runs: with no retention window the add counts at once

    progress = me(world.api, cid, inviter)["progress"]
    assert (progress["counted_invites"], progress["pending_follows"]) == (counted, [])


def test_the_consoles_url_checks_pass_and_a_bad_signature_is_refused(world: World) -> None:
    wecom = world.control("/_local/verify", {"corp_id": CORP_ID})
    wechat = world.control("/_local/verify", {"app_id": APP_ID})
    stamp = str(int(datetime.now(UTC).timestamp()))
    tid = world.tenant.tid
    forged_wecom = world.api.call(
        "GET", f"/v1/wecom/{tid}/callback?msg_signature={'0' * 40}&timestamp={stamp}&nonce=n1&echostr=YWJj"
    )
    forged_wechat = world.api.call(
        "GET", f"/v1/wechat/{tid}/callback?signature={'0' * 40}&timestamp={stamp}&nonce=n1&echostr=hello"
    )

    assert (wecom["ok"], wecom["answer"]) == (True, wecom["expected"])  # the decrypted echostr, not the ciphertext
    assert (wechat["ok"], wechat["answer"]) == (True, wechat["expected"])  # the official account's is plain
    assert (forged_wecom[0], forged_wecom[1]["error"]["code"]) == (401, "INVALID_SIGNATURE")
    assert (forged_wechat[0], forged_wechat[1]["error"]["code"]) == (401, "INVALID_SIGNATURE")


def test_erasure_deletes_the_contact_way_even_after_wecom_refused_once_and_the_qr_code_counts_for_nobody(
    world: World, pump: StreamPump
) -> None:
    from chalicelib.platforms import codes
    from chalicelib.platforms.store import codes as stored

    cid, inviter = follow_campaign(world)
    code, token = inviter["invite_code"], inviter["token"]
    connect(world.api, world.tenant, "wecom", {"staff_user_ids": ["xiaomei"]})
    who = codes.Participant(world.tenant.tid, cid, code)
    way, qr = codes.wecom_contact(who), codes.official_account_code(who)
    pump.drain()
    world.control("/_local/limits", {"path": "/qyapi/cgi-bin/externalcontact/del_contact_way", "calls": 0})

    first = world.api.call("DELETE", "/v1/me", token=token, headers=proof(world.api, token))
    left = stored.get(code, "wecom")
    world.control("/_local/limits", {"path": "/qyapi/cgi-bin/externalcontact/del_contact_way", "calls": None})
    again = world.api.call("DELETE", "/v1/me", token=token, headers=proof(world.api, token))

    assert first[0] == 200 and again == first  # WeCom refusing did not hold the erasure up
    assert left is not None and left.state == "deleting" and codes.existing_wecom_contact(code) is None
    assert stored.get(code, "wecom") is None and way.config_id not in world.standin.world.contact_ways
    assert codes.existing_official_account(code) == qr  # WeChat cannot delete it

    followed = world.control("/_local/mp/subscribe", {"ticket": qr.ticket, "visitor": "bob"})
    pump.drain()
    assert followed["delivery"]["delivered"] and world.answers[-1] == (200, b"success")
    assert tagged(world, "from_wechat_oa") == 0  # the erased participant's scene joined nobody
