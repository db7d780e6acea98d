"""The message outbox against DynamoDB Local: rules at delivery, channels, retries, opt-outs and the admin routes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign, standard_secret, verify_delivery
from tests.integration.messaging.test_outbound_webhooks import Receiver

# Noon and 22:00 in Shanghai (the tenants' default zone), on a day after anything other tests queue.
NOON = datetime(2031, 1, 6, 4, 0, tzinfo=UTC)
EVENING = datetime(2031, 1, 6, 14, 0, tzinfo=UTC)


@pytest.fixture
def good(tenant: Tenant) -> Iterator[Receiver]:
    receiver = Receiver(200, standard_secret(tenant.tid))
    yield receiver
    receiver.close()


@pytest.fixture
def failing(tenant: Tenant) -> Iterator[Receiver]:
    receiver = Receiver(500, standard_secret(tenant.tid))
    yield receiver
    receiver.close()


def person(**contact: Any) -> Any:
    from chalicelib.messaging.rules.messages import Recipient

    return Recipient(uid=f"u_{uuid.uuid4().hex[:24]}", nickname="小王", **contact)


def profiled_person(api: Api, tenant: Tenant, pump: StreamPump) -> Any:
    """A person with a profile in the tenant (operators act only on those): a participant, after the stream."""
    from chalicelib.messaging.rules.messages import Recipient

    joined = join(api, live_campaign(api, tenant))[1]
    pump.drain()
    status, body = api.call("GET", f"/v1/admin/participants?code={joined['invite_code']}", token=tenant.owner_token)
    assert status == 200 and len(body["items"]) == 1, body
    return Recipient(uid=body["items"][0]["uid"], nickname="小王")


_STEPPED: dict[str, str] = {}


def configure(api: Api, tenant: Tenant, **settings: Any) -> dict[str, Any]:
    """As the owner with a fresh step-up: a new channel endpoint needs one (docs/messaging.md)."""
    if tenant.tid not in _STEPPED:
        _STEPPED[tenant.tid] = tenant.totp_token()
    status, body = api.call("PUT", "/v1/admin/messaging", settings, token=_STEPPED[tenant.tid])
    assert status == 200, body
    return dict(body)


def enqueue(
    tenant: Tenant, who: Any, channel: str = "console", *, due: datetime = NOON, key: str | None = None,
    template: str | Mapping[str, str] = "welcome", endpoint: str | None = None,
) -> str:  # fmt: skip
    from chalicelib.messaging import messages

    mid = messages.enqueue(
        tenant.tid, who.uid, channel, template, {"campaign": "冬季邀请", "link": "https://shop.example.cn/c/1"},
        message_key=key or uuid.uuid4().hex, due=due, recipient=who, automation_id="auto_1", endpoint=endpoint,
    )  # fmt: skip
    assert mid is not None
    return mid


def deliver(moment: datetime) -> dict[str, int]:
    """Run delivery until nothing due is left (other tests' messages may share the runs)."""
    from chalicelib.messaging import messages

    total: dict[str, int] = {}
    for _ in range(20):
        counts = messages.deliver(moment)
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
        if sum(v for k, v in counts.items() if k != "skipped") == 0:
            break
    return total


def message(mid: str) -> Any:
    from chalicelib.messaging.store import messages as store

    item = store.get(mid)
    assert item is not None
    return item


def test_quiet_hours_hold_a_message_until_the_window_ends(api: Api, tenant: Tenant) -> None:
    configure(api, tenant, quiet_hours={"start": "21:00", "end": "09:00"})
    mid = enqueue(tenant, person(), due=EVENING)
    deliver(EVENING + timedelta(minutes=1))
    held = message(mid)
    assert (held.status, held.reason) == ("deferred", "quiet_hours")
    assert held.due_at == "2031-01-07T01:00:00Z"  # 09:00 the next morning in Shanghai
    deliver(datetime(2031, 1, 7, 0, 59, tzinfo=UTC))
    assert message(mid).status == "deferred"
    deliver(datetime(2031, 1, 7, 1, 0, 30, tzinfo=UTC))
    sent = message(mid)
    assert (sent.status, sent.sent_at) == ("sent", "2031-01-07T01:00:30Z")


def test_a_daily_cap_sends_that_many_and_defers_the_rest_to_the_next_day(api: Api, tenant: Tenant) -> None:
    configure(api, tenant, quiet_hours={"start": "21:00", "end": "09:00"}, daily_caps={"console": 2})
    who = person()
    mids = [enqueue(tenant, who) for _ in range(4)]
    other = enqueue(tenant, person())  # someone else's cap is their own
    deliver(NOON)
    statuses = sorted(message(mid).status for mid in mids)
    assert statuses == ["deferred", "deferred", "sent", "sent"]
    assert message(other).status == "sent"
    waiting = [message(mid) for mid in mids if message(mid).status == "deferred"]
    # The next local day's first moment outside quiet hours: 09:00 on the 7th.
    assert {(m.reason, m.due_at) for m in waiting} == {("daily_cap", "2031-01-07T01:00:00Z")}
    deliver(datetime(2031, 1, 7, 1, 5, tzinfo=UTC))
    assert sorted(message(mid).status for mid in mids) == ["sent"] * 4


def test_an_unsubscribed_person_gets_nothing_even_what_was_queued_before(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    from chalicelib.messaging import messages

    who, everything = person(phone="13800001111"), profiled_person(api, tenant, pump)
    queued = enqueue(tenant, who)
    # The link in the message itself: its token names tenant, person and channel.
    link = message(queued).text.split("退订：", 1)[1].strip()
    assert link.startswith("http://localhost:8000/unsubscribe.html?t=")
    token = parse_qs(urlsplit(link).query)["t"][0]
    for _ in range(2):  # clicking twice is the same as once
        assert api.call("POST", "/v1/unsubscribe", {"token": token}) == (200, {"unsubscribed": "console"})
    later = enqueue(tenant, who)
    status, body = api.call(
        "PUT", f"/v1/admin/participants/{everything.uid}/subscriptions", {"unsubscribed": ["*"]},
        token=tenant.owner_token,
    )  # fmt: skip
    assert (status, body) == (200, {"uid": everything.uid, "unsubscribed": ["*"]})
    all_off = enqueue(tenant, everything)
    deliver(NOON)
    for mid in (queued, later, all_off):
        assert (message(mid).status, message(mid).reason) == ("suppressed", "unsubscribed")
    assert messages.unsubscribed(tenant.tid, who.uid) == ["console"]
    assert api.call("POST", "/v1/unsubscribe", {"token": token[:-2] + "xx"})[1]["error"]["code"] == "INVALID_TOKEN"
    assert api.call("POST", "/v1/unsubscribe", {"token": "nonsense"})[0] == 400


def test_the_kill_switch_suppresses_every_channel(api: Api, tenant: Tenant, good: Receiver) -> None:
    configure(api, tenant, paused=True)
    mids = [enqueue(tenant, person()), enqueue(tenant, person(), "webhook", endpoint=good.url)]
    deliver(NOON)
    assert {(message(m).status, message(m).reason) for m in mids} == {("suppressed", "kill_switch")}
    assert good.requests == []
    # Lifting it does not release what was dropped: nothing is pending any more.
    configure(api, tenant, paused=False)
    deliver(NOON + timedelta(minutes=5))
    assert good.requests == []


def test_the_same_message_key_queues_one_message(tenant: Tenant) -> None:
    from chalicelib.messaging import messages

    who = person()
    first = enqueue(tenant, who, key="run-7|0")
    again = messages.enqueue(
        tenant.tid, who.uid, "console", "welcome", {}, message_key="run-7|0", due=NOON, recipient=who
    )
    assert again is None
    assert message(first).version == 1


def test_a_claimed_message_waits_out_the_lease_of_a_run_that_died(tenant: Tenant) -> None:
    from chalicelib.messaging import messages

    mid = enqueue(tenant, person())
    assert messages._claim(mid, NOON) is not None  # a run took it and never finished
    deliver(NOON + timedelta(minutes=1))
    assert message(mid).status == "pending"
    deliver(NOON + messages.LEASE + timedelta(seconds=1))
    sent = message(mid)
    assert (sent.status, sent.due_at) == ("sent", "2031-01-06T04:00:00Z")


def test_the_due_index_holds_a_message_only_while_open_and_a_lease_moves_only_its_entry(
    api: Api, tenant: Tenant
) -> None:
    from chalicelib.messaging import messages
    from chalicelib.messaging.rules.messages import shard_of
    from chalicelib.table.models import MessageItem

    def stored(mid: str) -> Any:
        return MessageItem.get(f"MSG#{mid}", "META", consistent_read=True)

    mid = enqueue(tenant, person())
    queued = stored(mid)
    assert (queued.GSI1PK, queued.GSI1SK) == (f"T#{tenant.tid}#MSG", f"{queued.created_at}#{mid}")
    assert (queued.GSI2PK, queued.GSI2SK) == (f"MSGDUE#{shard_of(mid)}", f"2031-01-06T04:00:00Z#{mid}")
    assert (queued.status, queued.version, queued.expires_at) == ("pending", 1, None)
    assert messages._claim(mid, NOON) is not None
    leased = stored(mid)
    assert (leased.GSI2PK, leased.GSI2SK) == (queued.GSI2PK, f"2031-01-06T04:05:00Z#{mid}")
    assert (leased.due_at, leased.version) == ("2031-01-06T04:00:00Z", 2)
    assert message(mid).lease_until == "2031-01-06T04:05:00Z"
    deliver(NOON + messages.LEASE + timedelta(seconds=1))
    sent = stored(mid)
    assert (sent.status, sent.GSI2PK, sent.GSI2SK) == ("sent", None, None) and sent.expires_at is not None
    assert (sent.GSI1PK, sent.GSI1SK, sent.version) == (queued.GSI1PK, queued.GSI1SK, 4)

    dead = enqueue(tenant, person(phone="13800004444"), "sms")  # no sms endpoint: dead at once
    deliver(NOON)
    parked = stored(dead)
    assert (parked.status, parked.GSI2PK, parked.GSI2SK) == ("dead", None, None) and parked.expires_at is not None
    assert api.call("POST", f"/v1/admin/messages/{dead}/retry", token=tenant.owner_token)[0] == 200
    back = stored(dead)
    assert (back.status, back.attempts, back.expires_at) == ("pending", 0, None)
    assert (back.GSI2PK, back.GSI2SK) == (f"MSGDUE#{shard_of(dead)}", f"{back.due_at}#{dead}")
    assert message(dead).lease_until is None


def test_a_failing_endpoint_goes_dead_while_other_messages_flow(
    api: Api, tenant: Tenant, good: Receiver, failing: Receiver
) -> None:
    configure(api, tenant, max_attempts=3)
    bad = enqueue(tenant, person(), "webhook", endpoint=failing.url, template={"en": "order {campaign}"})
    fine = enqueue(tenant, person(), "webhook", endpoint=good.url, template={"en": "order {campaign}"})
    console = enqueue(tenant, person())
    moment = NOON
    deliver(moment)
    assert message(fine).status == message(console).status == "sent"
    assert len(good.requests) == 1
    for _ in range(3):
        item = message(bad)
        if item.status == "dead":
            break
        assert item.status == "pending" and item.last_error == "HTTP 500 from the endpoint"
        moment += timedelta(hours=2)
        deliver(moment)
    dead = message(bad)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert len(failing.requests) == 3
    body = json.loads(good.requests[0][1])
    assert body["text"] == "order 冬季邀请" and body["data"]["campaign"] == "冬季邀请"

    status, listed = api.call("GET", "/v1/admin/messages?status=dead", token=tenant.owner_token)
    assert status == 200 and [m["id"] for m in listed["items"]] == [bad]
    assert listed["items"][0]["last_error"] == "HTTP 500 from the endpoint"
    # Retry puts it back with attempts reset; it fails again from scratch.
    status, retried = api.call("POST", f"/v1/admin/messages/{bad}/retry", token=tenant.owner_token)
    assert status == 200 and (retried["status"], retried["attempts"]) == ("pending", 0)
    assert api.call("POST", f"/v1/admin/messages/{bad}/retry", token=tenant.owner_token)[1]["error"]["code"] == (
        "MESSAGE_NOT_DEAD"
    )
    assert api.call("POST", f"/v1/admin/messages/{fine}/retry", token=tenant.owner_token)[0] == 409
    assert api.call("POST", "/v1/admin/messages/msg_nope/retry", token=tenant.owner_token)[0] == 404


def test_a_retried_dead_message_is_sent_once_the_channel_is_fixed(api: Api, tenant: Tenant, good: Receiver) -> None:
    mid = enqueue(tenant, person(phone="+86 138 0000 2222"), "sms")
    deliver(NOON)
    dead = message(mid)
    assert (dead.status, dead.last_error) == ("dead", "sms channel has no endpoint configured")
    configure(api, tenant, channels={"sms": {"endpoint": good.url}})
    assert api.call("POST", f"/v1/admin/messages/{mid}/retry", token=tenant.owner_token)[0] == 200
    deliver(NOON + timedelta(minutes=1))
    assert message(mid).status == "sent"
    assert len(good.requests) == 1


def test_sms_is_a_signed_post_to_the_tenants_gateway(api: Api, tenant: Tenant, good: Receiver) -> None:
    from chalicelib.table import keys
    from chalicelib.table.models import MessageItem

    configure(api, tenant, channels={"sms": {"endpoint": good.url}})
    who = person(phone="13800003333")
    mid = enqueue(tenant, who, "sms", template="reward_issued")
    stored = MessageItem.get(keys.message_pk(mid), keys.META, consistent_read=True)  # the item as the table holds it
    assert "13800003333" not in json.dumps(stored.attribute_values, default=str)  # encrypted at rest
    deliver(NOON)
    assert message(mid).status == "sent"
    headers, raw = good.requests[0]
    assert verify_delivery(standard_secret(tenant.tid), headers, raw, at=NOON) == json.loads(raw)
    assert headers["webhook-id"] == headers["x-fission-message-id"] == mid
    assert headers["webhook-timestamp"] == headers["x-fission-timestamp"] == str(int(NOON.timestamp()))
    body = json.loads(raw)
    assert body["to"] == {"phone": "13800003333"} and body["channel"] == "sms" and body["template"] == "reward_issued"
    assert body["message_id"] == mid and "小王" in body["text"] and "冬季邀请" in body["text"]


def test_email_goes_through_ses(api: Api, tenant: Tenant) -> None:
    import boto3
    from moto import mock_aws
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    configure(api, tenant, locale="en", channels={"email": {"sender": "shop@example.cn"}})
    mid = enqueue(tenant, person(email="wang@example.cn"), "email", template="birthday")
    unverified = enqueue(tenant, person(email="li@example.cn"), "email")
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb", "dynamodbstreams"]}}}):
        ses = boto3.client("ses", region_name="us-east-1")
        deliver(NOON)
        # Before the sender is verified SES rejects the message: retrying cannot help.
        assert message(mid).status == message(unverified).status == "dead"
        assert "MessageRejected" in (message(mid).last_error or "")
        ses.verify_email_identity(EmailAddress="shop@example.cn")
        assert api.call("POST", f"/v1/admin/messages/{mid}/retry", token=tenant.owner_token)[0] == 200
        deliver(NOON + timedelta(minutes=1))
        assert message(mid).status == "sent"
        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        mail = next(m for m in sent if m.destinations["ToAddresses"] == ["wang@example.cn"])
        assert mail.source == "shop@example.cn" and mail.subject == "Happy birthday"
        assert "Happy birthday, 小王!" in mail.body


def test_admin_routes_settings_listing_and_permissions(api: Api, tenant: Tenant) -> None:
    status, defaults = api.call("GET", "/v1/admin/messaging", token=tenant.owner_token)
    assert status == 200 and defaults["paused"] is False and defaults["max_attempts"] == 5
    saved = configure(
        api, tenant, paused=False, quiet_hours={"start": "22:00", "end": "08:00"}, daily_caps={"sms": 2},
        locale="en", channels={"wecom": {"endpoint": "http://127.0.0.1:9/wecom"}},
    )  # fmt: skip
    assert api.call("GET", "/v1/admin/messaging", token=tenant.owner_token)[1] == saved
    for bad in (
        {"daily_caps": {"sms": 500}},
        {"quiet_hours": {"start": "9pm", "end": "08:00"}},
        {"channels": {"sms": {"endpoint": "http://sms.example.cn/send"}}},
        {"unknown": 1},
    ):
        status, body = api.call("PUT", "/v1/admin/messaging", bad, token=tenant.owner_token)
        assert status == 422, (bad, body)
    viewer, analyst = tenant.operator("viewer"), tenant.operator("analyst")
    assert api.call("PUT", "/v1/admin/messaging", {"paused": True}, token=viewer)[0] == 403
    assert api.call("PUT", "/v1/admin/messaging", {"paused": True}, token=analyst)[0] == 403
    assert api.call("GET", "/v1/admin/messaging", token=viewer)[0] == 403
    assert api.call("GET", "/v1/admin/messages", token=analyst)[0] == 200
    operator = tenant.operator("operator")
    # PUT replaces the whole document: what it leaves out returns to its default (locale zh), and an operator may
    # switch a channel off (docs/messaging.md, "Who may send personal data where").
    assert api.call("PUT", "/v1/admin/messaging", {"paused": True}, token=operator)[1]["locale"] == "zh"

    mids = [enqueue(tenant, person()) for _ in range(3)]
    page1 = api.call("GET", "/v1/admin/messages?channel=console&limit=2", token=tenant.owner_token)[1]
    page2 = api.call(
        "GET", f"/v1/admin/messages?channel=console&limit=2&cursor={page1['next_cursor']}", token=tenant.owner_token
    )[1]
    assert {m["id"] for m in page1["items"] + page2["items"]} == set(mids)
    shown = page1["items"][0]
    assert shown["status"] == "pending" and shown["automation_id"] == "auto_1" and "小王，欢迎参加" in shown["text"]
    assert shown["subject"] == "欢迎加入"
    assert api.call("GET", "/v1/admin/messages?status=lost", token=tenant.owner_token)[0] == 400
    assert api.call("GET", "/v1/admin/messages?cursor=bogus", token=tenant.owner_token)[0] == 400
    status, body = api.call(
        "PUT", "/v1/admin/participants/u_1/subscriptions", {"unsubscribed": ["fax"]}, token=tenant.owner_token
    )
    assert status == 422
    assert api.call("PUT", "/v1/admin/participants/u_1/subscriptions", {"unsubscribed": []}, token=viewer)[0] == 403


def test_check_channel_and_check_template_for_automations(api: Api, tenant: Tenant) -> None:
    from chalicelib.core.errors import ValidationFailed
    from chalicelib.messaging import messages

    messages.check_channel(tenant.tid, "console")
    with pytest.raises(ValidationFailed) as caught:
        messages.check_channel(tenant.tid, "wechat")
    assert caught.value.code == "CHANNEL_NOT_CONFIGURED"
    configure(api, tenant, channels={"wechat": {"endpoint": "http://127.0.0.1:9/wx"}})
    messages.check_channel(tenant.tid, "wechat")
    messages.check_template({"zh": "你好 {nickname}"})
    with pytest.raises(ValidationFailed) as bad:
        messages.check_template({"zh": "你好 {name}"}, field="actions[0].template")
    assert bad.value.code == "INVALID_TEMPLATE" and bad.value.message.startswith("actions[0].template: ")
