"""Fission's own platform logins for `platform` identity campaigns: WeChat's web login (OAuth) and the mini
program's login, and the JS-SDK config the landing page shares with (docs/wechat.md).

The web login starts at our route, goes through WeChat's consent, comes back to our callback with a one-time code,
and ends on the landing page with a platform assertion in the address's fragment; the page joins with it as it
joins a signed campaign. The return address must be on the tenant's site or one of its landing domains: never a
redirect to anywhere else, and never a JS-SDK signature for someone else's page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from chalicelib.accounts import domains
from chalicelib.campaigns import live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import IdentityMode
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.validation import validation_error
from chalicelib.platforms import login
from chalicelib.platforms.rules import login as rules
from chalicelib.platforms.rules.login import LoginStart, MiniLogin
from chalicelib.platforms.rules.scenes import code_from_scene
from chalicelib.referral import identity
from chalicelib.security import assertions
from chalicelib.security.keyring import get_keyring


def parse_start(query: Mapping[str, str]) -> LoginStart:
    try:
        return LoginStart.model_validate(dict(query))
    except ValidationError as exc:
        raise validation_error(exc) from exc


def _state_secret() -> bytes:
    return get_keyring().secret("wechat-login-state")


def _campaign(tid: str, cid: str, platform: str) -> CampaignRecord:
    rec = live.campaign(cid)
    if rec.tid != tid:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    settings = rec.spec.identity
    if settings.mode is not IdentityMode.PLATFORM or settings.platform != platform:
        raise Conflict(f"this campaign does not use the {platform} login", code=Code.PLATFORM_LOGIN_NOT_USED)
    return rec


def allowed_bases(tid: str) -> frozenset[str]:
    """Where a login may return and which pages get JS-SDK signatures: the site and the tenant's landing domains."""
    hosts = domains.landing_hosts(tid).registered
    return frozenset({rules.origin_of(get_settings().site_url("")), *(f"https://{host}" for host in hosts)})


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    query += [(name, value) for name, value in extra.items() if name not in present]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def callback_url(tid: str, fields: Mapping[str, str]) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/v1/wechat/{tid}/oauth/callback?{urlencode(fields)}"


def start(tid: str, request: LoginStart, now: datetime) -> str:
    """Where to send the browser to log in with WeChat for campaign `request.campaign`."""
    rec = _campaign(tid, request.campaign, "wechat")
    target = rules.allowed_base(request.return_to, allowed_bases(tid))
    extra = {"campaign": rec.cid, **({"ref": request.ref} if request.ref else {})}
    if request.click:
        extra["click"] = request.click
    fields = {"c": rec.cid, "s": request.scope, "to": _with_query(target, extra)}
    state = rules.seal_state(_state_secret(), tid, fields, int(now.timestamp()))
    return login.authorize_url(tid, callback_url(tid, fields), request.scope, state)


def finish(tid: str, query: Mapping[str, str], now: datetime) -> str:
    """The landing page address, with the platform assertion in its fragment, after WeChat's redirect back."""
    fields = {name: query.get(name, "") for name in ("c", "s", "to")}
    state = query.get("state", "")
    if not all(fields.values()) or not state:
        raise rules.LoginStateInvalid()
    rules.open_state(_state_secret(), tid, fields, state, int(now.timestamp()))
    code = query.get("code")
    if not code:
        raise rules.LoginDenied()
    _campaign(tid, fields["c"], "wechat")
    found, profile = login.exchange_web_code(tid, code)
    subject = rules.subject_for("wechat", found.openid, found.unionid)
    assertion = identity.mint_platform_assertion("wechat", subject, now, profile)
    return f"{fields['to']}#{urlencode({'assertion': assertion})}"


def jssdk_config(tid: str, url: str | None, now: datetime) -> dict[str, Any]:
    """`wx.config`'s fields for a page of the tenant's; other pages get no signature."""
    if not url:
        raise rules.ReturnNotAllowed("an empty address")
    page = rules.allowed_base(url, allowed_bases(tid))
    return login.jssdk_config(tid, page, int(now.timestamp()))


def mini_login(tid: str, request: MiniLogin, now: datetime) -> dict[str, Any]:
    """A platform assertion for the mini program user whose `wx.login` gave `request.code`, and the inviter's
    code the mini program passes on to the join (`ref`, or the one its `scene` names)."""
    _campaign(tid, request.campaign_id, "miniprogram")
    ref = request.ref
    if ref is None and request.scene is not None:
        ref = code_from_scene(request.scene)
    openid, unionid = login.exchange_mini_code(tid, request.code)
    subject = rules.subject_for("miniprogram", openid, unionid)
    return {
        "assertion": identity.mint_platform_assertion("miniprogram", subject, now),
        "expires_in": assertions.MAX_LIFETIME_SECONDS,
        "ref": ref,
    }
