"""A person's wallet in the data-subject export and the erasure: balances and withdrawals exported with the
destinations masked; an erasure keeps the money records but forgets where the money went and to whom."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.payouts.store import ledger
from local.pump import StreamPump
from tests.conftest import Api, Tenant, proof
from tests.integration.payouts.conftest import Shop, withdraw


def test_the_export_has_the_wallet_and_the_erasure_keeps_the_money_but_not_the_destinations(
    api: Api, tenant: Tenant, pump: StreamPump, client_ip: Callable[[], str]
) -> None:
    shop = Shop(api, tenant, pump)
    shop.paid("o-1", 50_000)  # 5,000 fen available
    token = shop.earner["token"]
    paid = withdraw(api, shop, 1000, "key-priv-0001")[1]["withdrawal_id"]  # bank, with the holder's name
    waiting = withdraw(api, shop, 700, "key-priv-0002", method="alipay", destination="2088000000000001")[1]
    finance = tenant.stepped_token()
    api.call("POST", "/v1/admin/payouts/withdrawals/approve", {"withdrawal_ids": [paid]}, token=finance)
    marked = api.call("POST", f"/v1/admin/payouts/withdrawals/{paid}/paid", {"reference": "BANK-1"}, token=finance)
    assert marked[0] == 200, marked

    status, export = api.call("POST", "/v1/me/export", token=token, headers=proof(api, token))
    assert status == 200, export
    wallet = export["wallet"]
    assert wallet["balances"]["paid_fen"] == 1000 and wallet["balances"]["requested_fen"] == 700, wallet
    assert {w["withdrawal_id"]: (w["status"], w["destination"]) for w in wallet["withdrawals"]} == {
        paid: ("paid", "****3445"), waiting["withdrawal_id"]: ("requested", "****0001"),
    }  # fmt: skip
    assert "6222020200112233445" not in str(export) and "王小明" not in str(export)

    status, _ = api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))
    assert status == 200
    after = {w.wid: w for w in ledger.get_many(tenant.tid, [paid, waiting["withdrawal_id"]])}
    # The paid one keeps its amounts and status, not its account number nor the holder's name.
    assert (after[paid].status, after[paid].amount_fen, after[paid].provider_ref) == ("paid", 1000, "BANK-1")
    assert after[paid].destination_enc == "" and after[paid].name_enc is None
    # The one not yet sent cannot be paid anywhere now: rejected, its money back in the wallet, destination gone.
    gone = after[waiting["withdrawal_id"]]
    assert gone.status == "rejected" and gone.destination_enc == "" and gone.amount_fen == 700
    entries = ledger.wallet(tenant.tid, ledger.get(tenant.tid, paid).uid).entries  # type: ignore[union-attr]
    assert sorted(e.key for e in entries if e.key.startswith("E#W#")) == sorted(
        [f"E#W#{paid}", f"E#W#{paid}#PAID", f"E#W#{waiting['withdrawal_id']}", f"E#W#{waiting['withdrawal_id']}#RETURN"]
    )
    # Finance's queue still shows the paid one, masked as before.
    queue = api.call("GET", "/v1/admin/payouts/withdrawals?status=paid", token=finance)[1]["items"]
    assert [(w["withdrawal_id"], w["destination"], w["name"]) for w in queue] == [(paid, "****3445", None)]
