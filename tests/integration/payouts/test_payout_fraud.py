"""Fraud on the money side: an earner whose orders are refunded too often is held, a destination several wallets
withdraw to is flagged; flagged requests are never approved automatically, and finance still decides."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.core.errors import FissionError
from chalicelib.payouts import providers, withdrawals
from chalicelib.payouts.providers.base import Outcome, ProviderUnreachable, Result, Transfer
from chalicelib.payouts.rules.requests import WithdrawalCreate
from chalicelib.payouts.rules.risk import REFUND_HOLD_TEXT
from chalicelib.referral import identity
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, proof
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.payouts.conftest import Shop, withdraw

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def auto_approve(api: Api, tenant: Tenant, up_to: int = 10_000) -> None:
    policy = {"auto_approve_max_fen": up_to}
    assert api.call("PUT", "/v1/admin/payouts/settings", policy, token=tenant.stepped_token())[0] == 200


def queue(api: Api, tenant: Tenant, status: str) -> dict[str, dict[str, Any]]:
    status_code, page = api.call("GET", f"/v1/admin/payouts/withdrawals?status={status}",
                                 token=tenant.operator("finance"))  # fmt: skip
    assert status_code == 200, page
    return {w["withdrawal_id"]: w for w in page["items"]}


def orders(shop: Shop, prefix: str, paid: int, refunded: int = 0) -> None:
    """`paid` orders of 100 yuan (10 yuan of commission each), the first `refunded` of them refunded; the stream
    delivered once at the end (a drain per order is what makes these tests slow)."""
    sent = [order(shop.cid, shop.buyer, f"{prefix}-{i}", amount=10_000) for i in range(paid)]
    sent += [order(shop.cid, shop.buyer, f"{prefix}-{i}", "refunded") for i in range(refunded)]
    for event in sent:
        status, body = post_order(shop.api, shop.tenant, shop.key, event)
        assert status == 200, body
    shop.pump.drain()


class Payer:
    """A WeChat Pay stand-in that pays this tenant's transfers at once (another tenant's: unreachable)."""

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.paid: list[str] = []

    def submit(self, transfer: Transfer) -> Result:
        if transfer.tid != self.tid:
            raise ProviderUnreachable("another test's tenant")
        self.paid.append(transfer.wid)
        return Result(Outcome.SUCCEEDED, provider_ref=f"ref-{transfer.wid}")

    def query(self, transfer: Transfer) -> Result:
        raise ProviderUnreachable("not asked here")

    def notification(self, headers: Any, body: bytes) -> tuple[str, Result]:
        raise NotImplementedError


def test_refunds_above_the_rate_hold_requests_even_under_the_auto_approval_ceiling(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    auto_approve(api, tenant)
    orders(shop, "o", paid=5, refunded=2)  # 40 % refunded of 5 orders; 3,000 fen available
    status, held = withdraw(api, shop, 500, "key-00000001", method="wechat")
    assert status == 201 and held["status"] == "requested", held
    listed = queue(api, tenant, "requested")[held["withdrawal_id"]]
    assert listed["flags"] == ["REFUND_RATE_HOLD"] and listed["shared_destination_wallets"] == 1, listed

    # Finance may still approve it: an informed decision, audited with the flags.
    finance = tenant.totp_token("finance")
    ids = {"withdrawal_ids": [held["withdrawal_id"]]}
    status, decided = api.call("POST", "/v1/admin/payouts/withdrawals/approve", ids, token=finance)
    assert status == 200 and decided["items"][0]["status"] == "approved", decided
    trail = api.call("GET", "/v1/admin/audit?limit=50", token=tenant.owner_token)[1]["items"]
    approval = next(e for e in trail if e["action"] == "withdrawal.approve" and e["target"] == held["withdrawal_id"])
    assert approval["details"]["flags"] == ["REFUND_RATE_HOLD"], approval


def test_below_the_rate_nothing_changes(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    auto_approve(api, tenant)
    orders(shop, "o", paid=5, refunded=1)  # 20 %: under the default 30 %
    status, plain = withdraw(api, shop, 500, "key-00000001", method="wechat")
    assert status == 201 and plain["status"] == "approved", plain
    listed = queue(api, tenant, "approved")[plain["withdrawal_id"]]
    assert listed["flags"] == [] and listed["decided_by"] == "system:payouts", listed


def test_the_schedule_does_not_pay_a_held_wallets_approved_withdrawal_until_finance_approves_it_knowing(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = Shop(api, tenant, pump)
    auto_approve(api, tenant)
    orders(shop, "o", paid=5)
    status, approved = withdraw(api, shop, 500, "key-00000001", method="wechat")
    assert status == 201 and approved["status"] == "approved", approved
    for i in range(2):  # refunds after the approval: the wallet is held now
        shop.refunded(f"o-{i}")

    payer = Payer(tenant.tid)
    monkeypatch.setitem(providers.PROVIDERS, "wechat", lambda tid: payer)
    counts = withdrawals.pay_due(datetime.now(UTC))
    assert counts["held"] >= 1 and payer.paid == [], counts
    waiting = queue(api, tenant, "approved")[approved["withdrawal_id"]]
    assert (waiting["reason"], waiting["flags"]) == (REFUND_HOLD_TEXT, ["REFUND_RATE_HOLD"]), waiting
    withdrawals.pay_due(datetime.now(UTC))
    assert payer.paid == []

    # Approving it again acknowledges the hold: the next run pays it.
    ids = {"withdrawal_ids": [approved["withdrawal_id"]]}
    status, decided = api.call("POST", "/v1/admin/payouts/withdrawals/approve", ids, token=tenant.totp_token("finance"))
    assert status == 200 and decided["items"][0]["result"] == "done", decided
    withdrawals.pay_due(datetime.now(UTC))
    assert payer.paid == [approved["withdrawal_id"]]
    assert queue(api, tenant, "paid")[approved["withdrawal_id"]]["reason"] is None


def test_two_wallets_withdrawing_to_one_destination_are_both_flagged(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    first = Shop(api, tenant, pump, earner="earner-a", buyer="buyer-a")
    second = Shop(api, tenant, pump, earner="earner-b", buyer="buyer-b")
    auto_approve(api, tenant)
    orders(first, "a", paid=1)
    orders(second, "b", paid=1)
    status, one = withdraw(api, first, 500, "key-00000001", method="alipay", destination="Someone@Example.com")
    assert status == 201 and one["status"] == "approved", one  # nobody else had used it yet
    status, two = withdraw(api, second, 500, "key-00000002", method="alipay", destination="someone@example.com")
    assert status == 201 and two["status"] == "requested", two  # flagged: never approved automatically

    seen = queue(api, tenant, "approved") | queue(api, tenant, "requested")
    for w in (one, two):
        listed = seen[w["withdrawal_id"]]
        assert listed["flags"] == ["SHARED_DESTINATION"] and listed["shared_destination_wallets"] == 2, listed


def test_the_same_wallet_reusing_its_own_destination_is_not_flagged(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    auto_approve(api, tenant)
    shop.paid("o-1", 10_000)
    made = [withdraw(api, shop, 300, f"key-0000000{i}", method="wechat", destination=OPENID)[1] for i in (1, 2)]
    assert [w["status"] for w in made] == ["approved", "approved"], made
    listed = queue(api, tenant, "approved")
    for w in made:
        assert (
            listed[w["withdrawal_id"]]["flags"] == [] and listed[w["withdrawal_id"]]["shared_destination_wallets"] == 1
        )


def test_two_wallets_asking_at_once_with_one_destination_leave_at_least_the_second_flagged(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock
) -> None:
    shops = [Shop(api, tenant, pump, clock, earner=f"earner-{n}", buyer=f"buyer-{n}") for n in "ab"]
    auto_approve(api, tenant)
    for n, shop in zip("ab", shops, strict=True):
        orders(shop, n, paid=1)
    body = WithdrawalCreate(amount_fen=500, method="wechat", destination=OPENID)
    start = threading.Barrier(2)

    proofs = [identity.proof_from(proof(api, shop.earner["token"])) for shop in shops]

    def one(i: int) -> Any:
        shop, token = shops[i], shops[i].earner["token"]
        held = proofs[i]
        start.wait()
        try:
            return withdrawals.request(shop.cid, f"Bearer {token}", held, body, uuid.uuid4().hex, clock())[0]
        except FissionError as exc:
            return str(exc.code)

    outcomes: list[Any] = [None, None]
    threads = [threading.Thread(target=lambda i=i: outcomes.__setitem__(i, one(i))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert sorted(o["status"] for o in outcomes) in (["approved", "requested"], ["requested", "requested"]), outcomes
    seen = queue(api, tenant, "approved") | queue(api, tenant, "requested")
    for o in outcomes:
        assert seen[o["withdrawal_id"]]["flags"] == ["SHARED_DESTINATION"], seen
