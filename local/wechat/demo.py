"""The demo corp and official account `make run` registers in the stand-in, with fixed local credentials so
that the demo tenant's WeCom and official-account settings can name them (they are worthless elsewhere). The ids have
the real consoles' shape (`ww`/`wx` + 16), which the product's credential screens check."""

from __future__ import annotations

from typing import Any

from local.wechat.server import WeChatStandIn

DEMO_CORP: dict[str, Any] = {
    "corp_id": "wwdemo000000000001",
    "secret": "demo-wecom-customer-contact-secret",
    "token": "demowecomtoken",
    "encoding_aes_key": "ZGVtby13ZWNvbS1lbmNvZGluZy1hZXMta2V5LTAxMjM",
    "agent_id": "1000002",
    "name": "演示小店",
    "staff": {"xiaomei": "店长小美"},
}
DEMO_OFFICIAL_ACCOUNT: dict[str, Any] = {
    "app_id": "wxdemo000000000001",
    "secret": "demo-official-account-secret",
    "token": "demowechattoken",
    "encoding_aes_key": "ZGVtby13ZWNoYXQtZW5jb2RpbmctYWVzLWtleS0wMTI",
    "name": "演示小店服务号",
    "original_id": "gh_demo00000001",
}
DEMO_MINI_PROGRAM: dict[str, Any] = {
    "app_id": "wxdemominiprog0001",
    "secret": "demo-mini-program-secret",
    "kind": "mini_program",
    "name": "演示小店小程序",
}


def register_demo(standin: WeChatStandIn, api_url: str, tid: str) -> None:
    """The demo tenant's corp, official account and mini program, calling back the product's routes."""
    standin.register_corp(DEMO_CORP | {"callback_url": f"{api_url}/v1/wecom/{tid}/callback"})
    standin.register_app(DEMO_OFFICIAL_ACCOUNT | {"callback_url": f"{api_url}/v1/wechat/{tid}/callback"})
    standin.register_app(DEMO_MINI_PROGRAM)
