"""WeChat's logins on a tenant's behalf: the web login's code exchange and profile, the mini program's
jscode2session, and the JS-SDK config for a page (docs/wechat.md, "Web login, JS-SDK and the mini program").

These calls authenticate with the app secret (or the user's own login token), not the app's access token, so they
go straight to the transport. A session_key from jscode2session is read and dropped: never returned or logged.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.core.config import get_settings
from chalicelib.platforms import credentials, tokens, transport
from chalicelib.platforms.rules import crypto
from chalicelib.platforms.rules import login as rules
from chalicelib.platforms.rules.credentials import MiniProgramCredentials, WechatCredentials
from chalicelib.platforms.rules.login import Scope, WebLogin


def _wechat(tid: str) -> WechatCredentials:
    found = credentials.get_credentials(tid, "wechat")
    assert isinstance(found, WechatCredentials)
    return found


def _get(path: str, params: dict[str, str]) -> dict[str, Any]:
    url = tokens.api_base("wechat") + path
    return transport.request_json("GET", url, params, None, get_settings().platform_timeout_seconds)


def _checked(answer: dict[str, Any]) -> dict[str, Any]:
    error = rules.code_error(answer)
    if error is not None:
        raise error
    return answer


def authorize_url(tid: str, redirect_uri: str, scope: Scope, state: str) -> str:
    """Where the browser logs in with the tenant's official account."""
    return rules.authorize_url(get_settings().wechat_open_base, _wechat(tid).app_id, redirect_uri, scope, state)


def exchange_web_code(tid: str, code: str) -> tuple[WebLogin, dict[str, str]]:
    """Who a web login's `code` is (once: WeChat refuses a code used before) and, for snsapi_userinfo, their
    nickname and avatar."""
    app = _wechat(tid)
    params = {"appid": app.app_id, "secret": app.app_secret, "code": code, "grant_type": "authorization_code"}
    login = rules.web_login(_checked(_get(rules.ACCESS_TOKEN_PATH, params)))
    if login.scope != "snsapi_userinfo":
        return login, {}
    answer = _get(rules.USERINFO_PATH, {"access_token": login.access_token, "openid": login.openid, "lang": "zh_CN"})
    error = rules.code_error(answer)
    if error is not None:
        raise error
    return login, rules.profile(answer)


def exchange_mini_code(tid: str, code: str) -> tuple[str, str | None]:
    """(openid, unionid) of the mini program user whose `wx.login` gave `code`."""
    app = credentials.get_credentials(tid, "miniprogram")
    assert isinstance(app, MiniProgramCredentials)
    params = {"appid": app.app_id, "secret": app.app_secret, "js_code": code, "grant_type": "authorization_code"}
    return rules.mini_login(_checked(_get(rules.JSCODE2SESSION_PATH, params)))


def jssdk_config(tid: str, url: str, now: int) -> dict[str, Any]:
    """What `wx.config` needs for the page at `url` (its caller checked the URL is the tenant's)."""
    app = _wechat(tid)
    nonce = secrets.token_urlsafe(12)
    ticket = tokens.jsapi_ticket(tid)
    return {
        "appId": app.app_id,
        "timestamp": now,
        "nonceStr": nonce,
        "signature": crypto.jsapi_signature(ticket, nonce, now, url),
    }
