"""Where personal data leaves: channel endpoints and webhook URLs are the owner's, with a fresh step-up, and audited
in full; one phone number gets at most the daily cap of texts, however many identities give it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Api, Tenant, standard_secret
from tests.integration.messaging.test_outbound_webhooks import Receiver

pytestmark = pytest.mark.integration

NOON = datetime(2031, 2, 3, 4, 0, tzinfo=UTC)  # noon in Shanghai, after what other tests queue


@pytest.fixture
def attacker(tenant: Tenant) -> Iterator[Receiver]:
    receiver = Receiver(200, standard_secret(tenant.tid))
    yield receiver
    receiver.close()


def audit_trail(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    status, body = api.call("GET", "/v1/admin/audit?limit=100", token=tenant.owner_token)
    assert status == 200, body
    return list(reversed(body["items"]))


def settings(api: Api, tenant: Tenant) -> dict[str, Any]:
    status, body = api.call("GET", "/v1/admin/messaging", token=tenant.owner_token)
    assert status == 200, body
    return dict(body)


def test_an_operator_cannot_point_the_sms_channel_at_a_new_endpoint(
    api: Api, tenant: Tenant, attacker: Receiver
) -> None:
    operator = tenant.operator("operator")
    before = audit_trail(api, tenant)
    status, body = api.call("PUT", "/v1/admin/messaging", {"channels": {"sms": {"endpoint": attacker.url}}}, operator)
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY"), body
    assert body["error"]["details"] == {
        "permission": "data:egress", "role": "operator", "changes": ["channels.sms.endpoint"],
    }  # fmt: skip
    assert settings(api, tenant)["channels"]["sms"] is None
    assert audit_trail(api, tenant) == before  # a refused request writes nothing
    # A code does not help: the role is the problem, not the second factor.
    stepped_operator = tenant.totp_token("operator")
    status, body = api.call(
        "PUT", "/v1/admin/messaging", {"channels": {"wecom": {"endpoint": attacker.url}}}, stepped_operator
    )
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    # Validation comes after the role: an operator cannot probe which destinations would be accepted.
    status, body = api.call("PUT", "/v1/admin/messaging", {"channels": {"sms": {"endpoint": "https://10.0.0.1/x"}}},
                            operator)  # fmt: skip
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")


def test_an_owner_changes_an_endpoint_only_with_a_fresh_step_up_and_the_audit_has_the_url(
    api: Api, tenant: Tenant, attacker: Receiver
) -> None:
    wanted = {"channels": {"sms": {"endpoint": attacker.url}}, "daily_caps": {"sms": 2}}
    # Without TOTP enrolled, then enrolled but with a password-only token.
    status, body = api.call("PUT", "/v1/admin/messaging", wanted, tenant.owner_token)
    assert (status, body["error"]["code"], body["error"]["details"]["reason"]) == (
        403, "STEP_UP_REQUIRED", "not_enrolled",
    )  # fmt: skip
    stepped = tenant.totp_token()
    status, body = api.call("PUT", "/v1/admin/messaging", wanted, tenant.owner_token)
    assert (status, body["error"]["code"], body["error"]["details"]["reason"]) == (403, "STEP_UP_REQUIRED", "stale")
    # An invalid endpoint is refused before the step-up, so an owner's typo spends no code.
    bad = {"channels": {"sms": {"endpoint": "http://sms.example.cn/send"}}}
    status, body = api.call("PUT", "/v1/admin/messaging", bad, tenant.owner_token)
    assert (status, body["error"]["code"]) == (422, "INVALID_URL")
    assert settings(api, tenant)["channels"]["sms"] is None

    status, saved = api.call("PUT", "/v1/admin/messaging", wanted, stepped)
    assert status == 200, saved
    assert saved["channels"]["sms"] == {"endpoint": attacker.url}
    entry = audit_trail(api, tenant)[-1]
    assert entry["action"] == "messaging.update" and entry["actor"] == tenant.owner_email
    assert entry["details"]["new_endpoints"] == ["sms"]
    assert entry["details"]["settings"]["channels"]["sms"] == {"endpoint": attacker.url}
    assert entry["details"]["settings"]["daily_caps"] == {"sms": 2}
    # A code in the header does the same for a password-only token.
    moved = {"channels": {"sms": {"endpoint": attacker.url.replace("/hook", "/sms")}}}
    status, _ = api.call("PUT", "/v1/admin/messaging", moved, tenant.owner_token,
                         headers={"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)})  # fmt: skip
    assert status == 200
    assert audit_trail(api, tenant)[-1]["details"]["settings"]["channels"]["sms"]["endpoint"].endswith("/sms")


def test_operators_keep_the_changes_that_only_send_less(api: Api, tenant: Tenant, attacker: Receiver) -> None:
    configured = {"channels": {"sms": {"endpoint": attacker.url}, "email": {"sender": "news@shop.example.cn"}}}
    assert api.call("PUT", "/v1/admin/messaging", configured, tenant.totp_token())[0] == 200
    operator = tenant.operator("operator")
    calmer = {
        **configured, "paused": True, "quiet_hours": {"start": "21:00", "end": "09:00"},
        "daily_caps": {"sms": 1}, "max_attempts": 3, "locale": "en",
    }  # fmt: skip
    status, body = api.call("PUT", "/v1/admin/messaging", calmer, operator)
    assert status == 200, body
    # Switching the channel off is harmless; switching it back on points it at an endpoint again.
    status, body = api.call("PUT", "/v1/admin/messaging", {**calmer, "channels": {"sms": None}}, operator)
    assert status == 200 and body["channels"]["sms"] is None
    status, body = api.call("PUT", "/v1/admin/messaging", calmer, operator)
    assert (status, body["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    entry = audit_trail(api, tenant)[-1]
    assert entry["actor"] != tenant.owner_email and entry["details"]["new_endpoints"] == []
    assert entry["details"]["settings"]["quiet_hours"] == {"start": "21:00", "end": "09:00"}


def test_a_secret_in_an_endpoints_query_is_audited_only_as_a_fingerprint(api: Api, tenant: Tenant) -> None:
    owner = tenant.totp_token()
    shown = []
    for key in ("s3cr3t-one", "s3cr3t-two"):
        url = f"http://127.0.0.1:9/sms?account=shop&key={key}"
        assert api.call("PUT", "/v1/admin/messaging", {"channels": {"sms": {"endpoint": url}}}, owner)[0] == 200
        shown.append(audit_trail(api, tenant)[-1]["details"]["settings"]["channels"]["sms"]["endpoint"])
    assert all(s.startswith("http://127.0.0.1:9/sms?account=<secret:") and "&key=<secret:" in s for s in shown)
    assert "s3cr3t" not in json.dumps(audit_trail(api, tenant))
    # The same account, another key: a changed secret shows as a changed fingerprint.
    assert shown[0].split("&key=")[0] == shown[1].split("&key=")[0] and shown[0] != shown[1]


def test_an_owner_adds_a_webhook_endpoint_only_with_a_fresh_step_up(
    api: Api, tenant: Tenant, attacker: Receiver
) -> None:
    body = {"url": attacker.url, "events": ["reward.claimed"]}
    operator = tenant.operator("operator")
    status, error = api.call("POST", "/v1/admin/webhooks", body, operator)
    assert (status, error["error"]["code"]) == (403, "FORBIDDEN")
    tenant.totp_token()  # the owner is enrolled; the password-only token is not a step-up
    status, error = api.call("POST", "/v1/admin/webhooks", body, tenant.owner_token)
    assert (status, error["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    assert api.call("GET", "/v1/admin/webhooks", token=tenant.owner_token)[1]["items"] == []
    status, created = api.call("POST", "/v1/admin/webhooks", body, tenant.owner_token,
                               headers={"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)})  # fmt: skip
    assert status == 201, created
    entry = audit_trail(api, tenant)[-1]
    assert (entry["action"], entry["target"]) == ("webhook.create", created["id"])
    assert entry["details"] == {"url": attacker.url, "host": "127.0.0.1", "events": ["reward.claimed"]}


# ---- SMS bombing -------------------------------------------------------------------------------


def _sms(tenant: Tenant, phone: str) -> str:
    from chalicelib.messaging import messages
    from chalicelib.messaging.rules.messages import Recipient

    who = Recipient(uid=f"u_{uuid.uuid4().hex[:24]}", nickname="Mallory", phone=phone)
    mid = messages.enqueue(
        tenant.tid, who.uid, "sms", "welcome", {"campaign": "冬季邀请"}, message_key=uuid.uuid4().hex, due=NOON,
        recipient=who,
    )  # fmt: skip
    assert mid is not None
    return mid


def _deliver() -> None:
    from chalicelib.messaging import messages

    for _ in range(10):
        if sum(v for k, v in messages.deliver(NOON).items() if k != "skipped") == 0:
            break


def _status(mid: str) -> tuple[str, str | None]:
    from chalicelib.messaging.store import messages as store

    item = store.get(mid)
    assert item is not None
    return item.status, item.reason


def test_three_identities_with_one_phone_get_one_text_at_a_cap_of_one(
    api: Api, tenant: Tenant, attacker: Receiver
) -> None:
    wanted = {"channels": {"sms": {"endpoint": attacker.url}}, "daily_caps": {"sms": 1}}
    assert api.call("PUT", "/v1/admin/messaging", wanted, tenant.totp_token())[0] == 200
    # Three people (three external ids), one victim's number, written three ways.
    mids = [_sms(tenant, phone) for phone in ("13800007777", "+86 138 0000 7777", "138-0000-7777")]
    other = _sms(tenant, "13900008888")
    _deliver()
    # Whichever of the three is delivered first goes out, with the number as that person wrote it.
    to_victim = [r for r in attacker.requests if json.loads(r[1])["to"]["phone"] != "13900008888"]
    assert len(to_victim) == 1 and re.sub(r"\D", "", json.loads(to_victim[0][1])["to"]["phone"])[-11:] == "13800007777"
    capped = ("suppressed", "address_cap")
    assert sorted((_status(m) for m in mids), key=str) == sorted([("sent", None), capped, capped], key=str)
    assert _status(other) == ("sent", None)  # another number has its own day


def test_the_default_cap_of_three_holds_per_phone_across_five_identities(
    api: Api, tenant: Tenant, attacker: Receiver
) -> None:
    assert api.call("PUT", "/v1/admin/messaging", {"channels": {"sms": {"endpoint": attacker.url}}},
                    tenant.totp_token())[0] == 200  # fmt: skip
    mids = [_sms(tenant, "13700006666") for _ in range(5)]
    _deliver()
    assert len(attacker.requests) == 3
    assert sorted(_status(m)[0] for m in mids) == ["sent"] * 3 + ["suppressed"] * 2
