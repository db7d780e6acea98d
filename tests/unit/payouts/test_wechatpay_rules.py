"""WeChat Pay API v3 signatures and callback decryption, cross-checked with `cryptography` used directly and with
the wechatpayv3 SDK: what we sign, they verify (byte for byte the same header); what they sign, we verify."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay as SdkWeChatPay
from wechatpayv3 import WeChatPayType
from wechatpayv3 import utils as sdk

from chalicelib.payouts.providers.base import BadNotification, Outcome
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.payouts.rules import wechatpay as rules
from chalicelib.payouts.rules.credentials import WeChatPayConfig
from chalicelib.payouts.rules.verdicts import Verdict
from tests.unit.payouts.conftest import pem, public_pem

MCHID = "1900000109"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_ID = "PUB_KEY_ID_0114232134912410000000000000"
APIV3_KEY = "0123456789abcdef0123456789ABCDEF"
NOW = 1_765_000_000


def _config(merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey) -> WeChatPayConfig:
    return WeChatPayConfig(
        mchid=MCHID,
        appid="wxd678efh567hg6787",
        merchant_serial_no=SERIAL,
        merchant_key=merchant_key,
        apiv3_key=APIV3_KEY.encode(),
        platform_serial=PLATFORM_ID,
        platform_key=platform_key.public_key(),
    )


def test_our_authorization_is_byte_for_byte_the_sdks(
    merchant_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"appid": "wx1", "out_batch_no": "wd00ff", "batch_name": "佣金"}, ensure_ascii=False)
    path, nonce = "/v3/transfer/batches", "593BEC0C930BF1AFEB40B4A08C8FB242"
    signature = rules.sign(merchant_key, rules.request_message("POST", path, str(NOW), nonce, body))
    ours = rules.authorization(MCHID, SERIAL, nonce, str(NOW), signature)
    monkeypatch.setattr(sdk.time, "time", lambda: NOW)
    theirs = sdk.build_authorization(path, "POST", MCHID, SERIAL, merchant_key, data=body, nonce_str=nonce)
    assert ours == theirs  # PKCS#1 v1.5 is deterministic: the same message and key give the same signature


def test_our_request_signature_verifies_with_cryptography_directly(merchant_key: rsa.RSAPrivateKey) -> None:
    body = '{"a":"零钱"}'
    signature = rules.sign(merchant_key, rules.request_message("GET", "/v3/x?y=1", "1700000000", "n1", body))
    message = "GET\n/v3/x?y=1\n1700000000\nn1\n" + body + "\n"
    merchant_key.public_key().verify(
        base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )  # raises if not


def test_an_answer_the_sdk_signs_verifies_and_a_changed_one_does_not(platform_key: rsa.RSAPrivateKey) -> None:
    body = b'{"out_batch_no":"wd00ff","batch_id":"1030000071100999991182020050700019480001"}'
    nonce = secrets.token_hex(16)
    signature = sdk.rsa_sign(platform_key, f"{NOW}\n{nonce}\n{body.decode()}\n")
    headers = {
        "Wechatpay-Timestamp": str(NOW),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": PLATFORM_ID,
    }
    rules.verify_signed(headers, body, platform_key.public_key(), PLATFORM_ID, NOW + 10)
    lowered = {k.lower(): v for k, v in headers.items()}  # as API Gateway passes them
    rules.verify_signed(lowered, body, platform_key.public_key(), PLATFORM_ID, NOW)
    with pytest.raises(rules.SignatureInvalid):
        rules.verify_signed(headers, body.replace(b"wd00ff", b"wd00fe"), platform_key.public_key(), PLATFORM_ID, NOW)
    with pytest.raises(rules.SignatureInvalid, match="five minutes"):
        rules.verify_signed(headers, body, platform_key.public_key(), PLATFORM_ID, NOW + 301)
    with pytest.raises(rules.SignatureInvalid, match="not the configured"):
        rules.verify_signed(headers, body, platform_key.public_key(), "PUB_KEY_ID_OTHER", NOW)


def _callback(
    platform_key: rsa.RSAPrivateKey, resource: dict[str, object], key: str = APIV3_KEY
) -> tuple[dict[str, str], bytes]:
    """A batch callback made as WeChat Pay makes it, with `cryptography` directly."""
    nonce, associated = "fGhd9fZx3EiZ", "mch_payment"
    ciphertext = AESGCM(key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), associated.encode())
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BATCH.FINISHED",
            "summary": "商家转账批次完成通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": associated,
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    ).encode()
    timestamp, sign_nonce = str(NOW), secrets.token_hex(16)
    message = f"{timestamp}\n{sign_nonce}\n".encode() + body + b"\n"
    signature = base64.b64encode(platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": sign_nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": PLATFORM_ID,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body


RESOURCE = {
    "out_batch_no": "wd0123456789abcdef01234567",
    "batch_id": "1030000071100999991182020050700019480001",
    "batch_status": "FINISHED",
    "total_num": 1,
    "total_amount": 1234,
    "success_amount": 1234,
    "success_num": 1,
    "fail_amount": 0,
    "fail_num": 0,
    "mchid": MCHID,
    "update_time": "2023-08-16T16:43:27+08:00",
}


def test_a_callback_decrypts_as_the_sdk_decrypts_it(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> None:
    headers, body = _callback(platform_key, RESOURCE)
    client = SdkWeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=MCHID,
        private_key=pem(merchant_key),
        cert_serial_no=SERIAL,
        appid="wxd678efh567hg6787",
        apiv3_key=APIV3_KEY,
        public_key=public_pem(platform_key.public_key()),
        public_key_id=PLATFORM_ID,
    )
    theirs = client.callback(headers, body)
    document = json.loads(body)
    assert rules.decrypt_resource(document["resource"], APIV3_KEY.encode()) == theirs["resource"] == RESOURCE
    provider = WeChatPay(
        _config(merchant_key, platform_key), base_url="https://api.mch.weixin.qq.com", clock=lambda: NOW
    )
    wid, result = provider.notification(headers, body)
    assert wid == "wd_0123456789abcdef01234567"
    assert result.outcome is Outcome.SUCCEEDED and result.provider_ref == RESOURCE["batch_id"]


def test_a_callback_for_another_merchant_or_under_another_key_is_refused(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> None:
    provider = WeChatPay(
        _config(merchant_key, platform_key), base_url="https://api.mch.weixin.qq.com", clock=lambda: NOW
    )
    with pytest.raises(BadNotification, match="another merchant"):
        provider.notification(*_callback(platform_key, {**RESOURCE, "mchid": "1900000999"}))
    with pytest.raises(BadNotification, match="decrypt"):
        provider.notification(*_callback(platform_key, RESOURCE, key="f" * 32))


def test_a_signature_probe_is_refused(merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey) -> None:
    """WeChat Pay sends callbacks signed `WECHATPAY/SIGNTEST/...` to check that merchants verify: they must fail."""
    headers, body = _callback(platform_key, RESOURCE)
    provider = WeChatPay(
        _config(merchant_key, platform_key), base_url="https://api.mch.weixin.qq.com", clock=lambda: NOW
    )
    probe = {**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"][19:]}
    with pytest.raises(BadNotification):
        provider.notification(probe, body)


def test_the_payees_name_decrypts_with_the_platform_key(platform_key: rsa.RSAPrivateKey) -> None:
    sealed = rules.encrypt_sensitive(platform_key.public_key(), "张三")
    assert sdk.rsa_decrypt(sealed, platform_key) == "张三"


def test_the_authorization_header_parses_in_any_order() -> None:
    header = 'WECHATPAY2-SHA256-RSA2048 serial_no="AB",timestamp="1",signature="c2ln",nonce_str="n",mchid="19"'
    assert rules.parse_authorization(header) == {
        "serial_no": "AB", "timestamp": "1", "signature": "c2ln", "nonce_str": "n", "mchid": "19"
    }  # fmt: skip
    for bad in ('WECHATPAY2-SHA256-RSA2048 mchid="19"', 'Bearer mchid="19"', "WECHATPAY2-SHA256-RSA2048 x=1"):
        with pytest.raises(rules.SignatureInvalid):
            rules.parse_authorization(bad)


def test_batch_numbers_are_the_withdrawal_ids_without_the_underscore() -> None:
    assert rules.out_number("wd_0123456789abcdef01234567") == "wd0123456789abcdef01234567"
    assert rules.wid_of("wd0123456789abcdef01234567") == "wd_0123456789abcdef01234567"
    for bad in ("wd-1", "wd_", "x_1", "wd_" + "a" * 30):
        with pytest.raises(ValueError):
            rules.out_number(bad)


def test_the_transfer_body_is_one_batch_of_one_detail() -> None:
    body = rules.transfer_body(
        rules.TransferRequest("wx1", "wd00ff", 1234, "o_1", "佣金提现" * 10, "sealed", "https://x.cn/n", "1000")
    )
    assert body["total_amount"] == 1234 and body["total_num"] == 1 and body["out_batch_no"] == "wd00ff"
    assert body["transfer_detail_list"] == [
        {"out_detail_no": "wd00ff", "transfer_amount": 1234, "transfer_remark": ("佣金提现" * 10)[:32],
         "openid": "o_1", "user_name": "sealed"}
    ]  # fmt: skip
    assert body["notify_url"] == "https://x.cn/n" and body["transfer_scene_id"] == "1000"
    with pytest.raises(ValueError):
        rules.transfer_body(rules.TransferRequest("wx1", "wd00ff", 0, "o_1", "r", None, None, None))
    with pytest.raises(ValueError, match="real name"):
        rules.transfer_body(rules.TransferRequest("wx1", "wd00ff", 200_000, "o_1", "r", None, None, None))
    assert rules.transfer_body(rules.TransferRequest("wx1", "wd00ff", 199_999, "o_1", "r", None, None, None))


def test_batch_and_detail_states_map_to_outcomes() -> None:
    batch = {"batch_id": "B", "batch_status": "PROCESSING"}
    assert rules.batch_outcome({"transfer_batch": batch}, "n") == (Verdict("accepted", "B"), False)
    closed = {"transfer_batch": {**batch, "batch_status": "CLOSED", "close_reason": "OVERDUE_CLOSE"}}
    assert rules.batch_outcome(closed, "n") == (Verdict("failed", "B", "CLOSED: OVERDUE_CLOSE"), False)
    for status, expected in [
        ("SUCCESS", "succeeded"),
        ("FAIL", "failed"),
        ("WAIT_PAY", "accepted"),
        ("PROCESSING", "accepted"),
    ]:
        answer = {"transfer_batch": batch, "transfer_detail_list": [{"out_detail_no": "n", "detail_status": status}]}
        verdict, needs_reason = rules.batch_outcome(answer, "n")
        assert verdict.outcome == expected and needs_reason == (expected == "failed")
    assert rules.detail_outcome({"detail_status": "FAIL", "fail_reason": "ACCOUNT_FROZEN"}, "B") == Verdict(
        "failed", "B", "ACCOUNT_FROZEN"
    )
    with pytest.raises(ValueError):
        rules.detail_outcome({"detail_status": "EXPLODED"})
