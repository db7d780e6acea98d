"""WeChat web login (OAuth), the mini program's login and the JS-SDK config: requests, answers, state (pure).

The login's `state` is a MAC, not a container: what the callback must trust (campaign, scope, return address)
travels in our own `redirect_uri`'s query, which WeChat sends back untouched, and `state` is
`<expiry, base 36>.<HMAC-SHA256 of the tenant, those fields and the expiry, 16 bytes base64url>` (about 30 bytes,
well inside WeChat's 128). Nothing is stored between the start and the callback; a changed field, another
tenant's callback or a state past its 10 minutes fails the MAC or the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, ValidationFailed
from chalicelib.platforms.rules.tokens import PlatformError, error_for

Scope = Literal["snsapi_base", "snsapi_userinfo"]
SCOPES: tuple[Scope, ...] = ("snsapi_base", "snsapi_userinfo")
STATE_SECONDS = 600
MAX_STATE_BYTES = 128
MAX_RETURN_CHARS = 1024
AUTHORIZE_PATH = "/connect/oauth2/authorize"
ACCESS_TOKEN_PATH = "/sns/oauth2/access_token"
USERINFO_PATH = "/sns/userinfo"
JSCODE2SESSION_PATH = "/sns/jscode2session"

# A login code the platform refuses: unknown or expired (40029), already exchanged (40163), or refused as a
# mini program code (40226: the user is blocked as high-risk).
CODE_INVALID = frozenset({40029, 40226})
CODE_USED = frozenset({40163})


INVITE_CODE = r"^[0-9a-z]{1,16}$"


class LoginStart(BaseModel):
    """`GET /v1/wechat/{tid}/oauth/start`'s query."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    campaign: str = Field(min_length=1, max_length=64)
    return_to: str = Field(alias="return", min_length=1, max_length=MAX_RETURN_CHARS)
    ref: str | None = Field(default=None, pattern=INVITE_CODE)
    click: str | None = Field(default=None, min_length=1, max_length=64)
    scope: Scope = "snsapi_base"


class MiniLogin(BaseModel):
    """`POST /v1/miniprogram/{tid}/login`: the `wx.login` code, the campaign, and whoever invited the user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=128)
    campaign_id: str = Field(min_length=1, max_length=64)
    ref: str | None = Field(default=None, pattern=INVITE_CODE)
    scene: str | None = Field(
        default=None, min_length=1, max_length=32, description="`fis_<code>` of a mini program code"
    )


class LoginStateInvalid(BadRequest):
    """The callback's state does not match what our start signed (forged, altered, or another tenant's)."""

    def __init__(self, message: str = "the login state is invalid: start the login again") -> None:
        super().__init__(message, code=Code.LOGIN_STATE_INVALID)


class LoginStateExpired(BadRequest):
    def __init__(self) -> None:
        super().__init__("the login took too long: start it again", code=Code.LOGIN_STATE_EXPIRED)


class LoginDenied(BadRequest):
    def __init__(self) -> None:
        super().__init__("the WeChat user did not allow the login", code=Code.LOGIN_DENIED)


class LoginCodeRefused(BadRequest):
    """The platform refused the login code: unknown, expired, or used already. Typed, with the errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        code = Code.LOGIN_CODE_USED if errcode in CODE_USED else Code.LOGIN_CODE_INVALID
        what = "was used already" if errcode in CODE_USED else "is invalid or expired"
        super().__init__(
            f"the login code {what} (errcode {errcode}): start the login again",
            code=code,
            details={"errcode": errcode, "errmsg": errmsg[:200]},
        )


class ReturnNotAllowed(ValidationFailed):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not on this tenant's site or landing domains", code=Code.RETURN_URL_NOT_ALLOWED)


def subject_for(platform: Literal["wechat", "miniprogram"], openid: str, unionid: str | None) -> str:
    """The participant id a login vouches for: the unionid when the platform gives one (the same person across
    the merchant's official account and mini program), else the app-scoped openid, prefixed by kind."""
    if unionid:
        return unionid
    return f"openid:{openid}" if platform == "wechat" else f"mp-openid:{openid}"


def allowed_base(url: str, bases: frozenset[str]) -> str:
    """`url` itself if its scheme and host (and port) are one of `bases` (each `scheme://host[:port]`), else
    ReturnNotAllowed. Only absolute http(s) URLs without credentials: never a redirect to anywhere else."""
    if len(url) > MAX_RETURN_CHARS:
        raise ReturnNotAllowed("the address")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ReturnNotAllowed("the address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ReturnNotAllowed("the address")
    if "\\" in url or any(ord(c) < 0x21 for c in url):
        raise ReturnNotAllowed("the address")
    origin = f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port is not None else "")
    if origin not in bases:
        raise ReturnNotAllowed(origin)
    return url


def origin_of(base_url: str) -> str:
    """`scheme://host[:port]` of a configured base URL, as `allowed_base` compares them."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}" + (f":{parts.port}" if parts.port else "")


def _mac(secret: bytes, tid: str, fields: dict[str, str], expires: int) -> str:
    message = "\n".join([tid, *(f"{k}={fields[k]}" for k in sorted(fields)), str(expires)])
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def seal_state(secret: bytes, tid: str, fields: dict[str, str], now: int) -> str:
    """The `state` for a login of `tid` whose callback carries `fields` in its query."""
    expires = now + STATE_SECONDS
    state = f"{_base36(expires)}.{_mac(secret, tid, fields, expires)}"
    assert len(state) <= MAX_STATE_BYTES
    return state


def open_state(secret: bytes, tid: str, fields: dict[str, str], state: str, now: int) -> None:
    """Refuse a state our start did not sign for exactly these fields and this tenant, or one past its time."""
    head, _, mac = state.partition(".")
    try:
        expires = int(head, 36)
    except ValueError:
        raise LoginStateInvalid() from None
    if not hmac.compare_digest(mac.encode(), _mac(secret, tid, fields, expires).encode()):
        raise LoginStateInvalid()
    if now > expires:
        raise LoginStateExpired()


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            return out


def authorize_url(open_base: str, app_id: str, redirect_uri: str, scope: Scope, state: str) -> str:
    """Where the browser goes to log in (网页授权): the documented parameters in the documented order."""
    query = urlencode(
        {"appid": app_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope, "state": state}
    )
    return f"{open_base.rstrip('/')}{AUTHORIZE_PATH}?{query}#wechat_redirect"


def code_error(answer: dict[str, Any]) -> PlatformError | LoginCodeRefused | None:
    """The typed error of a code exchange: a refused code is the caller's (400), anything else the platform's."""
    errcode = answer.get("errcode", 0)
    if isinstance(errcode, int) and (errcode in CODE_INVALID or errcode in CODE_USED):
        return LoginCodeRefused(errcode, str(answer.get("errmsg", "")))
    return error_for(answer)


@dataclass(frozen=True)
class WebLogin:
    """What the code exchange of a web login tells: who (openid, maybe unionid) and what was granted."""

    openid: str
    unionid: str | None
    scope: str
    access_token: str


def web_login(answer: dict[str, Any]) -> WebLogin:
    openid, token = answer.get("openid"), answer.get("access_token")
    if not isinstance(openid, str) or not openid or not isinstance(token, str) or not token:
        raise PlatformError("the platform's login answer has no openid and access_token")
    unionid = answer.get("unionid")
    return WebLogin(openid, unionid if isinstance(unionid, str) and unionid else None,
                    str(answer.get("scope", "")), token)  # fmt: skip


def mini_login(answer: dict[str, Any]) -> tuple[str, str | None]:
    """(openid, unionid) from jscode2session; its session_key is dropped here, never kept or logged."""
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid:
        raise PlatformError("the platform's jscode2session answer has no openid")
    unionid = answer.get("unionid")
    return openid, unionid if isinstance(unionid, str) and unionid else None


def profile(answer: dict[str, Any]) -> dict[str, str]:
    """The assertion's profile claims from snsapi_userinfo: nickname (capped as joins cap it) and avatar."""
    found: dict[str, str] = {}
    nickname = answer.get("nickname")
    if isinstance(nickname, str) and nickname.strip():
        found["nickname"] = nickname.strip()[:32]
    avatar = answer.get("headimgurl")
    if isinstance(avatar, str) and avatar.startswith(("https://", "http://")):
        found["avatar_url"] = avatar
    return found
