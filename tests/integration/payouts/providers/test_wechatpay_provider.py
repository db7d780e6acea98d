"""The WeChat Pay provider against the local fake: signed both ways, one payment per number whatever is resent,
a timeout resolved by a query, failures with their reason, and callbacks verified, decrypted and refused when
tampered with."""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.payouts.providers import for_config
from chalicelib.payouts.providers.base import BadNotification, Outcome, ProviderUnreachable, Transfer
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.payouts.rules.credentials import WeChatPayConfig, WeChatPayCredentials
from local.payments.server import PaymentsStandIn
from tests.integration.payouts.providers.conftest import wait_for


def _wid() -> str:
    return "wd_" + secrets.token_hex(12)


CONFIGS: dict[int, WeChatPayConfig] = {}


def _config(fake: PaymentsStandIn) -> WeChatPayConfig:
    """The fake's merchant as the owner would enter it (parsing keys is slow: once per fake)."""
    if id(fake) not in CONFIGS:
        CONFIGS[id(fake)] = WeChatPayCredentials.model_validate(fake.wechatpay.credentials()).to_config()
    return CONFIGS[id(fake)]


def _provider(fake: PaymentsStandIn, timeout: float = 5.0, **changes: Any) -> WeChatPay:
    config = dataclasses.replace(_config(fake), **changes)
    return WeChatPay(config, base_url=f"{fake.url}/wechatpay", timeout=timeout, notify_url=lambda tid: None)


def _transfer(openid: str = "o_person_1", wid: str | None = None, name: str | None = None) -> Transfer:
    return Transfer(tid="t1", wid=wid or _wid(), amount_fen=1234, destination=openid, name=name, remark="佣金提现")


def test_a_transfer_is_accepted_then_found_paid(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer(name="张三")
    submitted = provider.submit(transfer)
    assert submitted.outcome is Outcome.ACCEPTED and submitted.provider_ref
    found = provider.query(transfer)
    assert found.outcome is Outcome.SUCCEEDED
    number = transfer.wid.replace("_", "")
    batch = fake.wechatpay.batches[(fake.wechatpay.default.mchid, number)]
    assert batch.user_name == "张三"  # sent encrypted with the platform key, decrypted by WeChat Pay
    assert batch.body["total_amount"] == 1234 and fake.wechatpay.payments[number] == 1


def test_the_same_number_twice_pays_once(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    first = provider.submit(transfer)
    second = provider.submit(transfer)
    assert first.provider_ref == second.provider_ref
    assert fake.wechatpay.payments[transfer.wid.replace("_", "")] == 1


def test_a_refused_resubmission_is_not_a_failure_while_the_number_is_known(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    changed = dataclasses.replace(transfer, amount_fen=999)  # WeChat Pay refuses it (INVALID_REQUEST)...
    assert provider.submit(changed).outcome is Outcome.SUCCEEDED  # ...but the first batch stands: no FAILED
    assert fake.wechatpay.payments[transfer.wid.replace("_", "")] == 1


def test_a_timeout_is_unreachable_and_the_query_finds_the_transfer(fake: PaymentsStandIn) -> None:
    transfer = _transfer("timeout_o_person_2")
    with pytest.raises(ProviderUnreachable):
        _provider(fake, timeout=0.3).submit(transfer)
    provider = _provider(fake)
    assert provider.query(transfer).outcome is Outcome.SUCCEEDED
    assert provider.submit(transfer).outcome is Outcome.ACCEPTED  # sent again: the same batch, not a new payment
    assert fake.wechatpay.payments[transfer.wid.replace("_", "")] == 1


def test_a_large_transfer_without_a_name_fails_before_sending(fake: PaymentsStandIn) -> None:
    transfer = Transfer(tid="t1", wid=_wid(), amount_fen=200_000, destination="o_1", name=None, remark="佣金")
    result = _provider(fake).submit(transfer)
    assert result.outcome is Outcome.FAILED and "real name" in str(result.reason)
    assert _provider(fake).query(transfer).outcome is Outcome.NOT_FOUND


def test_an_unknown_number_is_not_found(fake: PaymentsStandIn) -> None:
    assert _provider(fake).query(_transfer()).outcome is Outcome.NOT_FOUND


def test_a_failing_destination_fails_with_the_detail_reason(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer("fail_NAME_NOT_CORRECT")
    assert provider.submit(transfer).outcome is Outcome.ACCEPTED
    found = provider.query(transfer)
    assert found.outcome is Outcome.FAILED and found.reason == "NAME_NOT_CORRECT"
    assert transfer.wid.replace("_", "") not in fake.wechatpay.payments


def test_not_enough_funds_is_retried_with_the_same_number(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer("notenough_o_person_3")
    with pytest.raises(ProviderUnreachable, match="NOT_ENOUGH"):
        provider.submit(transfer)
    assert provider.query(transfer).outcome is Outcome.NOT_FOUND


def test_an_answer_signed_with_another_key_is_not_trusted(fake: PaymentsStandIn, other_key: rsa.RSAPrivateKey) -> None:
    provider = _provider(fake, platform_key=other_key.public_key())  # the configured key is not the fake's
    with pytest.raises(ProviderUnreachable, match="not signed"):
        provider.query(_transfer())


def test_a_request_signed_with_another_merchant_key_is_refused(
    fake: PaymentsStandIn, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(ProviderUnreachable, match="SIGN_ERROR"):
        _provider(fake, merchant_key=other_key).query(_transfer())


def test_the_batch_callback_is_verified_and_decrypted(fake: PaymentsStandIn) -> None:
    provider = _provider(fake)
    paid, failed = _transfer(), _transfer("fail_ACCOUNT_FROZEN")
    provider.submit(paid)
    provider.submit(failed)
    mchid = fake.wechatpay.default.mchid
    headers, body = fake.wechatpay.notification(mchid, paid.wid.replace("_", ""))
    wid, result = provider.notification(headers, body)
    assert wid == paid.wid and result.outcome is Outcome.SUCCEEDED
    headers, body = fake.wechatpay.notification(mchid, failed.wid.replace("_", ""))
    wid, result = provider.notification({k.lower(): v for k, v in headers.items()}, body)
    assert wid == failed.wid and result.outcome is Outcome.FAILED and result.reason == "ACCOUNT_FROZEN"


def test_a_tampered_callback_is_refused(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    headers, body = fake.wechatpay.notification(fake.wechatpay.default.mchid, transfer.wid.replace("_", ""))
    document = json.loads(body)
    document["event_type"] = "MCHTRANSFER.BATCH.CLOSED"
    with pytest.raises(BadNotification):
        provider.notification(headers, json.dumps(document).encode())
    late = float(headers["Wechatpay-Timestamp"]) + 301
    with pytest.raises(BadNotification, match="five minutes"):  # an old one, replayed
        WeChatPay(provider.config, base_url=provider.base_url, clock=lambda: late).notification(headers, body)
    with pytest.raises(BadNotification):
        provider.notification({**headers, "Wechatpay-Serial": "PUB_KEY_ID_0000"}, body)


def test_a_callback_under_another_apiv3_key_is_refused(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    headers, body = fake.wechatpay.notification(fake.wechatpay.default.mchid, transfer.wid.replace("_", ""))
    with pytest.raises(BadNotification, match="decrypt"):
        _provider(fake, apiv3_key=b"0" * 32).notification(headers, body)


def test_the_callback_is_sent_to_the_notify_url(fake: PaymentsStandIn) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/payouts/t1/wechatpay/notify"
        provider = WeChatPay(_config(fake), base_url=f"{fake.url}/wechatpay", notify_url=lambda tid: url)
        transfer = _transfer()
        provider.submit(transfer)
        headers, body = wait_for(lambda: received[0] if received else None)
        assert provider.notification(headers, body) == (transfer.wid, provider.query(transfer))
    finally:
        server.shutdown()
        server.server_close()


def test_provider_for_picks_the_provider_by_its_credentials(fake: PaymentsStandIn) -> None:
    assert isinstance(for_config(_config(fake)), WeChatPay)
