"""Withdrawal requests under contention: parallel requests on one wallet never overdraw it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.core.errors import FissionError
from chalicelib.payouts import withdrawals
from chalicelib.payouts.rules.requests import WithdrawalCreate
from chalicelib.payouts.rules.wallet import Kind
from chalicelib.payouts.store import ledger
from chalicelib.referral import identity
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, proof
from tests.integration.payouts.conftest import Shop


def test_twenty_parallel_requests_never_overdraw_the_wallet(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock
) -> None:
    shop = Shop(api, tenant, pump, clock)
    shop.paid("o-1", 100_000)  # 10,000 fen of commission
    assert shop.wallet()["available_fen"] == 10_000
    token = shop.earner["token"]
    held = identity.proof_from(proof(api, token))
    body = WithdrawalCreate(amount_fen=700, method="wechat", destination="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")

    def one(_: int) -> Any:
        try:
            view, created = withdrawals.request(shop.cid, f"Bearer {token}", held, body, uuid.uuid4().hex, clock())
        except FissionError as exc:
            return str(exc.code)
        assert created
        return view

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))
    accepted = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert set(refused) <= {"INSUFFICIENT_BALANCE", "WALLET_BUSY"}, refused
    assert sum(o["amount_fen"] for o in accepted) <= 10_000
    assert len(accepted) >= 1
    wallet = shop.wallet()
    assert wallet["available_fen"] >= 0
    assert wallet["requested_fen"] == sum(o["amount_fen"] for o in accepted)
    earner = identity.by_code(shop.earner["invite_code"])
    assert earner is not None and earner.person is not None
    written = [e.key.removeprefix("E#W#") for e in ledger.wallet(tenant.tid, earner.person).entries
               if e.kind is Kind.WITHDRAWAL]  # fmt: skip
    assert sorted(written) == sorted(o["withdrawal_id"] for o in accepted)
