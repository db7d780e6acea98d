"""Every event the flows emit is delivered as docs/openapi.yaml's `webhooks` describe it, checked with jsonschema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests import contract
from tests.conftest import Api, Clock, Tenant, join, proof, standard_secret
from tests.integration.messaging.test_outbound_webhooks import Receiver, deliver, register
from tests.integration.modes.test_group_buy import group_campaign, join_group, open_group, participant
from tests.integration.modes.test_orders_distribution import chain, order, post_order
from tests.integration.referral.test_follow_hooks import secret
from tests.integration.referral.test_invite_rewards import invite_friends, ladder_campaign
from tests.integration.referral.test_reward_lifecycle import gift, my_rewards, pooled, upload

DOCUMENT_URI = "urn:fission:openapi"


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = contract.document()
    return loaded


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    """The request body schema of the document's `webhooks.<event_type>`, its `$ref`s resolved in the document."""
    hook = document()["webhooks"][event_type]["post"]
    ref = hook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document(), default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator({"$ref": DOCUMENT_URI + ref}, registry=registry)


@pytest.fixture
def receiver(tenant: Tenant) -> Iterator[Receiver]:
    healthy = Receiver(200, standard_secret(tenant.tid))
    yield healthy
    healthy.close()


def test_every_delivered_event_matches_its_webhook_schema(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock, app: Any, monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
) -> None:  # fmt: skip
    from chalicelib.entrypoints import events as handlers
    from chalicelib.messaging.rules.webhooks import EVENT_TYPES

    # GIVEN an endpoint subscribed to every event type
    register(tenant.tid, receiver.url)

    # WHEN a ladder pays a pooled coupon, a gift that is claimed and cash that is revoked
    rules = {
        "milestones": [{"invites": 1, "reward": gift("Tote bag", 3900)},
                       {"invites": 2, "reward": {"type": "cash", "name": "Cash", "value_fen": 800}}],
        "invitee_reward": pooled("Welcome", 300),
    }  # fmt: skip
    cid = ladder_campaign(api, tenant, rules)
    assert upload(api, tenant, cid, "invitee", ["WELCOME-1", "WELCOME-2"])[0] == 200
    inviter = join(api, cid, external_id="contract")[1]
    invite_friends(api, cid, inviter, 2)
    pump.drain()
    by_rule = {r["rule"]: r["id"] for r in my_rewards(api, cid, inviter)}
    address = {"name": "王小明", "phone": "13800138000", "province": "上海市", "city": "上海市",
               "district": "徐汇区", "line": "漕溪北路 88 号"}  # fmt: skip
    claim = api.call(
        "POST", f"/v1/rewards/{by_rule['m1']}/claim", {"address": address}, token=inviter["token"],
        headers=proof(api, inviter["token"]),
    )  # fmt: skip
    assert claim[0] == 200, claim
    revoke = f"/v1/admin/campaigns/{cid}/rewards/{by_rule['m2']}/revoke"
    assert api.call("POST", revoke, {"reason": "device farm"}, token=tenant.owner_token)[0] == 200

    # AND a group fills up (its leader's perk is issued) while another one runs out of time
    groups = group_campaign(api, tenant, deadline_hours=2)
    gid = open_group(api, groups, participant(api, groups), size=2)[1]["group_id"]
    assert join_group(api, gid, participant(api, groups))[1]["status"] == "succeeded"
    open_group(api, groups, participant(api, groups), size=3)
    pump.drain()

    # AND an order pays two levels of commission and is refunded
    shop, _, _, _ = chain(api, tenant)
    key = secret(api, tenant)
    for status in ("paid", "refunded"):
        answer = post_order(
            api, tenant, key, order(shop, "buyer", "o-contract", status), stamp=int(clock().timestamp())
        )
        assert answer[0] == 200, answer

    later = datetime.now(UTC) + timedelta(hours=3)
    clock.advance(hours=3)
    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    assert len(Scheduler(app, clock=lambda: later).invoke("fail_expired_groups")["failed"]) == 1
    deliver(app, monkeypatch, later + timedelta(seconds=1))

    # THEN every event type was delivered, and every body is what the document says it is
    events = receiver.events()
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    for event in events:
        problems = [error.message for error in validator(event["type"]).iter_errors(event)]
        assert not problems, (event, problems)
    claimed = next(e["data"] for e in events if e["type"] == "reward.claimed")
    assert claimed["address"] == address
    assert any("coupon_code" in e["data"] for e in events if e["type"] == "reward.issued")
