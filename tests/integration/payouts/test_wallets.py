"""Wallets are credited from the stream, once, and show in the earner's own view."""

from __future__ import annotations

from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant
from tests.integration.payouts.conftest import Shop


def test_commission_and_clawback_reach_the_wallet_once_each(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock
) -> None:
    shop = Shop(api, tenant, pump, clock, frozen_days=7)  # every batch is delivered twice
    shop.paid("o-1", 10_000)
    shop.paid("o-2", 5_000)
    assert shop.wallet() == {
        "pending_fen": 1500, "available_fen": 0, "requested_fen": 0, "paid_fen": 0, "earned_fen": 1500,
        "clawed_back_fen": 0,
    }  # fmt: skip
    clock.advance(days=8)
    shop.refunded("o-2")
    assert shop.wallet() == {
        "pending_fen": 0, "available_fen": 1000, "requested_fen": 0, "paid_fen": 0, "earned_fen": 1500,
        "clawed_back_fen": 500,
    }  # fmt: skip
