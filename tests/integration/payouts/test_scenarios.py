"""Money out, end to end: an order's commission unfreezes, the person withdraws, finance approves, the paying
schedule pays through the local WeChat Pay or Alipay (signed both ways), the provider's own callback reaches the
notify route and the wallet shows it paid; a timeout is settled by the next run's query with one payment; the bank
path is paid by hand."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.core.config import get_settings
from local.payments.server import PaymentsStandIn
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant
from tests.integration.payouts.conftest import Shop, withdraw

FORWARDED = ("content-type", "wechatpay-serial", "wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce")


class Relay:
    """The product's public address as the fakes see it: keeps each callback they send (the app itself runs in
    the test client, not on a port), so the test posts the very bytes to the notify route."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() in FORWARDED}
                received.append((self.path, headers, body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="callback-relay", daemon=True).start()

    def wait_for(self, path: str, seconds: float = 5.0) -> tuple[dict[str, str], bytes]:
        """The first callback sent to `path`, polled until the deadline."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for sent_to, headers, body in list(self.received):
                if sent_to == path:
                    return headers, body
            time.sleep(0.02)
        raise AssertionError(f"no callback reached {path} before the deadline")


@pytest.fixture
def relay(payments: PaymentsStandIn) -> Iterator[Relay]:
    """The product pointed at the fakes (hosts, a short timeout) and at the relay as its public base URL."""
    found = Relay()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in payments.environment().items():
            patch.setenv(name, value)
        patch.setenv("FISSION_PUBLIC_BASE_URL", found.url)
        patch.setenv("FISSION_PAYOUT_TIMEOUT_SECONDS", "0.3")
        get_settings.cache_clear()
        try:
            yield found
        finally:
            found.server.shutdown()
    get_settings.cache_clear()


class Payday:
    """A tenant's money-out day at the service clock: the schedule, finance's approval, the wallet."""

    def __init__(self, app: Any, api: Api, tenant: Tenant, shop: Shop, clock: Clock, monkeypatch: pytest.MonkeyPatch):
        from chalicelib.entrypoints import events as handlers

        self.api, self.tenant, self.shop, self.clock = api, tenant, shop, clock
        monkeypatch.setattr(handlers, "utcnow", clock)
        self.scheduler = Scheduler(app, clock=clock)
        tenant.totp_token("finance")  # a finance operator with TOTP, made while the owner's token is valid
        self.finance_email = next(e for e in tenant.totp_secrets if e.startswith("finance-"))
        self.finance = ""

    def _finance_login(self) -> str:
        """A fresh TOTP login of the finance operator at the service clock (a step-up for 15 minutes)."""
        code = self.tenant.totp_code(self.finance_email)
        login = {"email": self.finance_email, "password": "operator-pass-1", "totp": code}
        status, body = self.api.call("POST", "/v1/admin/login", login)
        assert status == 200, body
        return str(body["token"])

    def connect(self, provider: str, document: dict[str, str]) -> None:
        path = f"/v1/admin/payouts/providers/{provider}"
        status, view = self.api.call("PUT", path, document, token=self.tenant.totp_token())
        assert status == 200 and view["connected"], view

    def earn_and_unfreeze(self, oid: str, amount: int) -> None:
        self.shop.paid(oid, amount)
        assert self.shop.wallet()["pending_fen"] == amount // 10
        self.clock.advance(days=8)  # past the campaign's 7 frozen days
        self.finance = self._finance_login()
        assert self.shop.wallet()["available_fen"] >= amount // 10

    def request_and_approve(self, amount: int, key: str, method: str, **extra: Any) -> str:
        status, made = withdraw(self.api, self.shop, amount, key, method=method, **extra)
        assert status == 201 and made["status"] == "requested", made
        batch = {"withdrawal_ids": [made["withdrawal_id"]]}
        status, decided = self.api.call("POST", "/v1/admin/payouts/withdrawals/approve", batch, token=self.finance)
        assert status == 200 and decided["items"][0]["status"] == "approved", decided
        return str(made["withdrawal_id"])

    def run(self) -> None:
        self.scheduler.invoke("pay_withdrawals")

    def status(self, wid: str) -> tuple[str, str | None]:
        items = self.api.call("GET", f"/v1/campaigns/{self.shop.cid}/me/withdrawals", token=self.shop.earner["token"])
        found = next(w for w in items[1]["items"] if w["withdrawal_id"] == wid)
        return found["status"], found["reason"]


@pytest.fixture
def payday(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    client_ip: Callable[[], str],
) -> Payday:  # fmt: skip
    shop = Shop(api, tenant, pump, clock, frozen_days=7)
    return Payday(app, api, tenant, shop, clock, monkeypatch)


def test_wechatpay_pays_and_its_callback_settles_the_withdrawal(
    payday: Payday, payments: PaymentsStandIn, relay: Relay, api: Api, tenant: Tenant
) -> None:
    payday.connect("wechatpay", payments.wechatpay.credentials())
    payday.earn_and_unfreeze("o-wx", 50_000)  # 5,000 fen
    wid = payday.request_and_approve(1234, "key-wx-000001", "wechat", destination="o_person_wx")

    payday.run()  # submitted: WeChat Pay accepts the batch, the money moves later
    assert payday.status(wid) == ("paying", None)
    number = wid.replace("_", "")
    batch = payments.wechatpay.batches[(payments.wechatpay.default.mchid, number)]
    assert batch.body["total_amount"] == 1234 and batch.body["transfer_detail_list"][0]["openid"] == "o_person_wx"

    path = f"/v1/payouts/{tenant.tid}/wechatpay/notify"
    headers, body = relay.wait_for(path)  # the fake settled the batch and called the notify_url we sent
    forged = {**headers, "wechatpay-signature": headers["wechatpay-signature"][::-1]}
    status, answer = api.call("POST", path, body, headers=forged)
    assert (status, answer["code"]) == (401, "FAIL") and payday.status(wid)[0] == "paying"
    for _ in range(2):  # WeChat Pay resends: the second changes nothing
        assert api.call("POST", path, body, headers=headers)[0] == 204
    assert payday.status(wid) == ("paid", None)
    assert payments.wechatpay.payments[number] == 1
    assert payday.shop.wallet() == {
        "pending_fen": 0, "available_fen": 5000 - 1234, "requested_fen": 0, "paid_fen": 1234, "earned_fen": 5000,
        "clawed_back_fen": 0,
    }  # fmt: skip
    payday.run()  # nothing left: no second submission
    assert payments.wechatpay.payments[number] == 1


def test_alipay_pays_and_its_message_settles_the_withdrawal(
    payday: Payday, payments: PaymentsStandIn, relay: Relay, api: Api, tenant: Tenant, client: Any
) -> None:
    document = payments.alipay.credentials()
    payday.connect("alipay", document)
    payday.earn_and_unfreeze("o-ali", 50_000)
    payments.alipay.settle_seconds = 60.0  # a `dealing_` payee stays DEALING until the test settles it
    try:
        wid = payday.request_and_approve(2000, "key-ali-00001", "alipay", destination="dealing_person@example.cn",
                                         name="李四")  # fmt: skip
        payday.run()
    finally:
        payments.alipay.settle_seconds = 0.0
    assert payday.status(wid) == ("paying", None)
    order = payments.alipay.orders[(document["app_id"], wid)]
    order.settle_at = time.time()  # Alipay has paid it

    path = f"/v1/payouts/{tenant.tid}/alipay/notify"
    request = urllib.request.Request(
        f"{payments.url}/_local/alipay/notify/{document['app_id']}/{wid}",
        data=json.dumps({"url": relay.url + path}).encode(), method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - the local fake
        assert json.loads(answer.read())["status"] == 204
    headers, body = relay.wait_for(path)
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    tampered = body + b"&extra=1"  # a parameter the signature does not cover
    refused = client.http.post(path, headers=form, body=tampered)
    assert (refused.status_code, refused.body) == (401, b"fail")
    for _ in range(2):  # a resent message changes nothing
        answer = client.http.post(path, headers=form, body=body)
        assert (answer.status_code, answer.body) == (200, b"success")
    assert payday.status(wid) == ("paid", None)
    assert payments.alipay.payments[wid] == 1
    assert payday.shop.wallet()["paid_fen"] == 2000


def test_a_timeout_is_settled_by_the_next_runs_query_with_one_payment(
    payday: Payday, payments: PaymentsStandIn, relay: Relay
) -> None:
    payday.connect("wechatpay", payments.wechatpay.credentials())
    payday.earn_and_unfreeze("o-slow", 50_000)
    wid = payday.request_and_approve(1500, "key-slow-0001", "wechat", destination="timeout_o_person")

    payday.run()  # WeChat Pay takes it but answers after our timeout: its fate is unknown
    assert payday.status(wid) == ("paying", None)
    payday.run()  # within the minute: not asked about yet, and never sent again
    payday.clock.advance(minutes=2)
    payday.run()  # asked about (query): WeChat Pay has it, paid
    assert payday.status(wid) == ("paid", None)
    assert payments.wechatpay.payments[wid.replace("_", "")] == 1
    assert payday.shop.wallet()["paid_fen"] == 1500


def test_the_bank_path_is_paid_by_hand(payday: Payday, api: Api, tenant: Tenant) -> None:
    payday.earn_and_unfreeze("o-bank", 50_000)
    wid = payday.request_and_approve(3000, "key-bank-0001", "bank")
    payday.run()  # the schedule never touches a bank transfer
    assert payday.status(wid) == ("approved", None)
    finance = payday.finance
    csv_answer = api.client.http.get("/v1/admin/payouts/bank-transfers", headers={"Authorization": f"Bearer {finance}"})
    assert (
        csv_answer.status_code == 200
        and wid in csv_answer.body.decode()
        and "6222020200112233445" in (csv_answer.body.decode())
    )
    status, paid = api.call("POST", f"/v1/admin/payouts/withdrawals/{wid}/paid", {"reference": "BANK-20261207-01"},
                            token=finance)  # fmt: skip
    assert status == 200 and paid["status"] == "paid", paid
    assert payday.status(wid) == ("paid", None)
    assert payday.shop.wallet()["paid_fen"] == 3000
