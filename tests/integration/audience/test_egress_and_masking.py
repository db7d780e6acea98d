"""Automations that send personal data out are the owner's, with a step-up, and audited in full; message texts are
masked for roles that cannot unmask, like the rest of the profile."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.messaging import messages
from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign, standard_secret
from tests.integration.messaging.test_outbound_webhooks import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def attacker(tenant: Tenant) -> Iterator[Receiver]:
    receiver = Receiver(200, standard_secret(tenant.tid))
    yield receiver
    receiver.close()


def last_entry(api: Api, tenant: Tenant) -> dict[str, Any]:
    status, body = api.call("GET", "/v1/admin/audit?limit=1", token=tenant.owner_token)
    assert status == 200, body
    return dict(body["items"][0])


def rule(*actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "r", "trigger": {"type": "joined"}, "actions": list(actions), **extra}


CALL = {"type": "call_webhook", "url": "http://127.0.0.1:9/collect"}
SMS = {"type": "send_message", "channel": "sms", "template": "welcome"}
CONSOLE = {"type": "send_message", "channel": "console", "template": "welcome"}
POINTS = {"type": "issue_reward", "reward": {"type": "points", "name": "Thanks", "points": 50}}


def test_an_operator_cannot_collect_phone_numbers_through_settings_and_an_automation(
    api: Api, tenant: Tenant, attacker: Receiver, pump: StreamPump
) -> None:
    cid = live_campaign(api, tenant)
    operator = tenant.operator("operator")
    status, body = api.call("PUT", "/v1/admin/messaging", {"channels": {"sms": {"endpoint": attacker.url}}}, operator)
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    for action in (SMS, {**CALL, "url": attacker.url}):
        status, body = api.call("POST", "/v1/admin/automations", rule(action), operator)
        assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY"), action
        assert body["error"]["details"]["changes"] == [f"actions[0].{action['type']}"]
    join(api, cid, nickname="Victim", phone="13800001234")
    pump.drain()
    messages.deliver(datetime.now(UTC) + timedelta(minutes=1))
    assert attacker.requests == []


def test_automations_that_send_data_out_need_an_owner_with_a_fresh_step_up(api: Api, tenant: Tenant) -> None:
    operator = tenant.operator("operator")
    # What keeps data inside (console, tags, rewards) or sends nothing (a disabled rule) stays with operators.
    status, kept = api.call("POST", "/v1/admin/automations", rule(CONSOLE, POINTS), operator)
    assert status == 201, kept
    status, parked = api.call("POST", "/v1/admin/automations", rule(CALL, enabled=False), operator)
    assert status == 201, parked
    # Enabling it, or adding a webhook call to a rule, sends data out: refused.
    status, body = api.call("PATCH", f"/v1/admin/automations/{parked['id']}", {"enabled": True}, operator)
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    status, body = api.call("PATCH", f"/v1/admin/automations/{kept['id']}", {"actions": [CONSOLE, CALL]}, operator)
    assert (status, body["error"]["code"], body["error"]["details"]["changes"]) == (
        403, "EGRESS_OWNER_ONLY", ["actions[1].call_webhook"],
    )  # fmt: skip
    owner = tenant.totp_token()  # enrolled; the password-only token is not a step-up
    status, body = api.call("POST", "/v1/admin/automations", rule(CALL), tenant.owner_token)
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    status, created = api.call("POST", "/v1/admin/automations", rule(CALL), tenant.owner_token,
                               headers={"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)})  # fmt: skip
    assert status == 201, created
    entry = last_entry(api, tenant)
    assert (entry["action"], entry["target"]) == ("automation.create", created["id"])
    assert entry["details"]["rule"]["actions"] == [CALL] and entry["details"]["new_egress"] is True
    # On the owner's rule an operator may rename, delay or switch it off, not re-point it or widen its trigger.
    aid = created["id"]
    for harmless in ({"name": "renamed"}, {"delay_minutes": 5}, {"enabled": False}):
        status, body = api.call("PATCH", f"/v1/admin/automations/{aid}", harmless, operator)
        assert status == 200, (harmless, body)
    status, body = api.call("PATCH", f"/v1/admin/automations/{aid}", {"enabled": True}, operator)
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    moved = {"enabled": True, "actions": [{**CALL, "url": "http://127.0.0.1:9/elsewhere"}]}
    status, body = api.call("PATCH", f"/v1/admin/automations/{aid}", moved, owner)
    assert status == 200, body
    assert last_entry(api, tenant)["details"]["rule"]["actions"][0]["url"] == "http://127.0.0.1:9/elsewhere"


def test_automation_audit_entries_hold_the_whole_rule(api: Api, tenant: Tenant) -> None:
    operator = tenant.operator("operator")
    status, created = api.call("POST", "/v1/admin/automations", rule(POINTS, CONSOLE, delay_minutes=10), operator)
    assert status == 201, created
    entry = last_entry(api, tenant)
    assert entry["details"]["trigger"] == "joined" and entry["details"]["new_egress"] is False
    assert entry["details"]["rule"] == {
        "name": "r", "enabled": True, "trigger": {"type": "joined"}, "conditions": None, "delay_minutes": 10,
        "actions": [created["actions"][0], CONSOLE],
    }  # fmt: skip
    assert entry["details"]["rule"]["actions"][0]["reward"]["points"] == 50
    bigger = {**POINTS, "reward": {"type": "points", "name": "Thanks", "points": 5000}}
    status, _ = api.call("PATCH", f"/v1/admin/automations/{created['id']}", {"actions": [bigger]}, operator)
    assert status == 200
    entry = last_entry(api, tenant)
    assert entry["action"] == "automation.update" and entry["details"]["fields"] == ["actions"]
    assert entry["details"]["rule"]["actions"][0]["reward"]["points"] == 5000
    owner = tenant.totp_token()
    secret_url = "http://127.0.0.1:9/hook?token=t0p-s3cret"
    status, _ = api.call("POST", "/v1/admin/automations", rule({**CALL, "url": secret_url}), owner)
    assert status == 201
    shown = last_entry(api, tenant)["details"]["rule"]["actions"][0]["url"]
    assert shown.startswith("http://127.0.0.1:9/hook?token=<secret:") and "t0p-s3cret" not in shown


# ---- masking ------------------------------------------------------------------------------------


def _welcomed(api: Api, tenant: Tenant, pump: StreamPump, nickname: str) -> str:
    """A person who joined and got the welcome message on the console; their uid."""
    cid = live_campaign(api, tenant)
    status, _ = api.call("POST", "/v1/admin/automations", rule(CONSOLE), tenant.owner_token)
    assert status == 201
    _, joined = join(api, cid, external_id=f"user-{uuid.uuid4().hex[:8]}", nickname=nickname, phone="13812345678")
    pump.drain()
    status, body = api.call("GET", f"/v1/admin/participants?code={joined['invite_code']}", token=tenant.owner_token)
    assert status == 200 and body["items"], body
    return str(body["items"][0]["uid"])


def test_profile_messages_are_masked_for_roles_that_cannot_unmask(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    uid = _welcomed(api, tenant, pump, "Alice")
    for role in ("operator", "analyst"):
        status, detail = api.call("GET", f"/v1/admin/participants/{uid}", token=tenant.operator(role))
        assert status == 200, detail
        assert detail["nickname"] == "A****"
        shown = detail["messages"][0]
        assert shown["text"].startswith("A****，欢迎参加") and shown["masked"] is True
        assert "Alice" not in json.dumps(detail)
        assert "unsubscribe.html?t=…" in shown["text"]  # the link's token acts for the person
        status, listed = api.call("GET", "/v1/admin/messages?channel=console", token=tenant.operator(role))
        assert status == 200 and "Alice" not in json.dumps(listed)
        assert any(m["text"].startswith("A****，欢迎参加") for m in listed["items"])
    # The owner holds `pii:unmask`: the text as it was sent.
    status, detail = api.call("GET", f"/v1/admin/participants/{uid}", token=tenant.owner_token)
    assert status == 200 and detail["messages"][0]["text"].startswith("Alice，欢迎参加")
    assert "masked" not in detail["messages"][0]


def test_messages_queued_before_masked_renderings_are_masked_too(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from chalicelib.messaging.store import messages as store

    uid = _welcomed(api, tenant, pump, "Bartholomew")
    listed = api.call("GET", "/v1/admin/messages?channel=console", token=tenant.owner_token)[1]["items"]
    item = store.get(listed[0]["id"])
    assert item is not None and item.masked_text is not None
    item.masked_text = item.masked_subject = None  # as an older message was stored
    assert store.replace(item)
    operator = tenant.operator("operator")
    shown = api.call("GET", f"/v1/admin/participants/{uid}", token=operator)[1]["messages"][0]
    assert shown["text"].startswith("B**********，欢迎参加") and "Bartholomew" not in json.dumps(shown)
    # The outbox list does not know the person's values: the text is withheld.
    listed = api.call("GET", "/v1/admin/messages?channel=console", token=operator)[1]["items"]
    assert listed[0]["text"] == messages.WITHHELD and "Bartholomew" not in json.dumps(listed)
