"""The Alipay provider against the local fake: RSA2 both ways, one payment per out_biz_no whatever is resent, a
timeout resolved by a query, refusals with their sub_code, and the order.changed message verified or refused."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.payouts.providers import for_config
from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.base import BadNotification, Outcome, ProviderUnreachable, Transfer
from chalicelib.payouts.rules.credentials import AlipayConfig, AlipayCredentials
from local.payments.server import PaymentsStandIn

CONFIGS: dict[int, AlipayConfig] = {}


def _config(fake: PaymentsStandIn) -> AlipayConfig:
    if id(fake) not in CONFIGS:
        CONFIGS[id(fake)] = AlipayCredentials.model_validate(fake.alipay.credentials()).to_config()
    return CONFIGS[id(fake)]


def _provider(fake: PaymentsStandIn, timeout: float = 5.0, **changes: Any) -> Alipay:
    return Alipay(
        dataclasses.replace(_config(fake), **changes), gateway=f"{fake.url}/alipay/gateway.do", timeout=timeout
    )


def _transfer(identity: str = "person@example.cn", name: str | None = "张三") -> Transfer:
    wid = "wd_" + secrets.token_hex(12)
    return Transfer(tid="t1", wid=wid, amount_fen=1205, destination=identity, name=name, remark="佣金提现")


def test_a_transfer_succeeds_with_the_amount_in_yuan(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    submitted = provider.submit(transfer)
    assert submitted.outcome is Outcome.SUCCEEDED and submitted.provider_ref
    order = fake.alipay.orders[(fake.alipay.default.app_id, transfer.wid)]
    assert order.biz["trans_amount"] == "12.05"
    assert order.biz["payee_info"] == {
        "identity": "person@example.cn",
        "identity_type": "ALIPAY_LOGON_ID",
        "name": "张三",
    }
    assert provider.query(transfer) == submitted


def test_a_user_id_needs_no_name(fake: PaymentsStandIn) -> None:
    transfer = _transfer("2088000000000001", name=None)
    assert _provider(fake).submit(transfer).outcome is Outcome.SUCCEEDED
    assert (
        fake.alipay.orders[(fake.alipay.default.app_id, transfer.wid)].biz["payee_info"]["identity_type"]
        == "ALIPAY_USER_ID"
    )


def test_a_login_name_without_a_real_name_fails_before_sending(fake: PaymentsStandIn) -> None:
    transfer = _transfer(name=None)
    result = _provider(fake).submit(transfer)
    assert result.outcome is Outcome.FAILED and "real name" in str(result.reason)
    assert transfer.wid not in fake.alipay.payments


def test_the_same_number_twice_pays_once(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    assert provider.submit(transfer) == provider.submit(transfer)
    assert fake.alipay.payments[transfer.wid] == 1


def test_a_refused_resubmission_is_not_a_failure_while_the_number_is_known(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    changed = dataclasses.replace(transfer, amount_fen=999)  # Alipay refuses it (REQUEST_PARAM_ILLEGAL)...
    assert provider.submit(changed).outcome is Outcome.SUCCEEDED  # ...but the first order stands: no FAILED
    assert fake.alipay.payments[transfer.wid] == 1


def test_a_timeout_is_unreachable_and_the_query_finds_the_transfer(fake: PaymentsStandIn) -> None:
    transfer = _transfer("timeout_person@example.cn")
    with pytest.raises(ProviderUnreachable):
        _provider(fake, timeout=0.3).submit(transfer)
    provider = _provider(fake)
    assert provider.query(transfer).outcome is Outcome.SUCCEEDED
    assert provider.submit(transfer).outcome is Outcome.SUCCEEDED
    assert fake.alipay.payments[transfer.wid] == 1


def test_an_unknown_number_is_not_found(fake: PaymentsStandIn) -> None:
    assert _provider(fake).query(_transfer()).outcome is Outcome.NOT_FOUND


@pytest.mark.parametrize(
    ("identity", "code"), [("fail_x@example.cn", "PAYEE_NOT_EXIST"), ("poor_x@example.cn", "PAYER_BALANCE_NOT_ENOUGH")]
)
def test_a_refused_transfer_fails_with_the_sub_code(fake: PaymentsStandIn, identity: str, code: str) -> None:
    transfer = _transfer(identity)
    result = _provider(fake).submit(transfer)
    assert result.outcome is Outcome.FAILED and str(result.reason).startswith(code)
    assert transfer.wid not in fake.alipay.payments


def test_a_dealing_transfer_is_accepted_until_it_settles(fake: PaymentsStandIn) -> None:
    fake.alipay.settle_seconds = 3600.0
    try:
        transfer = _transfer("dealing_person@example.cn")
        provider = _provider(fake)
        assert provider.submit(transfer).outcome is Outcome.ACCEPTED
        assert provider.query(transfer).outcome is Outcome.ACCEPTED
        fake.alipay.orders[(fake.alipay.default.app_id, transfer.wid)].settle_at = 0.0
        assert provider.query(transfer).outcome is Outcome.SUCCEEDED
    finally:
        fake.alipay.settle_seconds = 0.0


def test_an_answer_signed_with_another_key_is_not_trusted(fake: PaymentsStandIn, other_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ProviderUnreachable, match="does not verify"):
        _provider(fake, alipay_key=other_key.public_key()).query(_transfer())


def test_a_request_signed_with_another_app_key_is_refused(fake: PaymentsStandIn, other_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ProviderUnreachable, match="invalid-signature"):
        _provider(fake, app_key=other_key).query(_transfer())


def test_the_order_changed_message_is_verified(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    headers, body = fake.alipay.notification(fake.alipay.default.app_id, transfer.wid)
    wid, result = provider.notification(headers, body)
    assert wid == transfer.wid and result.outcome is Outcome.SUCCEEDED and result.provider_ref


def test_a_tampered_message_is_refused(fake: PaymentsStandIn) -> None:
    provider, transfer = _provider(fake), _transfer()
    provider.submit(transfer)
    headers, body = fake.alipay.notification(fake.alipay.default.app_id, transfer.wid)
    params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    changed = {**params, "biz_content": params["biz_content"].replace('"SUCCESS"', '"FAIL"')}
    with pytest.raises(BadNotification):
        provider.notification(headers, urlencode(changed).encode())
    with pytest.raises(BadNotification):
        provider.notification(headers, urlencode({**params, "app_id": "2021000000000999"}).encode())
    with pytest.raises(BadNotification):
        provider.notification(headers, body + b"&sign=again")


def test_provider_for_picks_the_provider_by_its_credentials(fake: PaymentsStandIn) -> None:
    assert isinstance(for_config(_config(fake)), Alipay)
