"""The payment fakes over HTTP: the control API hands out the local credentials, counts payments, re-sends a
callback; keys kept in a file survive a restart."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from chalicelib.payouts.rules.credentials import AlipayCredentials, WeChatPayCredentials
from local.payments.server import PaymentsStandIn


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the local fake
        return json.loads(response.read())


def test_the_control_api_hands_out_credentials_the_product_accepts(tmp_path: Path) -> None:
    keys = tmp_path / "payment-fakes.json"
    standin = PaymentsStandIn(keys_file=keys)
    standin.start()
    try:
        found = _get(f"{standin.url}/_local/credentials")
        WeChatPayCredentials.model_validate(found["wechatpay"])
        AlipayCredentials.model_validate(found["alipay"])
        assert _get(f"{standin.url}/_local/payments") == {"wechatpay": {}, "alipay": {}}
        assert set(standin.environment()) == {"FISSION_WECHATPAY_API_BASE", "FISSION_ALIPAY_GATEWAY"}
    finally:
        standin.stop()
    assert keys.stat().st_mode & 0o777 == 0o600
    again = PaymentsStandIn(keys_file=keys)
    again.httpd.server_close()
    assert again.wechatpay.credentials() == found["wechatpay"] and again.alipay.credentials() == found["alipay"]
