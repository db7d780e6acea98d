"""The callback crypto and signatures, cross-checked with wechatpy (an independent implementation) both ways."""

from __future__ import annotations

import base64
import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.client.api.jsapi import WeChatJSAPI
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from chalicelib.platforms.rules import crypto, xml

TOKEN = "fissionToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
CORP_ID = "ww0123456789abcdef"
NOW = 1_700_000_000
TS = str(NOW)
NONCE = "n0nce123"
EVENT = (
    "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmABC]]></ExternalUserID>"
    "<State><![CDATA[inv_7Hq2]]></State><WelcomeCode><![CDATA[WELCOME]]></WelcomeCode></xml>"
)


def _envelope(encrypted_xml: str) -> dict[str, str]:
    return xml.parse(encrypted_xml)


@pytest.mark.parametrize(("library", "receive_id"), [(WeChatCrypto, APP_ID), (WeComCrypto, CORP_ID)])
def test_we_decrypt_what_wechatpy_encrypts(library: type, receive_id: str) -> None:
    sealed = library(TOKEN, AES_KEY, receive_id).encrypt_message(EVENT, NONCE, TS)
    fields = _envelope(sealed)
    message = crypto.open_message(
        TOKEN, AES_KEY, receive_id, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"], NOW
    )
    assert message == EVENT
    assert xml.parse(message)["State"] == "inv_7Hq2"


@pytest.mark.parametrize(("library", "receive_id"), [(WeChatCrypto, APP_ID), (WeComCrypto, CORP_ID)])
def test_wechatpy_decrypts_what_we_encrypt(library: type, receive_id: str) -> None:
    ciphertext, signature = crypto.seal_message(TOKEN, AES_KEY, receive_id, EVENT, TS, NONCE)
    envelope = xml.encrypted_envelope(ciphertext, signature, TS, NONCE)
    assert library(TOKEN, AES_KEY, receive_id).decrypt_message(envelope, signature, TS, NONCE) == EVENT


def test_wecom_url_verification_reads_wechatpys_echostr_and_wechatpy_reads_ours() -> None:
    echo = crypto.encrypt(AES_KEY, CORP_ID, "1234567890123")
    signature = crypto.msg_signature(TOKEN, TS, NONCE, echo)
    assert WeComCrypto(TOKEN, AES_KEY, CORP_ID).check_signature(signature, TS, NONCE, echo) == "1234567890123"
    assert crypto.verify_url(TOKEN, AES_KEY, CORP_ID, signature, TS, NONCE, echo, NOW) == "1234567890123"


def test_plain_signature_is_what_wechatpy_checks() -> None:
    signature = crypto.plain_signature(TOKEN, TS, NONCE)
    check_signature(TOKEN, signature, TS, NONCE)  # raises if it differs
    crypto.verify_plain(TOKEN, signature, TS, NONCE, NOW)
    with pytest.raises(InvalidSignatureException):
        check_signature(TOKEN, "0" * 40, TS, NONCE)
    with pytest.raises(crypto.SignatureMismatch):
        crypto.verify_plain(TOKEN, "0" * 40, TS, NONCE, NOW)


def test_jsapi_signature_matches_the_official_example() -> None:
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    signature = crypto.jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_jsapi_signature_equals_wechatpys_and_ignores_the_fragment() -> None:
    url = "https://shop.example.cn/landing?cid=c_1&x=%E4%B8%AD"
    ours = crypto.jsapi_signature("ticket-1", "nonce-1", 1700000000, url + "#/share")
    assert ours == WeChatJSAPI.get_jsapi_signature(None, "nonce-1", "ticket-1", 1700000000, url)


def test_a_bad_signature_is_refused_before_decrypting() -> None:
    ciphertext, _ = crypto.seal_message(TOKEN, AES_KEY, CORP_ID, EVENT, TS, NONCE)
    forged = crypto.msg_signature("otherToken", TS, NONCE, ciphertext)
    with pytest.raises(crypto.SignatureMismatch):
        crypto.open_message(TOKEN, AES_KEY, CORP_ID, forged, TS, NONCE, ciphertext, NOW)


def test_a_timestamp_outside_the_replay_window_is_refused() -> None:
    ciphertext, signature = crypto.seal_message(TOKEN, AES_KEY, CORP_ID, EVENT, TS, NONCE)
    later = NOW + crypto.REPLAY_WINDOW_SECONDS + 1
    with pytest.raises(crypto.StaleTimestamp):
        crypto.open_message(TOKEN, AES_KEY, CORP_ID, signature, TS, NONCE, ciphertext, later)
    with pytest.raises(crypto.StaleTimestamp):
        crypto.verify_plain(TOKEN, crypto.plain_signature(TOKEN, "abc", NONCE), "abc", NONCE, NOW)
    # inside the window, either side of our clock
    crypto.open_message(TOKEN, AES_KEY, CORP_ID, signature, TS, NONCE, ciphertext, NOW - crypto.REPLAY_WINDOW_SECONDS)


def test_a_message_for_another_receiver_is_refused_by_us_and_by_wechatpy() -> None:
    ciphertext = crypto.encrypt(AES_KEY, "wwOtherCorp000000", EVENT)
    with pytest.raises(crypto.WrongReceiver):
        crypto.decrypt(AES_KEY, CORP_ID, ciphertext)
    theirs = WeComCrypto(TOKEN, AES_KEY, "wwOtherCorp000000").encrypt_message(EVENT, NONCE, TS)
    fields = _envelope(theirs)
    with pytest.raises(crypto.WrongReceiver):
        crypto.open_message(TOKEN, AES_KEY, CORP_ID, fields["MsgSignature"], TS, NONCE, fields["Encrypt"], NOW)
    ours_sig = crypto.msg_signature(TOKEN, TS, NONCE, ciphertext)
    envelope = xml.encrypted_envelope(ciphertext, ours_sig, TS, NONCE)
    with pytest.raises(InvalidCorpIdException):
        WeComCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_message(envelope, ours_sig, TS, NONCE)
    official = crypto.encrypt(AES_KEY, "wx0000000000000000", EVENT)
    official_sig = crypto.msg_signature(TOKEN, TS, NONCE, official)
    with pytest.raises(InvalidAppIdException):
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
            xml.encrypted_envelope(official, official_sig, TS, NONCE), official_sig, TS, NONCE
        )


def _raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _framed(body: bytes, receiver: bytes) -> bytes:
    return os.urandom(16) + struct.pack(">I", len(body)) + body + receiver


@pytest.mark.parametrize(
    "padding",
    [
        b"\x00" * 32,  # a count of 0
        bytes([33]) * 32,  # more than a block
        b"\x07" * 31 + b"\x05",  # a count of 5 over bytes that say 7
    ],
)
def test_bad_padding_is_refused(padding: bytes) -> None:
    plain = _framed(b"<xml/>", CORP_ID.encode())
    plain += b"x" * (-len(plain) % 32)  # whole blocks, then a block of bad padding
    with pytest.raises(crypto.BadCiphertext):
        crypto.decrypt(AES_KEY, CORP_ID, _raw_encrypt(plain + padding))


@pytest.mark.parametrize(
    "ciphertext",
    [
        "not base64!!",
        base64.b64encode(b"short").decode(),  # not whole AES blocks
        "",
        base64.b64encode(hashlib.sha512(b"blocks").digest()).decode(),  # arbitrary blocks: padding refuses them
    ],
)
def test_malformed_ciphertext_is_refused(ciphertext: str) -> None:
    with pytest.raises((crypto.BadCiphertext, crypto.WrongReceiver)):
        crypto.decrypt(AES_KEY, CORP_ID, ciphertext)


def test_a_length_longer_than_the_message_is_refused() -> None:
    plain = os.urandom(16) + struct.pack(">I", 10_000) + b"<xml/>" + CORP_ID.encode()
    pad = 32 - len(plain) % 32
    with pytest.raises(crypto.BadCiphertext):
        crypto.decrypt(AES_KEY, CORP_ID, _raw_encrypt(plain + bytes([pad]) * pad))


def test_a_full_block_of_padding_round_trips() -> None:
    # 16 + 4 + len(message) + len(receive id) a multiple of 32: the padding is a whole block of 32s.
    message = "x" * (64 - 16 - 4 - len(CORP_ID))
    assert crypto.decrypt(AES_KEY, CORP_ID, crypto.encrypt(AES_KEY, CORP_ID, message)) == message


def test_encoding_aes_keys_are_43_base64_characters() -> None:
    assert crypto.valid_aes_key(AES_KEY)
    assert not crypto.valid_aes_key(AES_KEY[:-1])
    assert not crypto.valid_aes_key(AES_KEY + "H")
    assert not crypto.valid_aes_key(AES_KEY[:-1] + "=")
    assert not crypto.valid_aes_key(AES_KEY[:-1] + "-")


def test_the_signature_is_sha1_of_the_sorted_parts() -> None:
    parts = sorted([TOKEN, TS, NONCE, "cipher"])
    assert crypto.msg_signature(TOKEN, TS, NONCE, "cipher") == hashlib.sha1("".join(parts).encode()).hexdigest()
