"""WeChat subscription messages and WeCom customer messages as message channels (`provider: platform`), against the
local stand-in: consent arrives as an encrypted callback, each accept allows one send, and what leaves lands in the
stand-in's inbox."""

from __future__ import annotations

from typing import Any

from chalicelib.platforms import consents
from local.pump import StreamPump
from tests.conftest import Api, Tenant
from tests.integration.messaging.test_messages import NOON, deliver, enqueue, message, person
from tests.integration.platforms.conftest import APP_ID, CORP_ID, World

TEMPLATE = "tplRewardIssued01"
KEYWORDS = {"thing1": "{campaign}", "thing2": "{nickname}，奖励已发放"}
SUBSCRIPTIONS = {"provider": "platform", "templates": {"default": {"template_id": TEMPLATE, "data": KEYWORDS}}}


def configure(world: World, **channels: Any) -> None:
    status, body = world.api.call(
        "PUT", "/v1/admin/messaging", {"channels": channels}, token=world.tenant.stepped_token()
    )
    assert status == 200, body


def consent(world: World, visitor: str, **extra: Any) -> dict[str, Any]:
    """The visitor answers the account's subscription popup for TEMPLATE (accept unless `status` says otherwise)."""
    answer = {"app_id": APP_ID, "visitor": visitor, "template_id": TEMPLATE} | extra
    return dict(world.control("/_local/mp/consent", answer))


def test_one_consent_sends_one_subscription_message_and_the_next_is_suppressed_without_consent(
    world: World, pump: StreamPump
) -> None:
    configure(world, wechat=SUBSCRIPTIONS)
    given = consent(world, "bob")
    again = world.control("/_local/redeliver", {"id": given["delivery"]["id"]})  # the same callback, twice
    pump.drain()
    assert given["delivery"]["delivered"] and again["delivered"]
    assert consents.credits(world.tenant.tid, given["openid"], TEMPLATE) == 1  # the redelivery granted nothing

    bob = person(external_id=f"openid:{given['openid']}")
    first, second = enqueue(world.tenant, bob, "wechat"), enqueue(world.tenant, bob, "wechat")
    deliver(NOON)

    outcomes = sorted((message(mid).status, message(mid).reason) for mid in (first, second))
    assert outcomes == [("sent", None), ("suppressed", "no_consent")]
    inbox = world.inbox("bob")
    assert [(m["kind"], m["to"], m["content"]["template_id"]) for m in inbox] == [
        ("subscribe_message", given["openid"], TEMPLATE)
    ]
    data = inbox[0]["content"]["data"]
    assert data["thing1"]["value"] == "冬季邀请" and data["thing2"]["value"] == "小王，奖励已发放"
    assert inbox[0]["content"]["page"] == "https://shop.example.cn/c/1"


def test_a_refusal_from_wechat_is_permanent_and_voids_the_counted_consent(world: World, pump: StreamPump) -> None:
    configure(world, wechat=SUBSCRIPTIONS)
    oid = consent(world, "erin")["openid"]
    consent(world, "erin", status="reject", notify=False)  # refused on WeChat's side; our callback never came
    pump.drain()
    assert consents.credits(world.tenant.tid, oid, TEMPLATE) == 1

    mid = enqueue(world.tenant, person(external_id=f"openid:{oid}"), "wechat")
    no_openid = enqueue(world.tenant, person(external_id="merchant-42"), "wechat")
    deliver(NOON)

    refused, unknown = message(mid), message(no_openid)
    assert (refused.status, refused.attempts) == ("dead", 1) and "43101" in (refused.last_error or "")
    assert consents.credits(world.tenant.tid, oid, TEMPLATE) == 0
    assert unknown.status == "dead" and "no WeChat openid" in (unknown.last_error or "")
    assert world.inbox("erin") == []


def test_a_wecom_customer_message_reaches_the_customer_as_the_staff_member_who_added_them(
    world: World, pump: StreamPump
) -> None:
    world.standin.world.add_contact_way(CORP_ID, {"type": 1, "scene": 2, "state": "shop1", "user": ["xiaomei"]}, "")
    added = world.control("/_local/wecom/add", {"state": "shop1", "visitor": "bob"})
    pump.drain()
    configure(world, wecom={"provider": "platform", "sender": "fallback"})

    mid = enqueue(world.tenant, person(external_id=f"wecom:{added['external_userid']}"), "wecom")
    deliver(NOON)

    assert message(mid).status == "sent"
    sent = world.inbox("bob")[-1]
    assert (sent["kind"], sent["to"], sent["sender"]) == ("customer_message", added["external_userid"], "xiaomei")
    assert "冬季邀请" in sent["content"]["text"]["content"]


def test_the_platform_provider_needs_the_platform_connected_and_real_template_keywords(
    api: Api, tenant: Tenant
) -> None:
    token = tenant.stepped_token()

    def put(wechat: dict[str, Any]) -> tuple[int, Any]:
        return api.call("PUT", "/v1/admin/messaging", {"channels": {"wechat": wechat}}, token=token)

    unconnected = put(SUBSCRIPTIONS)
    bad_key = put(SUBSCRIPTIONS | {"templates": {"default": {"template_id": TEMPLATE, "data": {"title": "x"}}}})
    bad_variable = put(SUBSCRIPTIONS | {"templates": {"welcome": {"template_id": TEMPLATE, "data": {"thing1": "{x}"}}}})
    no_templates = put({"provider": "platform"})

    assert (unconnected[0], unconnected[1]["error"]["code"]) == (422, "CHANNEL_NOT_CONFIGURED")
    for status, body in (bad_key, bad_variable, no_templates):
        assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR"), body
    assert api.call("GET", "/v1/admin/messaging", token=tenant.owner_token)[1]["channels"]["wechat"] is None
