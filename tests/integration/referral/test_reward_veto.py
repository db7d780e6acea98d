"""The merchant's veto before a reward is issued: the delay, the signed validation callback, approval above a value."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Tenant, campaign_body, join, standard_secret, verify_delivery
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.referral.test_invite_rewards import coupon, invite_friends, ladder_campaign


class Merchant:
    """The merchant's validation endpoint: verifies each request as a Standard Webhooks receiver holding the tenant's
    secret would (the reference library), records it, and answers with the status and JSON body it is given (after
    `delay` seconds, to stand for a server that does not answer in time)."""

    def __init__(self, secret: str, status: int = 200, answer: dict[str, Any] | None = None, delay: float = 0) -> None:
        self.status, self.answer, self.delay = status, answer, delay
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.failures: list[str] = []
        merchant = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify_delivery(secret, headers, body)
                except Exception as exc:  # noqa: BLE001 - reported by close(), on the test's thread
                    merchant.failures.append(repr(exc))
                merchant.requests.append((headers, json.loads(body)))
                if merchant.delay:
                    time.sleep(merchant.delay)
                raw = json.dumps(merchant.answer).encode() if merchant.answer is not None else b""
                try:
                    self.send_response(merchant.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the caller gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/validate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        assert not self.failures, f"requests that do not verify with the tenant's whsec_ secret: {self.failures}"


@pytest.fixture
def merchant(tenant: Tenant) -> Iterator[Merchant]:
    found = Merchant(standard_secret(tenant.tid))
    yield found
    found.close()


def release(app: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> dict[str, int]:
    """One run of the release schedule at `moment`. It serves every tenant of the shared table, so tests assert on
    their own rewards' states (and the merchant's requests), never on the run's counts."""
    from chalicelib.entrypoints import events as handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: moment)
    return dict(Scheduler(app, clock=lambda: moment).invoke("release_rewards"))


def rewards_of(api: Api, cid: str, participant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])
    assert status == 200, me
    return {r["rule"]: r for r in me["rewards"]}


def vetoed_campaign(api: Api, tenant: Tenant, value: int = 500, stock: int = 10, **veto: Any) -> str:
    rules = {"milestones": [{"invites": 2, "reward": coupon("Gift", value, stock=stock)}]}
    if "validation_url" not in veto:
        return ladder_campaign(api, tenant, rules, **veto)
    body = campaign_body("invite", **veto)
    body["rules"] = rules
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.stepped_token())
    assert status == 201, created
    cid = str(created["campaign_id"])
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    return cid


def earn(api: Api, pump: StreamPump, cid: str, name: str = "inviter") -> dict[str, Any]:
    inviter = join(api, cid, external_id=name)[1]
    invite_friends(api, cid, inviter, 2)
    deliver_every_batch_twice(pump)
    pump.drain()
    return dict(inviter)


def stock_left(cid: str) -> int:
    from chalicelib.referral.store.rewards import stock_left as read

    return read(cid, ["m1"])["m1"]


def test_a_campaign_without_a_veto_issues_at_once(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = vetoed_campaign(api, tenant)
    inviter = earn(api, pump, cid)
    reward = rewards_of(api, cid, inviter)["m1"]
    assert (reward["status"], reward["release_at"]) == ("issued", None)


def test_a_delayed_reward_is_held_until_the_delay_passes_then_issued_exactly_once(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = vetoed_campaign(api, tenant, reward_delay_hours=48)
    inviter = earn(api, pump, cid)
    held = rewards_of(api, cid, inviter)["m1"]
    assert (held["status"], held["reason_code"], held["issued_at"]) == ("pending_release", "REWARD_DELAYED", None)
    release_at = datetime.fromisoformat(held["release_at"].replace("Z", "+00:00"))
    assert timedelta(hours=47) < release_at - datetime.now(UTC) <= timedelta(hours=48)
    assert stock_left(cid) == 9  # owed from the start: its stock is taken while it is held
    status, body = api.call("POST", f"/v1/rewards/{held['id']}/claim", {}, token=inviter["token"])
    assert (status, body["error"]["code"]) == (409, "REWARD_PENDING_RELEASE")

    release(app, monkeypatch, datetime.now(UTC) + timedelta(hours=47))
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "pending_release"
    later = datetime.now(UTC) + timedelta(hours=49)
    release(app, monkeypatch, later)
    issued = rewards_of(api, cid, inviter)["m1"]
    assert (issued["status"], issued["release_at"], issued["reason_code"]) == ("issued", None, None)
    release(app, monkeypatch, later + timedelta(minutes=1))  # the schedule runs again: issued once
    assert rewards_of(api, cid, inviter)["m1"] == issued
    assert stock_left(cid) == 9


def test_a_held_reward_takes_stock_so_one_earned_after_it_ran_out_is_unavailable(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = vetoed_campaign(api, tenant, stock=1, reward_delay_hours=24)
    first, second = earn(api, pump, cid, "first"), earn(api, pump, cid, "second")
    assert rewards_of(api, cid, first)["m1"]["status"] == "pending_release"
    late = rewards_of(api, cid, second)["m1"]
    assert (late["status"], late["reason_code"], late["release_at"]) == ("unavailable", "STOCK_EXHAUSTED", None)


def test_a_revoke_during_the_hold_voids_the_reward_and_returns_its_stock(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = vetoed_campaign(api, tenant, reward_delay_hours=24)
    inviter = earn(api, pump, cid)
    rid = rewards_of(api, cid, inviter)["m1"]["id"]
    path = f"/v1/admin/campaigns/{cid}/rewards/{rid}/revoke"
    status, voided = api.call("POST", path, {"reason": "order returned"}, token=tenant.owner_token)
    assert status == 200, voided
    assert (voided["status"], voided["reason"], voided["reason_code"]) == (
        "voided",
        "order returned",
        "OPERATOR_REVOKED",
    )
    assert stock_left(cid) == 10
    release(app, monkeypatch, datetime.now(UTC) + timedelta(hours=25))
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "voided"
    status, again = api.call("POST", path, {"reason": "order returned"}, token=tenant.owner_token)
    assert (status, again["error"]["code"]) == (409, "REWARD_VOIDED")


def test_only_an_owner_with_a_step_up_sets_a_validation_url_and_it_passes_the_egress_guard(
    api: Api, tenant: Tenant, merchant: Merchant
) -> None:
    body = campaign_body("invite", validation_url=merchant.url)
    operator = tenant.operator("operator")
    status, refused = api.call("POST", "/v1/admin/campaigns", body, token=operator)
    assert (status, refused["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")
    status, refused = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert (status, refused["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    private = campaign_body("invite", validation_url="http://merchant.example.cn/validate")
    status, refused = api.call("POST", "/v1/admin/campaigns", private, token=tenant.stepped_token())
    assert (status, refused["error"]["code"]) == (422, "INVALID_URL")
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.stepped_token())
    assert status == 201, created
    assert created["validation_url"] == merchant.url
    # Other edits need no step-up; pointing it elsewhere does.
    cid = created["campaign_id"]
    edit = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "Renamed"}, token=operator)
    assert edit[0] == 200, edit
    moved = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"validation_url": merchant.url + "2"}, token=operator)
    assert (moved[0], moved[1]["error"]["code"]) == (403, "EGRESS_OWNER_ONLY")


def test_a_reward_the_merchant_validates_with_2xx_is_issued_and_the_request_is_signed(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = vetoed_campaign(api, tenant, validation_url=merchant.url)
    inviter = earn(api, pump, cid)
    held = rewards_of(api, cid, inviter)["m1"]
    assert (held["status"], held["reason_code"]) == ("pending_release", "AWAITING_VALIDATION")
    assert merchant.requests == []  # never from the stream or a request: the schedule asks
    release(app, monkeypatch, datetime.now(UTC))
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "issued"
    [(headers, sent)] = merchant.requests
    assert headers["webhook-id"] == f"rv_{held['id']}"
    assert sent["type"] == "reward.validate"
    assert (sent["campaign_id"], sent["reward_id"], sent["rule"], sent["participant"]) == (
        cid, held["id"], "m1", inviter["invite_code"],
    )  # fmt: skip
    assert sent["reward"] == {"type": "coupon", "name": "Gift", "value_fen": 500, "points": 0}
    assert (len(sent["invitees"]), sent["invitee_count"], sent["attempt"]) == (2, 2, 1)


def test_a_reward_the_merchant_refuses_is_voided_with_its_reason(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant.status, merchant.answer = 409, {"reason": "  order 1001 was refunded " + "x" * 300}
    cid = vetoed_campaign(api, tenant, validation_url=merchant.url)
    inviter = earn(api, pump, cid)
    release(app, monkeypatch, datetime.now(UTC))
    voided = rewards_of(api, cid, inviter)["m1"]
    assert (voided["status"], voided["reason_code"]) == ("voided", "MERCHANT_REJECTED")
    assert voided["reason"].startswith("order 1001 was refunded x") and len(voided["reason"]) == 200
    assert stock_left(cid) == 10
    release(app, monkeypatch, datetime.now(UTC) + timedelta(hours=2))
    assert rewards_of(api, cid, inviter)["m1"] == voided
    assert len(merchant.requests) == 1


def test_an_existing_customer_answer_voids_the_reward(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant.answer = {"existing_customer": True}
    cid = vetoed_campaign(api, tenant, validation_url=merchant.url)
    inviter = earn(api, pump, cid)
    release(app, monkeypatch, datetime.now(UTC))
    voided = rewards_of(api, cid, inviter)["m1"]
    assert (voided["status"], voided["reason_code"]) == ("voided", "EXISTING_CUSTOMER")


@pytest.mark.parametrize(("default", "final"), [("void", "voided"), ("issue", "issued")])
def test_an_unanswered_validation_retries_with_backoff_then_follows_the_campaign_default(
    app: Any,
    api: Api,
    tenant: Tenant,
    pump: StreamPump,
    merchant: Merchant,
    monkeypatch: pytest.MonkeyPatch,
    default: str,
    final: str,
) -> None:
    from chalicelib.referral.rules import release as rules

    monkeypatch.setattr(rules, "TIMEOUT_SECONDS", 0.2)
    merchant.delay = 0.5  # longer than the timeout: no answer
    cid = vetoed_campaign(api, tenant, validation_url=merchant.url, validation_default=default)
    inviter = earn(api, pump, cid)
    moment = datetime.now(UTC)
    for attempt in range(1, rules.MAX_ATTEMPTS):
        release(app, monkeypatch, moment)
        assert len(merchant.requests) == attempt
        # Not asked again before the backoff has passed.
        release(app, monkeypatch, moment + timedelta(seconds=rules.backoff_seconds(attempt) - 5))
        assert len(merchant.requests) == attempt
        moment += timedelta(seconds=rules.backoff_seconds(attempt) + 1)
    waiting = rewards_of(api, cid, inviter)["m1"]
    assert (waiting["status"], waiting["reason_code"]) == ("pending_release", "AWAITING_VALIDATION")
    release(app, monkeypatch, moment)
    reward = rewards_of(api, cid, inviter)["m1"]
    assert reward["status"] == final
    if final == "voided":
        assert reward["reason_code"] == "VALIDATION_UNANSWERED"
    assert [sent["attempt"] for _, sent in merchant.requests] == list(range(1, rules.MAX_ATTEMPTS + 1))


def test_a_reward_above_the_approval_limit_waits_for_an_operator_who_approves_or_rejects_it(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = vetoed_campaign(api, tenant, value=5000, approval_above_fen=2000)
    first, second = earn(api, pump, cid, "first"), earn(api, pump, cid, "second")
    held = rewards_of(api, cid, first)["m1"]
    assert (held["status"], held["reason_code"]) == ("pending_release", "REWARD_ABOVE_LIMIT")
    status, queue = api.call("GET", f"/v1/admin/reviews?campaign_id={cid}", token=tenant.owner_token)
    assert status == 200, queue
    reviews = {r["subject"]: r for r in queue["items"]}
    assert set(reviews) == {held["id"], rewards_of(api, cid, second)["m1"]["id"]}
    review = reviews[held["id"]]
    assert (review["kind"], review["reason_code"], review["reasons"][0]["code"]) == (
        "reward", "REWARD_ABOVE_LIMIT", "REWARD_ABOVE_LIMIT",
    )  # fmt: skip
    # The schedule does not issue it: it parks it for the operator.
    release(app, monkeypatch, datetime.now(UTC))
    for who in (first, second):
        parked = rewards_of(api, cid, who)["m1"]
        assert (parked["status"], parked["release_at"]) == ("pending_release", None)

    status, approved = api.call("POST", f"/v1/admin/reviews/{review['id']}/approve", {"reason": "checked the order"},
                                token=tenant.owner_token)  # fmt: skip
    assert (status, approved["status"]) == (200, "approved"), approved
    assert rewards_of(api, cid, first)["m1"]["status"] == "issued"
    repeat = api.call("POST", f"/v1/admin/reviews/{review['id']}/approve", {"reason": "checked the order"},
                      token=tenant.owner_token)  # fmt: skip
    assert repeat[0] == 200
    assert rewards_of(api, cid, first)["m1"]["status"] == "issued"

    other = reviews[rewards_of(api, cid, second)["m1"]["id"]]["id"]
    status, rejected = api.call("POST", f"/v1/admin/reviews/{other}/reject", {"reason": "a ring of accounts"},
                                token=tenant.owner_token)  # fmt: skip
    assert (status, rejected["status"]) == (200, "rejected")
    voided = rewards_of(api, cid, second)["m1"]
    assert (voided["status"], voided["reason"], voided["reason_code"]) == (
        "voided", "a ring of accounts", "OPERATOR_REJECTED",
    )  # fmt: skip
    release(app, monkeypatch, datetime.now(UTC) + timedelta(days=1))
    assert rewards_of(api, cid, second)["m1"] == voided

    from chalicelib.accounts.store import audit as audit_store

    audited = {(e.actor, e.action) for e in audit_store.entries_ascending(tenant.tid)}
    owner = tenant.owner_email
    assert {(owner, "review.approve"), (owner, "review.reject"), (owner, "reward.void")} <= audited


def test_an_approval_given_during_the_delay_lets_the_schedule_issue_it_when_due(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = vetoed_campaign(api, tenant, value=5000, approval_above_fen=2000, reward_delay_hours=24)
    inviter = earn(api, pump, cid)
    rid = f"reward-{rewards_of(api, cid, inviter)['m1']['id']}"
    status, body = api.call("POST", f"/v1/admin/reviews/{rid}/approve", {"reason": "ok"}, token=tenant.owner_token)
    assert status == 200, body
    held = rewards_of(api, cid, inviter)["m1"]
    assert (held["status"], held["reason_code"]) == ("pending_release", "REWARD_DELAYED")
    release(app, monkeypatch, datetime.now(UTC) + timedelta(hours=25))
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "issued"


# --- existing customers -------------------------------------------------------------------------


def report_existing(api: Api, tenant: Tenant, cid: str, external_ids: list[str]) -> dict[str, Any]:
    from tests.integration.accounts.test_api_keys import make_key

    key = make_key(api, tenant, ["participants:write"])["key"]
    path = f"/v1/server/campaigns/{cid}/existing-customers"
    status, body = api.call("POST", path, {"external_ids": external_ids}, token=key)
    assert status == 200, body
    return dict(body)


def test_an_invitee_reported_as_an_existing_customer_counts_for_nobody(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    rules = {"milestones": [{"invites": 2, "reward": coupon("Gift", 500)}], "invitee_reward": coupon("Hi", 100)}
    cid = ladder_campaign(api, tenant, rules)
    inviter = join(api, cid, external_id="inviter")[1]
    # Reported before they join: the report is kept by the id, joined or not.
    assert report_existing(api, tenant, cid, ["old-1", "old-1", "old-2"]) == {
        "reported": 2, "new": 2, "voided_rewards": 0,
    }  # fmt: skip
    assert report_existing(api, tenant, cid, ["old-1"])["new"] == 0
    code = inviter["invite_code"]
    old = [join(api, cid, external_id=f"old-{i}", ref=code)[1] for i in (1, 2)]
    new = join(api, cid, external_id="new-1", ref=code)[1]
    deliver_every_batch_twice(pump)
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
    assert me["rewards"] == []  # two joined through the link, one counts: the milestone of two is not reached
    assert rewards_of(api, cid, new)["invitee"]["status"] == "issued"
    for friend in old:
        assert rewards_of(api, cid, friend) == {}
    join(api, cid, external_id="new-2", ref=code)
    pump.drain()
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "issued"


def test_a_report_voids_the_held_rewards_that_rest_on_the_customer(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {"milestones": [{"invites": 2, "reward": coupon("Gift", 500)}], "invitee_reward": coupon("Hi", 100)}
    cid = ladder_campaign(api, tenant, rules, reward_delay_hours=24)
    inviter = join(api, cid, external_id="inviter")[1]
    friends = invite_friends(api, cid, inviter, 2)
    pump.drain()
    assert rewards_of(api, cid, inviter)["m1"]["status"] == "pending_release"
    reported = report_existing(api, tenant, cid, [f"friend-{inviter['invite_code']}-0"])
    assert reported["voided_rewards"] == 2  # the inviter's milestone and the friend's own invitee reward
    voided = rewards_of(api, cid, inviter)["m1"]
    assert (voided["status"], voided["reason_code"]) == ("voided", "EXISTING_CUSTOMER")
    assert rewards_of(api, cid, friends[0])["invitee"]["status"] == "voided"
    assert rewards_of(api, cid, friends[1])["invitee"]["status"] == "pending_release"


def test_an_existing_customers_order_earns_nobody_commission(api: Api, tenant: Tenant) -> None:
    from tests.integration.modes.test_orders_distribution import chain, commission, order, post_order
    from tests.integration.referral.test_follow_hooks import secret

    cid, top, mid, buyer = chain(api, tenant)
    report_existing(api, tenant, cid, ["buyer"])
    status, body = post_order(api, tenant, secret(api, tenant), order(cid, "buyer", "o-old"))
    assert (status, body["result"], body["commissions"]) == (200, "recorded", [])
    for who in (mid, top):
        assert commission(api, cid, who) == {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 0}
    # Another buyer's order still earns.
    join(api, cid, external_id="fresh", ref=mid["invite_code"])
    assert post_order(api, tenant, secret(api, tenant), order(cid, "fresh", "o-new"))[1]["commissions"]
