"""Helpers of the payouts tests: a distribution chain whose commissions reach the wallets through the stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.payments.server import PaymentsStandIn
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.modes.test_orders_distribution import order, post_order


@pytest.fixture(scope="module")
def payments() -> Iterator[PaymentsStandIn]:
    """The WeChat Pay and Alipay fakes (local/payments/) on a free port, with fresh keys; transfers settle at once."""
    standin = PaymentsStandIn(hang_seconds=1.0)
    standin.start()
    yield standin
    standin.stop()


class Shop:
    """A distribution campaign in which `earner` invited the buyer: each order earns the earner 10 %, available
    at once unless `frozen_days` says otherwise. Another `earner` (and buyer) name is another person's wallet."""

    def __init__(
        self, api: Api, tenant: Tenant, pump: StreamPump, clock: Clock | None = None, frozen_days: int = 0,
        earner: str = "earner", buyer: str = "buyer",
    ) -> None:  # fmt: skip
        self.api, self.tenant, self.pump, self.clock, self.buyer = api, tenant, pump, clock, buyer
        rules = {"levels": 1, "rates_bp": [1000], "binding": "first_click", "frozen_days": frozen_days}
        self.cid = live_campaign(api, tenant, "distribution", rules=rules)
        self.earner: dict[str, Any] = join(self.api, self.cid, external_id=earner)[1]
        join(self.api, self.cid, external_id=buyer, ref=self.earner["invite_code"])
        # The tenant's current signing key, as `GET /v1/admin/webhook-secret` shows it (without a TOTP login here).
        from chalicelib.accounts import webhook_secret

        self.key = webhook_secret.signing_keys(tenant.tid, datetime.now(UTC)).current
        deliver_every_batch_twice(pump)

    def _stamp(self) -> int | None:
        return int(self.clock().timestamp()) if self.clock else None

    def paid(self, oid: str, amount: int) -> None:
        """An order of `amount` fen (the earner gets a tenth), its commission delivered to the wallet."""
        status, body = post_order(self.api, self.tenant, self.key, order(self.cid, self.buyer, oid, amount=amount),
                                  stamp=self._stamp())  # fmt: skip
        assert status == 200, body
        self.pump.drain()

    def refunded(self, oid: str) -> None:
        status, body = post_order(self.api, self.tenant, self.key, order(self.cid, self.buyer, oid, "refunded"),
                                  stamp=self._stamp())  # fmt: skip
        assert status == 200, body
        self.pump.drain()

    def wallet(self) -> dict[str, int]:
        status, me = self.api.call("GET", f"/v1/campaigns/{self.cid}/me", token=self.earner["token"])
        assert status == 200, me
        return dict(me["wallet"])


def withdraw(api: Api, shop: Shop, amount: int, key: str, method: str = "bank", **extra: Any) -> tuple[int, Any]:
    """A withdrawal request with fresh proof and `key` as its Idempotency-Key."""
    from tests.conftest import proof

    token = shop.earner["token"]
    body = {"amount_fen": amount, "method": method, **extra}
    if "destination" not in body:
        body["destination"] = "6222020200112233445" if method == "bank" else "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    if method == "bank" and "name" not in body:
        body["name"] = "王小明"
    headers = {**proof(api, token), "Idempotency-Key": key}
    return api.call("POST", f"/v1/campaigns/{shop.cid}/me/withdrawals", body, token=token, headers=headers)
