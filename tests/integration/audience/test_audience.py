"""Profiles, tags, segments and automations end to end: the real stream, the schedules, the outbox."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.audience import automations
from chalicelib.messaging import messages
from chalicelib.messaging.rules.messages import Recipient
from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign, proof, standard_secret, verify_delivery
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.modes.test_orders_distribution import post_order
from tests.integration.referral.test_follow_hooks import secret

pytestmark = pytest.mark.integration


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _profile_of(api: Api, tenant: Tenant, code: str) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/admin/participants?code={code}", token=tenant.owner_token)
    assert status == 200, body
    assert len(body["items"]) == 1, body
    return dict(body["items"][0])


def _order(api: Api, tenant: Tenant, cid: str, oid: str, buyer: str, amount: int, status: str = "paid") -> None:
    payload = {
        "event_id": uuid.uuid4().hex, "order_id": oid, "campaign_id": cid, "external_id": buyer, "amount": amount,
        "status": status, "items": [{"sku": "SKU-1", "qty": 1, "price_fen": amount}],
    }  # fmt: skip
    code, answer = post_order(api, tenant, secret(api, tenant), payload)
    assert code == 200, answer


def _console(api: Api, tenant: Tenant, **query: str) -> list[dict[str, Any]]:
    q = "&".join(f"{k}={v}" for k, v in {"channel": "console", **query}.items())
    status, body = api.call("GET", f"/v1/admin/messages?{q}", token=tenant.owner_token)
    assert status == 200, body
    return list(body["items"])


def test_one_profile_per_person_across_campaigns(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    first, second = live_campaign(api, tenant), live_campaign(api, tenant)
    user = _user()
    _, a = join(api, first, external_id=user, nickname="张三丰", channel="douyin", phone="13812345678")
    _, b = join(api, second, external_id=user, channel="wechat")
    pump.drain()
    profile = _profile_of(api, tenant, a["invite_code"])
    assert profile == _profile_of(api, tenant, b["invite_code"])
    assert profile["campaigns"] == 2 and profile["source"] == "douyin"
    assert profile["nickname"] == "张**" and profile["phone"] == "138****5678"
    assert "from_douyin" in profile["tags"]
    status, detail = api.call("GET", f"/v1/admin/participants/{profile['uid']}", token=tenant.owner_token)
    assert status == 200 and sorted(detail["campaign_ids"]) == sorted([first, second])
    assert any(t["tag"] == "from_douyin" and t["source"] == "auto" for t in detail["tag_details"])


def test_another_tenant_cannot_see_the_profile(api: Api, tenant: Tenant, new_tenant: Any, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    _, joined = join(api, cid, external_id=_user())
    pump.drain()
    uid = _profile_of(api, tenant, joined["invite_code"])["uid"]
    other = new_tenant()
    assert api.call("GET", f"/v1/admin/participants/{uid}", token=other.owner_token)[0] == 404
    status, body = api.call("GET", f"/v1/admin/participants?code={joined['invite_code']}", token=other.owner_token)
    assert status == 200 and body["items"] == []


def test_auto_tags_follow_the_facts(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant, "distribution")
    user = _user()
    _, joined = join(api, cid, external_id=user)
    pump.drain()
    code = joined["invite_code"]
    assert "spend_over_500" not in _profile_of(api, tenant, code)["tags"]
    _order(api, tenant, cid, f"o-{uuid.uuid4().hex[:8]}", user, 30000)
    second = f"o-{uuid.uuid4().hex[:8]}"
    _order(api, tenant, cid, second, user, 30000)
    pump.drain()
    profile = _profile_of(api, tenant, code)
    assert profile["spend_fen"] == 60000 and profile["orders"] == 2
    assert {"spend_over_500", "repeat_buyer"} <= set(profile["tags"])
    # The people with a tag are found by the tag.
    status, body = api.call("GET", "/v1/admin/participants?tag=spend_over_500", token=tenant.owner_token)
    assert [p["uid"] for p in body["items"]] == [profile["uid"]]
    # A refund takes the spend below 500 yuan and one order away: both tags go.
    _order(api, tenant, cid, second, user, 30000, status="refunded")
    pump.drain()
    profile = _profile_of(api, tenant, code)
    assert profile["spend_fen"] == 30000
    assert "spend_over_500" not in profile["tags"] and "repeat_buyer" not in profile["tags"]
    status, body = api.call("GET", "/v1/admin/participants?tag=spend_over_500", token=tenant.owner_token)
    assert body["items"] == []


def test_a_custom_auto_tag_rule_and_manual_tags(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    _, inviter = join(api, cid, external_id=_user())
    for _ in range(2):
        join(api, cid, external_id=_user(), ref=inviter["invite_code"])
    pump.drain()
    token = tenant.owner_token
    status, tag = api.call(
        "POST", "/v1/admin/tags", {"name": "ambassador", "kind": "behaviour", "rule": "invites >= 2"}, token=token
    )
    assert status == 201, tag
    assert tag["reevaluated"]["profiles"] == 3 and tag["reevaluated"]["complete"] is True
    assert "ambassador" in _profile_of(api, tenant, inviter["invite_code"])["tags"]
    # Recency is not allowed in an auto-tag rule: it would never be re-evaluated as time passes.
    status, body = api.call(
        "POST", "/v1/admin/tags", {"name": "recent", "kind": "behaviour", "rule": "last_seen < 7d"}, token=token
    )
    assert status == 422 and body["error"]["code"] == "INVALID_SEGMENT"
    # Manual tags: create, assign in bulk, remove.
    assert api.call("POST", "/v1/admin/tags", {"name": "vip"}, token=token)[0] == 201
    uid = _profile_of(api, tenant, inviter["invite_code"])["uid"]
    status, body = api.call("POST", "/v1/admin/tags/vip/assign", {"uids": [uid, "u_nobody"]}, token=token)
    assert status == 200 and body == {"changed": 1, "missing": ["u_nobody"]}
    assert "vip" in _profile_of(api, tenant, inviter["invite_code"])["tags"]
    status, body = api.call("POST", "/v1/admin/tags/ambassador/assign", {"uids": [uid]}, token=token)
    assert status == 409 and body["error"]["code"] == "TAG_IS_AUTOMATIC"
    assert api.call("DELETE", "/v1/admin/tags/vip", token=token)[0] == 204
    assert "vip" not in _profile_of(api, tenant, inviter["invite_code"])["tags"]
    # A viewer neither reads nor writes the audience; an analyst reads it.
    viewer = tenant.operator("viewer")
    assert api.call("GET", "/v1/admin/tags", token=viewer)[0] == 403  # profiles are for roles with audience:read
    assert api.call("POST", "/v1/admin/tags", {"name": "x"}, token=viewer)[0] == 403
    analyst = tenant.operator("analyst")
    assert api.call("GET", "/v1/admin/tags", token=analyst)[0] == 200
    assert api.call("POST", "/v1/admin/tags", {"name": "y"}, token=analyst)[0] == 403


def test_segments_preview_search_and_errors(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    _, inviter = join(api, cid, external_id=_user(), channel="douyin")
    join(api, cid, external_id=_user(), ref=inviter["invite_code"])
    join(api, cid, external_id=_user())
    pump.drain()
    token = tenant.owner_token
    status, body = api.call(
        "POST", "/v1/admin/segments/preview", {"expression": "tag:invited AND invites = 0"}, token=token
    )
    assert status == 200, body
    assert body["count"] == 1 and body["evaluated"] == 3 and len(body["sample"]) == 1
    status, body = api.call("POST", "/v1/admin/segments/preview", {"expression": "spend >= AND"}, token=token)
    assert status == 422 and body["error"]["code"] == "INVALID_SEGMENT"
    assert body["error"]["details"]["position"] == 9
    status, seg = api.call(
        "POST", "/v1/admin/segments", {"name": "Douyin", "expression": "source = douyin"}, token=token
    )
    assert status == 201, seg
    status, body = api.call("GET", f"/v1/admin/participants?segment={seg['id']}", token=token)
    assert status == 200 and [p["codes"] for p in body["items"]] == [[inviter["invite_code"]]]
    status, body = api.call("GET", "/v1/admin/segments", token=token)
    assert [s["id"] for s in body["items"]] == [seg["id"]]
    assert api.call("DELETE", f"/v1/admin/segments/{seg['id']}", token=token)[0] == 204
    # An id longer than any key may hold is not found, not a DynamoDB error.
    for unknown in (seg["id"], "seg_" + "x" * 3000):
        status, body = api.call("GET", f"/v1/admin/participants?segment={unknown}", token=token)
        assert status == 404 and body["error"]["code"] == "SEGMENT_NOT_FOUND", body


def test_an_event_rule_acts_once_per_occurrence(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    token = tenant.owner_token
    cid = live_campaign(api, tenant)
    assert api.call("POST", "/v1/admin/tags", {"name": "welcomed"}, token=token)[0] == 201
    rule = {
        "name": "Welcome",
        "trigger": {"type": "joined", "campaign_id": cid},
        "actions": [
            {"type": "send_message", "channel": "console", "template": "welcome"},
            {"type": "add_tag", "tag": "welcomed"},
        ],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201, created
    deliver_every_batch_twice(pump)
    _, joined = join(api, cid, external_id=_user(), nickname="Amy")
    pump.drain()
    messages.deliver(datetime.now(UTC) + timedelta(minutes=1))
    sent = [m for m in _console(api, tenant) if m["automation_id"] == created["id"]]
    assert len(sent) == 1 and sent[0]["status"] == "sent"
    assert "welcomed" in _profile_of(api, tenant, joined["invite_code"])["tags"]


def test_the_automation_catalog_lists_what_a_rule_accepts(api: Api, tenant: Tenant) -> None:
    status, catalog = api.call("GET", "/v1/admin/automations/catalog", token=tenant.owner_token)
    assert status == 200
    assert "inactive" in catalog["scheduled_triggers"] and "joined" in catalog["event_triggers"]
    assert catalog["channels"] == ["console", "email", "sms", "wecom", "wechat"]
    assert "welcome" in catalog["templates"] and "issue_reward" in catalog["actions"]
    # Every listed trigger and built-in template is one a rule is saved with.
    for trigger in catalog["event_triggers"] + catalog["scheduled_triggers"]:
        extra = {"days": 30} if trigger == "inactive" else {}
        for template in catalog["templates"]:
            action = {"type": "send_message", "channel": "console", "template": template}
            body = {"name": "t", "enabled": False, "trigger": {"type": trigger, **extra}, "actions": [action]}
            status, created = api.call("POST", "/v1/admin/automations", body, token=tenant.owner_token)
            assert status == 201, (trigger, template, created)
            assert api.call("DELETE", f"/v1/admin/automations/{created['id']}", token=tenant.owner_token)[0] == 204


def test_automation_validation(api: Api, tenant: Tenant) -> None:
    token = tenant.owner_token
    base = {"name": "x", "trigger": {"type": "joined"}, "actions": [{"type": "add_tag", "tag": "nope"}]}
    status, body = api.call("POST", "/v1/admin/automations", base, token=token)
    assert status == 422 and body["error"]["code"] == "UNKNOWN_TAG"
    bad_conditions = {**base, "conditions": "spend >>= 1", "actions": [{"type": "send_message", "channel": "console",
                                                                        "template": "welcome"}]}  # fmt: skip
    status, body = api.call("POST", "/v1/admin/automations", bad_conditions, token=token)
    assert status == 422 and body["error"]["code"] == "INVALID_SEGMENT"
    status, body = api.call("POST", "/v1/admin/automations", {**base, "trigger": {"type": "inactive"}}, token=token)
    assert status == 422
    status, body = api.call("GET", "/v1/admin/automations/aut_missing", token=token)
    assert status == 404 and body["error"]["code"] == "AUTOMATION_NOT_FOUND"
    analyst = tenant.operator("analyst")
    assert api.call("POST", "/v1/admin/automations", base, token=analyst)[0] == 403


def test_win_back_goes_out_exactly_once_to_the_inactive(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    token = tenant.owner_token
    cid = live_campaign(
        api, tenant, **{"ends_at": (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    rule = {
        "name": "Win back",
        "trigger": {"type": "inactive", "days": 30},
        "actions": [{"type": "send_message", "channel": "console", "template": "win_back"}],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201, created
    _, quiet = join(api, cid, external_id=_user(), nickname="Quiet")
    pump.drain()
    now = datetime.now(UTC)
    # Day 29: nobody is inactive for 30 days yet.
    automations.run_due(now + timedelta(days=29))
    messages.deliver(now + timedelta(days=29))
    assert [m for m in _console(api, tenant) if m["automation_id"] == created["id"]] == []
    # Day 30 onwards, every minute the schedule runs: one message, never a second.
    for minutes in (1, 2, 60, 60 * 24):
        moment = now + timedelta(days=30, minutes=minutes)
        automations.run_due(moment)
        messages.deliver(moment)
    sent = [m for m in _console(api, tenant) if m["automation_id"] == created["id"]]
    assert len(sent) == 1 and sent[0]["status"] == "sent"
    assert sent[0]["uid"] == _profile_of(api, tenant, quiet["invite_code"])["uid"]


def test_a_group_deadline_reminder_reaches_each_member_once(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    token = tenant.owner_token
    cid = live_campaign(api, tenant, "group_buy")
    rule = {
        "name": "Deadline",
        "trigger": {"type": "group.deadline", "hours_before": 1, "campaign_id": cid},
        "actions": [{"type": "send_message", "channel": "console", "template": "group_deadline"}],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201, created
    _, leader = join(api, cid, external_id=_user())
    _, friend = join(api, cid, external_id=_user())
    status, group = api.call(
        "POST", f"/v1/campaigns/{cid}/groups", {"size": 3}, headers={"Authorization": f"Bearer {leader['token']}"}
    )
    assert status == 201, group
    status, _ = api.call(
        "POST", f"/v1/groups/{group['group_id']}/members", {}, headers={"Authorization": f"Bearer {friend['token']}"}
    )
    assert status == 200
    pump.drain()
    deadline = datetime.strptime(group["deadline"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    automations.run_due(deadline - timedelta(hours=2))  # not yet within the hour
    messages.deliver(deadline - timedelta(hours=2))
    assert [m for m in _console(api, tenant) if m["automation_id"] == created["id"]] == []
    for before in (59, 30, 5):
        moment = deadline - timedelta(minutes=before)
        automations.run_due(moment)
        messages.deliver(moment)
    sent = [m for m in _console(api, tenant) if m["automation_id"] == created["id"]]
    assert len(sent) == 2 and all(m["status"] == "sent" for m in sent)
    members = {_profile_of(api, tenant, c)["uid"] for c in (leader["invite_code"], friend["invite_code"])}
    assert {m["uid"] for m in sent} == members


def test_a_delayed_rule_waits_for_its_time(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    token = tenant.owner_token
    cid = live_campaign(api, tenant)
    rule = {
        "name": "Later",
        "trigger": {"type": "joined", "campaign_id": cid},
        "delay_minutes": 60,
        "conditions": "source = douyin",
        "actions": [
            {
                "type": "send_message",
                "channel": "console",
                "template": {"zh": "{nickname}，欢迎", "en": "Hi {nickname}"},
            }
        ],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201, created
    join(api, cid, external_id=_user(), nickname="Dy", channel="douyin")
    join(api, cid, external_id=_user(), nickname="Wx", channel="wechat")  # conditions do not hold
    pump.drain()
    now = datetime.now(UTC)
    automations.run_due(now + timedelta(minutes=30))
    messages.deliver(now + timedelta(minutes=30))
    assert [m for m in _console(api, tenant) if m["automation_id"] == created["id"]] == []
    automations.run_due(now + timedelta(minutes=61))
    messages.deliver(now + timedelta(minutes=61))
    sent = [m for m in _console(api, tenant) if m["automation_id"] == created["id"]]
    assert len(sent) == 1 and "Dy" in sent[0]["text"]


def test_a_birthday_greeting_once_a_year(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from zoneinfo import ZoneInfo

    token = tenant.owner_token
    cid = live_campaign(api, tenant)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Shanghai"))
    rule = {
        "name": "Birthday",
        "trigger": {"type": "birthday"},
        "actions": [{"type": "send_message", "channel": "console", "template": "birthday"}],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201, created
    _, joined = join(api, cid, external_id=_user(), nickname="Bea", birthday=f"1990-{today:%m-%d}")
    join(api, cid, external_id=_user(), birthday=f"1990-{(today + timedelta(days=3)):%m-%d}")
    status, body = join(api, cid, external_id=_user(), birthday="1990-02-30")
    assert status == 422, body
    pump.drain()
    for minutes in (0, 1, 30):
        automations.run_due(now + timedelta(minutes=minutes))
        messages.deliver(now + timedelta(minutes=minutes))
    sent = [m for m in _console(api, tenant) if m["automation_id"] == created["id"]]
    assert len(sent) == 1 and "Bea" in sent[0]["text"]
    assert sent[0]["uid"] == _profile_of(api, tenant, joined["invite_code"])["uid"]


def test_erasure_empties_the_profile(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    _, joined = join(api, cid, external_id=_user(), nickname="Eve", phone="13812345678", birthday="05-01")
    pump.drain()
    uid = _profile_of(api, tenant, joined["invite_code"])["uid"]
    # A message queued for later, before the erasure.
    later = datetime.now(UTC) + timedelta(hours=1)
    queued = messages.enqueue(
        tenant.tid, uid, "console", "win_back", {}, message_key=f"erase-{uid}", due=later,
        recipient=Recipient(uid=uid, nickname="Eve"),
    )  # fmt: skip
    status, _ = api.call("DELETE", "/v1/me", token=joined["token"], headers=proof(api, joined["token"]))
    assert status in (200, 202, 204)
    pump.drain()
    status, detail = api.call("GET", f"/v1/admin/participants/{uid}", token=tenant.owner_token)
    assert status == 200
    assert detail["campaigns"] == 0 and detail["nickname"] is None and detail["phone"] is None
    assert detail["birthday"] is None and detail["codes"] == [] and detail["unsubscribed"] == ["*"]
    # Nothing goes out to a person whose data is erased.
    messages.deliver(later + timedelta(minutes=1))
    found = [m for m in _console(api, tenant) if m["id"] == queued]
    assert found and found[0]["status"] == "suppressed" and found[0]["reason"] == "unsubscribed"
    assert found[0]["reason_code"] == "UNSUBSCRIBED"


def test_cursors_and_switched_off_rules(api: Api, tenant: Tenant, new_tenant: Any, pump: StreamPump) -> None:
    token = tenant.owner_token
    cid = live_campaign(api, tenant)
    for _ in range(3):
        join(api, cid, external_id=_user())
    pump.drain()
    status, first = api.call("GET", "/v1/admin/participants?limit=2", token=token)
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    seen = {p["uid"] for p in first["items"]}
    cursor = first["next_cursor"]
    while cursor:
        status, page = api.call("GET", f"/v1/admin/participants?limit=2&cursor={cursor}", token=token)
        assert status == 200
        seen |= {p["uid"] for p in page["items"]}
        cursor = page["next_cursor"]
    assert len(seen) == 3
    # A resume key into another tenant's profiles, or a made-up cursor, is refused, never a 500.
    other = new_tenant()
    key = {"PK": {"S": f"T#{tenant.tid}#U#u_x"}, "SK": {"S": "PROFILE"}, "GSI1PK": {"S": f"T#{tenant.tid}#U#0"},
           "GSI1SK": {"S": "2026-01-01T00:00:00Z#u_x"}}  # fmt: skip
    forged = base64.urlsafe_b64encode(json.dumps({"shard": 0, "key": key}).encode()).decode().rstrip("=")
    status, body = api.call("GET", f"/v1/admin/participants?cursor={forged}", token=other.owner_token)
    assert status == 400 and body["error"]["code"] == "INVALID_CURSOR"
    assert api.call("GET", "/v1/admin/participants?cursor=bm90LWpzb24", token=token)[0] == 400
    # A scheduled rule switched off is not run.
    rule = {"name": "Off", "trigger": {"type": "inactive", "days": 1},
            "actions": [{"type": "send_message", "channel": "console", "template": "win_back"}]}  # fmt: skip
    status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
    assert status == 201
    status, changed = api.call("PATCH", f"/v1/admin/automations/{created['id']}", {"enabled": False}, token=token)
    assert status == 200 and changed["enabled"] is False and changed["version"] == 2
    status, body = api.call("PATCH", f"/v1/admin/automations/{created['id']}", {"delay_minutes": -1}, token=token)
    assert status == 422
    later = datetime.now(UTC) + timedelta(days=2)
    automations.run_due(later)
    messages.deliver(later)
    assert [m for m in _console(api, tenant) if m["automation_id"] == created["id"]] == []


def test_order_paid_calls_the_merchants_webhook_and_issues_points(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from tests.integration.messaging.test_outbound_webhooks import Receiver

    token = tenant.totp_token()  # a rule that calls a webhook needs the owner's step-up (docs/messaging.md)
    cid = live_campaign(api, tenant, "distribution")
    receiver = Receiver(200, standard_secret(tenant.tid))
    try:
        rule = {
            "name": "Thank buyers",
            "trigger": {"type": "order.paid", "campaign_id": cid},
            "conditions": "spend >= 10000",
            "actions": [
                {"type": "call_webhook", "url": receiver.url},
                {"type": "issue_reward", "reward": {"type": "points", "name": "Thank-you points", "points": 50}},
            ],
        }
        status, created = api.call("POST", "/v1/admin/automations", rule, token=token)
        assert status == 201, created
        buyer = _user()
        _, joined = join(api, cid, external_id=buyer)
        _order(api, tenant, cid, f"o-{uuid.uuid4().hex[:8]}", buyer, 5000)  # below the condition
        pump.drain()
        messages.deliver(datetime.now(UTC) + timedelta(minutes=1))
        assert receiver.requests == []
        _order(api, tenant, cid, f"o-{uuid.uuid4().hex[:8]}", buyer, 8000)  # spend now 13000
        pump.drain()
        messages.deliver(datetime.now(UTC) + timedelta(minutes=1))
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        assert verify_delivery(standard_secret(tenant.tid), headers, body)["automation_id"] == created["id"]
        status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=joined["token"])
        assert status == 200
        points = [r for r in me["rewards"] if r["name"] == "Thank-you points"]
        assert len(points) == 1 and points[0]["status"] == "issued"
    finally:
        receiver.close()


def test_helping_three_friends_earns_the_behaviour_tag(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant, "assist")
    owners = [join(api, cid, external_id=_user())[1] for _ in range(3)]
    _, helper = join(api, cid, external_id=_user())
    for owner in owners:
        status, body = api.call(
            "POST", f"/v1/campaigns/{cid}/assists/{owner['invite_code']}", {}, token=helper["token"]
        )
        assert status in (200, 201), body
    pump.drain()
    profile = _profile_of(api, tenant, helper["invite_code"])
    assert profile["helps"] == 3 and "helped_3_times" in profile["tags"]
    assert _profile_of(api, tenant, owners[0]["invite_code"])["helps"] == 0


def test_a_page_view_with_a_token_counts_as_seen(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    _, joined = join(api, cid, external_id=_user())
    pump.drain()
    first = _profile_of(api, tenant, joined["invite_code"])["last_seen"]
    time.sleep(1.1)  # timestamps have whole seconds
    status, _ = api.call("POST", f"/v1/campaigns/{cid}/events", {"type": "view"}, token=joined["token"])
    assert status == 202
    pump.drain()
    assert _profile_of(api, tenant, joined["invite_code"])["last_seen"] > first
