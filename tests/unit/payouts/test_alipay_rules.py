"""Alipay's RSA2 signatures, cross-checked with `cryptography` used directly and with python-alipay-sdk: our
request signature is the SDK's, answers and messages signed the documented way verify with us and with it."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.base import BadNotification, Outcome
from chalicelib.payouts.rules import alipay as rules
from chalicelib.payouts.rules.credentials import AlipayConfig
from chalicelib.payouts.rules.verdicts import Verdict
from tests.unit.payouts.conftest import pem, public_pem

APP_ID = "2021000000000001"


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _sdk(app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> AliPay:
    return AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=pem(app_key),
        alipay_public_key_string=public_pem(alipay_key.public_key()),
        sign_type="RSA2",
    )


def test_our_request_signature_is_the_sdks(merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey) -> None:
    biz = rules.transfer_biz(rules.TransferRequest("wd_00ff", 1205, "person@example.cn", "张三", "佣金提现"))
    params = rules.request_params(APP_ID, rules.TRANSFER, biz, "2026-12-08 05:31:00")
    ours = rules.sign(merchant_key, rules.sign_content(params))
    signed = _sdk(merchant_key, platform_key).sign_data(dict(params))
    assert parse_qs(signed)["sign"] == [ours]  # PKCS#1 v1.5 is deterministic: the same string, the same signature
    assert rules.sign_content(params).startswith("app_id=2021000000000001&biz_content={")
    assert "sign_type=RSA2" in rules.sign_content(params)  # a request's signature covers sign_type


def test_the_signed_string_is_the_documented_one() -> None:
    """The open platform's example of a request's string to sign (sorted, raw values, sign_type included)."""
    biz = (
        '{"out_trade_no":"20190401144352106451724","total_amount":"0.01","subject":"土豪机",'
        '"timeout_express":"10m","qr_code_timeout_express":"2m","store_id":"HK001"}'
    )
    params = {
        "version": "1.0", "timestamp": "2019-04-01 14:43:53", "sign_type": "RSA2",
        "notify_url": "http://notify.dengw.online/do/6e5e3bd0-c2c5-4565-bcfd-bf57ea822672",
        "method": "alipay.trade.precreate", "format": "json", "charset": "UTF-8", "biz_content": biz,
        "app_id": "201****222", "sign": "left out", "return_url": "",
    }  # fmt: skip
    assert rules.sign_content(params) == (
        f"app_id=201****222&biz_content={biz}&charset=UTF-8&format=json&method=alipay.trade.precreate"
        "&notify_url=http://notify.dengw.online/do/6e5e3bd0-c2c5-4565-bcfd-bf57ea822672&sign_type=RSA2"
        "&timestamp=2019-04-01 14:43:53&version=1.0"
    )
    assert "sign_type" not in rules.sign_content(params, notification=True)


def test_biz_content_carries_the_documented_fields() -> None:
    biz = rules.transfer_biz(rules.TransferRequest("wd_00ff", 1, "2088000000000001", None, ""))
    assert biz == {
        "out_biz_no": "wd_00ff",
        "trans_amount": "0.01",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "佣金提现",
        "payee_info": {"identity": "2088000000000001", "identity_type": "ALIPAY_USER_ID"},
    }
    assert rules.query_biz("wd_00ff") == {
        "out_biz_no": "wd_00ff",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
    }
    with pytest.raises(ValueError, match="real name"):
        rules.transfer_biz(rules.TransferRequest("wd_00ff", 1, "person@example.cn", None, ""))


@pytest.mark.parametrize(("fen", "text"), [(1, "0.01"), (10, "0.10"), (100, "1.00"), (123456, "1234.56")])
def test_amounts_are_yuan_with_two_decimals(fen: int, text: str) -> None:
    assert rules.yuan(fen) == text


def test_an_answer_verifies_over_the_raw_member_text(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> None:
    member = (
        '{"code":"10000","msg":"Success","out_biz_no":"wd_00ff","order_id":"20191223110070000006490000000001",'
        '"status":"SUCCESS","trans_date":"2019-12-23 12:00:00"}'
    )
    key = rules.response_key(rules.TRANSFER)
    raw = f'{{"{key}":{member},"sign":"{_sign(platform_key, member)}"}}'
    found, signature = rules.signed_member(raw, key)
    assert found == member and signature is not None
    rules.verify(platform_key.public_key(), found, signature)
    assert _sdk(merchant_key, platform_key)._verify_and_return_sync_response(raw, key) == json.loads(member)
    with pytest.raises(rules.SignatureInvalid):
        rules.verify(platform_key.public_key(), found.replace("SUCCESS", "FAIL"), signature)


def test_the_member_is_found_whatever_its_strings_hold(platform_key: rsa.RSAPrivateKey) -> None:
    member = '{ "sub_msg" : "a } b { \\" c" , "code":"40004"}'
    key = "alipay_fund_trans_uni_transfer_response"
    raw = f'{{"sign":"x", "note":"{key} {{", "{key}" : {member} }}'
    assert rules.signed_member(raw, key) == (member, "x")
    with pytest.raises(ValueError):
        rules.signed_member('{"other":{}}', "alipay_fund_trans_uni_transfer_response")


def _message(alipay_key: rsa.RSAPrivateKey, status: str = "SUCCESS", app_id: str = APP_ID) -> dict[str, str]:
    """An order.changed message signed the documented way: every parameter but sign and sign_type."""
    params = {
        "notify_id": "d275fec564e62af6bedbcee73f3f05fi5x",
        "utc_timestamp": "1516797622752",
        "msg_method": "alipay.fund.trans.order.changed",
        "app_id": app_id,
        "version": "1.1",
        "charset": "utf-8",
        "biz_content": json.dumps(
            {"out_biz_no": "wd_00ff", "order_id": "2019", "status": status, "action_type": "FINISH"}
        ),
    }
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "sign_type": "RSA2", "sign": _sign(alipay_key, content)}


def test_a_message_verifies_like_the_sdk_verifies_it(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> None:
    params = _message(platform_key)
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    assert _sdk(merchant_key, platform_key).verify(dict(unsigned), params["sign"])
    provider = Alipay(
        AlipayConfig(APP_ID, merchant_key, platform_key.public_key()), gateway="https://openapi.alipay.com/gateway.do"
    )
    wid, result = provider.notification({}, urlencode(params).encode())
    assert wid == "wd_00ff" and result.outcome is Outcome.SUCCEEDED and result.provider_ref == "2019"
    failed = _message(platform_key, "FAIL")
    assert provider.notification({}, urlencode(failed).encode())[1].outcome is Outcome.FAILED
    with pytest.raises(BadNotification, match="another app"):
        provider.notification({}, urlencode(_message(platform_key, app_id="2021000000000002")).encode())
    with pytest.raises(BadNotification):
        provider.notification(
            {}, urlencode({**params, "biz_content": params["biz_content"].replace("SUCCESS", "FAIL")}).encode()
        )


def test_query_answers_map_to_verdicts() -> None:
    assert rules.query_verdict({"code": "10000", "status": "SUCCESS", "order_id": "1"}) == Verdict("succeeded", "1")
    assert rules.query_verdict({"code": "10000", "status": "DEALING"}) == Verdict("accepted")
    assert rules.query_verdict(
        {"code": "10000", "status": "FAIL", "fail_reason": "PAYEE_ACCOUNT_STATUS_ERROR"}
    ) == Verdict("failed", None, "FAIL: PAYEE_ACCOUNT_STATUS_ERROR")
    assert rules.query_verdict({"code": "40004", "sub_code": "ORDER_NOT_EXIST"}) == Verdict("not_found")
    assert rules.query_verdict({"code": "40004", "sub_code": "SYSTEM_ERROR"}) is None
    assert rules.is_unknown({"code": "20000"}) and rules.is_unknown({"code": "40004", "sub_code": "SYSTEM_ERROR"})
    assert not rules.is_unknown({"code": "40004", "sub_code": "PAYEE_NOT_EXIST"})
