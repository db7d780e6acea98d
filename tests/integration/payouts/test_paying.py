"""The paying schedule: approved WeChat Pay withdrawals are submitted once, unknown outcomes are asked about
before anything is sent again, failures give the money back, and a method without a provider waits for finance."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.errors import FissionError
from chalicelib.payouts import providers, withdrawals
from chalicelib.payouts.providers.base import BadNotification, Outcome, ProviderUnreachable, Result, Transfer
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Tenant
from tests.integration.payouts.conftest import Shop, withdraw


class FakeWechatPay:
    """Answers by the net amount: 1001 pays, 1002 fails, 1003 is accepted then paid, 1004 times out unseen."""

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.submitted: list[int] = []
        self.received: set[str] = set()

    def submit(self, transfer: Transfer) -> Result:
        if transfer.tid != self.tid:
            raise ProviderUnreachable("another test's tenant")
        self.submitted.append(transfer.amount_fen)
        if transfer.amount_fen == 1004 and self.submitted.count(1004) == 1:
            raise ProviderUnreachable("timed out before the provider saw it")
        self.received.add(transfer.wid)
        outcome = {1002: Outcome.FAILED, 1003: Outcome.ACCEPTED}.get(transfer.amount_fen, Outcome.SUCCEEDED)
        return Result(
            outcome, provider_ref=f"ref-{transfer.amount_fen}", reason="NAME_MISMATCH" if outcome == "failed" else None
        )

    def query(self, transfer: Transfer) -> Result:
        if transfer.tid != self.tid:
            raise ProviderUnreachable("another test's tenant")
        if transfer.wid not in self.received:
            return Result(Outcome.NOT_FOUND)
        return Result(Outcome.SUCCEEDED, provider_ref=f"ref-{transfer.amount_fen}")

    def notification(self, headers: Mapping[str, str], body: bytes) -> tuple[str, Result]:
        """The body is the withdrawal id here; the real providers verify a signature and decrypt."""
        if headers.get("signature") != "ok":
            raise BadNotification("signature")
        return body.decode(), Result(Outcome.SUCCEEDED, provider_ref="ref-callback")


def test_the_schedule_pays_settles_and_gives_back(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from chalicelib.entrypoints import events as handlers

    shop = Shop(api, tenant, pump)
    shop.paid("o-1", 100_000)  # 10,000 fen available
    made = {
        amount: withdraw(api, shop, amount, f"key-{amount:08d}", method="wechat")[1] for amount in range(1001, 1005)
    }
    made[1005] = withdraw(api, shop, 1005, "key-00001005", method="alipay")[1]
    ids = [w["withdrawal_id"] for w in made.values()]
    stepped = tenant.stepped_token()
    assert api.call("POST", "/v1/admin/payouts/withdrawals/approve", {"withdrawal_ids": ids}, token=stepped)[0] == 200

    fake = FakeWechatPay(tenant.tid)
    monkeypatch.setitem(providers.PROVIDERS, "wechat", lambda tid: fake)
    moment = [datetime.now(UTC)]
    monkeypatch.setattr(handlers, "utcnow", lambda: moment[0])
    scheduler = Scheduler(app, clock=lambda: moment[0])

    def statuses() -> dict[int, tuple[str, str | None]]:
        items = api.call("GET", f"/v1/campaigns/{shop.cid}/me/withdrawals", token=shop.earner["token"])[1]["items"]
        return {w["amount_fen"]: (w["status"], w["reason"]) for w in items}

    scheduler.invoke("pay_withdrawals")
    assert statuses() == {
        1001: ("paid", None), 1002: ("failed", "NAME_MISMATCH"), 1003: ("paying", None), 1004: ("paying", None),
        1005: ("approved", "no payout provider for this method yet: pay it by hand and mark it paid"),
    }  # fmt: skip
    # The provider's callback settles the accepted one; a repeat changes nothing, a forged one is refused.
    accepted = made[1003]["withdrawal_id"]
    for _ in range(2):
        answer = withdrawals.notified(tenant.tid, "wechat", {"signature": "ok"}, accepted.encode(), moment[0])
        assert answer["result"] == "paid"
    with pytest.raises(FissionError) as refused:
        withdrawals.notified(tenant.tid, "wechat", {}, accepted.encode(), moment[0])
    assert refused.value.code == "INVALID_SIGNATURE"
    moment[0] += timedelta(minutes=2)  # the one still paying is asked about: never received, so it is sent again
    scheduler.invoke("pay_withdrawals")
    assert {a: s for a, (s, _) in statuses().items()} == {
        1001: "paid",
        1002: "failed",
        1003: "paid",
        1004: "paid",
        1005: "approved",
    }
    assert sorted(fake.submitted) == [1001, 1002, 1003, 1004, 1004]
    scheduler.invoke("pay_withdrawals")  # nothing left to do for this tenant
    assert sorted(fake.submitted) == [1001, 1002, 1003, 1004, 1004]
    assert shop.wallet() == {
        "pending_fen": 0, "available_fen": 10_000 - 1001 - 1003 - 1004 - 1005, "requested_fen": 1005,
        "paid_fen": 1001 + 1003 + 1004, "earned_fen": 10_000, "clawed_back_fen": 0,
    }  # fmt: skip
