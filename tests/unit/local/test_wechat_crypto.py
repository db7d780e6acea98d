"""The stand-in's WXBizMsgCrypt (local/wechat/crypto.py) against wechatpy, an independent implementation."""

from __future__ import annotations

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto as OfficialAccountCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import check_signature

from local.wechat.crypto import CryptoError, MsgCrypt, new_encoding_aes_key, signature

TOKEN = "standintoken"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "wwstandin0000001"
APP = "wxstandin0000001"


def envelope(encrypt: str) -> str:
    return f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


@pytest.mark.parametrize("message", ["<xml><Event><![CDATA[subscribe]]></Event></xml>", "x" * 32, "欢迎 " * 7])
def test_what_the_stand_in_encrypts_wechatpy_decrypts_and_signature_checks(message: str) -> None:
    crypt = MsgCrypt(TOKEN, KEY, CORP)
    encrypt = crypt.encrypt(message)
    sig = crypt.sign("1700000000", "12345", encrypt)

    assert WeComCrypto(TOKEN, KEY, CORP).decrypt_message(envelope(encrypt), sig, "1700000000", "12345") == message


def test_what_wechatpy_encrypts_the_stand_in_verifies_and_decrypts() -> None:
    reply = OfficialAccountCrypto(TOKEN, KEY, APP).encrypt_message(
        "<xml><Content>hi</Content></xml>", "777", "1700000001"
    )
    fields = xmltodict.parse(reply)["xml"]
    crypt = MsgCrypt(TOKEN, KEY, APP)

    assert crypt.verify(fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
    assert crypt.decrypt(fields["Encrypt"]) == "<xml><Content>hi</Content></xml>"


def test_a_message_for_another_receiver_is_refused() -> None:
    encrypt = MsgCrypt(TOKEN, KEY, CORP).encrypt("hello")

    with pytest.raises(CryptoError, match="another receiver"):
        MsgCrypt(TOKEN, KEY, "wwsomeoneelse").decrypt(encrypt)


def test_the_plain_signature_is_the_official_accounts() -> None:
    check_signature(TOKEN, signature(TOKEN, "1700000002", "99"), "1700000002", "99")  # raises when it differs


def test_a_new_encoding_aes_key_is_43_characters_of_a_32_byte_key() -> None:
    key = new_encoding_aes_key()

    assert len(key) == 43
    assert len(MsgCrypt(TOKEN, key, CORP).key) == 32
