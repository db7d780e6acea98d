"""Withdrawals through the API: requests, the owner's policy, finance's decisions and payments, refunds after."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from local.pump import StreamPump
from tests.conftest import Api, Tenant
from tests.integration.payouts.conftest import Shop, withdraw


def test_a_request_is_idempotent_by_key_and_follows_the_owners_policy(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    shop.paid("o-1", 50_000)  # 5,000 fen available
    cid, token = shop.cid, shop.earner["token"]

    status, first = withdraw(api, shop, 1000, "key-00000001")
    assert status == 201 and first["status"] == "requested" and first["destination"] == "****3445", first
    status, again = withdraw(api, shop, 1000, "key-00000001")
    assert (status, again["withdrawal_id"]) == (200, first["withdrawal_id"])
    status, body = withdraw(api, shop, 2000, "key-00000001")
    assert (status, body["error"]["code"]) == (409, "WITHDRAWAL_KEY_CONFLICT")
    body = {"amount_fen": 1000, "method": "wechat", "destination": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    status, refused = api.call("POST", f"/v1/campaigns/{cid}/me/withdrawals", body, token=token,
                               headers={"Idempotency-Key": "key-00000002"})  # fmt: skip
    assert (status, refused["error"]["code"]) == (401, "PROOF_REQUIRED")
    status, refused = withdraw(api, shop, 4001, "key-00000003")
    assert (status, refused["error"]["code"]) == (409, "INSUFFICIENT_BALANCE")

    # The owner's policy: a higher minimum, a fee, automatic approval of small amounts; step-up required.
    policy = {"min_withdraw_fen": 500, "fee_bp": 100, "fee_min_fen": 10, "auto_approve_max_fen": 800}
    status, body = api.call("PUT", "/v1/admin/payouts/settings", policy, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    finance = tenant.operator("finance")
    assert api.call("PUT", "/v1/admin/payouts/settings", policy, token=finance)[0] == 403
    status, saved = api.call("PUT", "/v1/admin/payouts/settings", policy, token=tenant.stepped_token())
    assert status == 200 and saved["configured"] and saved["settings"]["fee_bp"] == 100, saved
    assert api.call("GET", "/v1/admin/payouts/settings", token=finance)[1]["version"] == 1

    status, refused = withdraw(api, shop, 499, "key-00000004")
    assert (status, refused["error"]["code"]) == (400, "WITHDRAWAL_BELOW_MINIMUM")
    status, small = withdraw(api, shop, 800, "key-00000005", method="wechat")
    assert status == 201 and small["status"] == "approved", small
    assert (small["fee_fen"], small["net_fen"]) == (10, 790)

    status, mine = api.call("GET", f"/v1/campaigns/{cid}/me/withdrawals", token=token)
    # Newest first; two requests within one second (the timestamps' precision) may come in either order.
    assert {w["withdrawal_id"] for w in mine["items"]} == {small["withdrawal_id"], first["withdrawal_id"]}
    assert [w["created_at"] for w in mine["items"]] == sorted((w["created_at"] for w in mine["items"]), reverse=True)
    status, wallet = api.call("GET", f"/v1/campaigns/{cid}/me/wallet", token=token)
    assert status == 200 and wallet["balances"]["available_fen"] == 5000 - 1000 - 800, wallet
    assert wallet["balances"]["requested_fen"] == 1800 and wallet["policy"]["min_withdraw_fen"] == 500


def test_finance_decides_in_batches_pays_by_bank_and_a_refund_after_payout_is_repaid_later(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    shop.paid("o-1", 30_000)  # 3,000 fen available
    paid = withdraw(api, shop, 3000 - 1000, "key-00000010")[1]
    dropped = withdraw(api, shop, 1000, "key-00000011")[1]
    ids = [paid["withdrawal_id"], dropped["withdrawal_id"]]

    plain = tenant.operator("finance")
    status, body = api.call("POST", "/v1/admin/payouts/withdrawals/approve", {"withdrawal_ids": ids}, token=plain)
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    status, queue = api.call("GET", "/v1/admin/payouts/withdrawals?status=requested", token=plain)
    assert status == 200 and sorted(w["withdrawal_id"] for w in queue["items"]) == sorted(ids)
    assert queue["items"][0]["name"] == "王**"

    finance = tenant.totp_token("finance")
    status, body = api.call("POST", "/v1/admin/payouts/withdrawals/reject", {"withdrawal_ids": ids}, token=finance)
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")  # a rejection says why
    reject = {"withdrawal_ids": [dropped["withdrawal_id"]], "reason": "账户信息有误"}
    status, decided = api.call("POST", "/v1/admin/payouts/withdrawals/reject", reject, token=finance)
    assert status == 200 and decided["items"][0]["result"] == "done", decided
    status, decided = api.call("POST", "/v1/admin/payouts/withdrawals/approve", {"withdrawal_ids": ids}, token=finance)
    assert [(d["result"], d["status"]) for d in decided["items"]] == [("done", "approved"), ("unchanged", "rejected")]
    assert shop.wallet()["available_fen"] == 1000  # the rejected 1,000 came back

    status, text = transfers(api, finance)
    assert status == 200
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:4] == [paid["withdrawal_id"], "王小明", "6222020200112233445", "20.00"]
    wid = paid["withdrawal_id"]
    status, done = api.call("POST", f"/v1/admin/payouts/withdrawals/{wid}/paid", {"reference": "CMB-1"}, token=finance)
    assert status == 200 and done["status"] == "paid" and done["provider_ref"] == "CMB-1", done
    status, again = api.call("POST", f"/v1/admin/payouts/withdrawals/{wid}/paid", {"reference": "CMB-2"}, token=finance)
    assert (status, again["error"]["code"]) == (409, "WITHDRAWAL_STATE")
    assert shop.wallet()["paid_fen"] == 2000

    # The order is refunded after its commission was paid out: the wallet owes it, the next commission repays.
    shop.refunded("o-1")
    owed = shop.wallet()
    assert owed["available_fen"] == -2000 and owed["clawed_back_fen"] == 3000, owed
    assert withdraw(api, shop, 100, "key-00000012")[1]["error"]["code"] == "INSUFFICIENT_BALANCE"
    shop.paid("o-2", 25_000)
    assert shop.wallet()["available_fen"] == 500

    uid = done["uid"]
    status, wallet = api.call("GET", f"/v1/admin/payouts/wallets/{uid}", token=plain)
    assert status == 200 and wallet["balances"]["available_fen"] == 500
    kinds = [e["kind"] for e in wallet["entries"]]
    assert sorted(kinds) == sorted(["commission", "commission", "clawback", "withdrawal", "withdrawal", "paid",
                                    "return"])  # fmt: skip
    assert api.call("GET", "/v1/admin/payouts/wallets/u_nobody", token=plain)[0] == 404
    actions = {e["action"] for e in api.call("GET", "/v1/admin/audit?limit=50", token=tenant.owner_token)[1]["items"]}
    assert {"withdrawal.approve", "withdrawal.reject", "withdrawal.mark_paid", "withdrawal.bank_export"} <= actions


def transfers(api: Api, token: str) -> tuple[int, str]:
    response = api.client.http.get("/v1/admin/payouts/bank-transfers", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.body.decode()
