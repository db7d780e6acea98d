"""Provider credentials: keys that parse and are long enough, digits where the providers use digits, a 32-byte
APIv3 key, and a view that never shows a secret."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from chalicelib.payouts.rules.credentials import AlipayCredentials, WeChatPayCredentials
from tests.unit.payouts.conftest import pem, public_pem


@pytest.fixture(scope="module")
def wechat(merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "merchant_serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "merchant_private_key": pem(merchant_key),
        "apiv3_key": "0123456789abcdef0123456789ABCDEF",
        "platform_serial": "PUB_KEY_ID_0114232134912410000000000000",
        "platform_public_key": public_pem(platform_key.public_key()),
    }


def test_valid_wechat_pay_credentials_make_a_config(wechat: dict[str, Any], platform_key: rsa.RSAPrivateKey) -> None:
    config = WeChatPayCredentials.model_validate(wechat).to_config()
    assert config.mchid == "1900000109" and config.apiv3_key == b"0123456789abcdef0123456789ABCDEF"
    assert config.platform_key.public_numbers() == platform_key.public_key().public_numbers()
    assert "0123456789abcdef" not in repr(config)


def test_the_view_shows_no_secret(wechat: dict[str, Any]) -> None:
    view = WeChatPayCredentials.model_validate(wechat).public_view()
    text = json.dumps(view)
    assert wechat["apiv3_key"] not in text and "PRIVATE KEY" not in text
    assert view["merchant_private_key"] == "set" and view["apiv3_key"] == "set"
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", view["platform_key_fingerprint"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mchid", "19000x0109"),
        ("apiv3_key", "0123456789abcdef0123456789ABCDE"),  # 31
        ("apiv3_key", "0123456789abcdef0123456789ABCDÉ"),  # 32 characters, 33 bytes
        (
            "merchant_private_key",
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5" + "A" * 100 + "\n-----END PRIVATE KEY-----",
        ),
        ("platform_public_key", "x" * 200),
        ("merchant_serial_no", "not hex"),
        ("extra", "field"),
    ],
)
def test_bad_wechat_pay_credentials_are_refused(wechat: dict[str, Any], field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        WeChatPayCredentials.model_validate({**wechat, field: value})


def test_short_keys_are_refused(wechat: dict[str, Any]) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValidationError, match="at least 2048"):
        WeChatPayCredentials.model_validate({**wechat, "merchant_private_key": pem(short)})
    with pytest.raises(ValidationError, match="at least 2048"):
        WeChatPayCredentials.model_validate({**wechat, "platform_public_key": public_pem(short.public_key())})


def test_a_platform_certificate_stands_for_its_key(wechat: dict[str, Any], platform_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(platform_key.public_key())
        .serial_number(0x5157F09EFDC096DE).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(platform_key, hashes.SHA256())
    )  # fmt: skip
    text = certificate.public_bytes(serialization.Encoding.PEM).decode()
    config = WeChatPayCredentials.model_validate({**wechat, "platform_public_key": text}).to_config()
    assert config.platform_key.public_numbers() == platform_key.public_key().public_numbers()


def test_alipay_keys_are_accepted_as_the_console_shows_them(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey
) -> None:
    def bare(text: str) -> str:  # the open platform shows keys as one base64 line, without the PEM armour
        return "".join(line for line in text.splitlines() if not line.startswith("-----"))

    credentials = AlipayCredentials.model_validate(
        {
            "app_id": "2021000000000001",
            "app_private_key": bare(pem(merchant_key)),
            "alipay_public_key": bare(public_pem(platform_key.public_key())),
        }
    )
    config = credentials.to_config()
    assert config.alipay_key.public_numbers() == platform_key.public_key().public_numbers()
    view = credentials.public_view()
    assert view["app_private_key"] == "set" and "MII" not in json.dumps(view)
    with pytest.raises(ValidationError):
        AlipayCredentials.model_validate({**credentials.model_dump(), "app_id": "20210000000001"})
