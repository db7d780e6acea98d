"""Access tokens and JS-SDK tickets: the documented requests, when to refresh, and the platforms' errcodes (pure)."""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Unavailable
from chalicelib.platforms.rules.credentials import (
    Credentials,
    MiniProgramCredentials,
    Platform,
    WechatCredentials,
    WecomCredentials,
)

Kind = Literal["access_token", "jsapi_ticket"]

# A token is refreshed this long before the platform says it expires (tokens live 7200 s), so no call made with
# it runs out mid-flight and the refresh has time to finish while the old one still works.
REFRESH_MARGIN_SECONDS = 300
# Past the margin but before this close to its end, a cached token is still handed out while another container
# holds the lease and refreshes it.
LAST_USE_SECONDS = 30
# How long a lease lets its holder refresh: longer than one request's timeout, so a refresh that is still running
# keeps it; a holder that died frees it when it runs out.
LEASE_SECONDS = 15.0
# How long a container without the lease and without a usable token waits for the holder's refresh.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05

# "access_token is invalid or not latest" (40001), "invalid access_token" (40014), "access_token expired" (42001):
# answered by any API call whose token was replaced or ran out early; one forced refresh and a retry fix them.
TOKEN_INVALID = frozenset({40001, 40014, 42001})
# The platform is busy or throttling this app: try again later.
BUSY = frozenset({-1, 45009, 45011, 45033})
# The credentials themselves are refused (wrong id or secret, or our address is not on the app's IP allow-list:
# 40164 official account, 60020 WeCom).
CREDENTIALS_REFUSED = frozenset({40001, 40013, 40125, 40164, 41002, 41004, 40091, 60020, 61004})


class PlatformError(Unavailable):
    """A WeChat or WeCom API answered an error (`errcode` other than 0), or could not be reached."""

    def __init__(self, message: str, *, errcode: int | None = None, errmsg: str = "", code: str | None = None) -> None:
        details: dict[str, Any] = {"errcode": errcode, "errmsg": errmsg[:200]}
        super().__init__(message, code=code or Code.PLATFORM_ERROR, details=details)
        self.errcode = errcode
        self.errmsg = errmsg


class TokenInvalid(PlatformError):
    """The access token was refused (40001, 40014, 42001)."""


class CredentialsRefused(PlatformError):
    """The app id or secret was refused when fetching a token, or this server's address is not allowed."""


class PlatformBusy(PlatformError):
    """The platform is busy or throttling, or another container's token refresh did not finish in time."""

    def __init__(self, message: str, *, errcode: int | None = None, errmsg: str = "") -> None:
        super().__init__(message, errcode=errcode, errmsg=errmsg, code=Code.PLATFORM_BUSY)


class PlatformUnreachable(PlatformError):
    """No answer, an HTTP error status, or an answer that is not JSON."""


class PlatformNotConfigured(Conflict):
    def __init__(self, platform: Platform) -> None:
        super().__init__(
            f"the tenant has not connected {platform}: PUT /v1/admin/platforms/{platform}",
            code=Code.PLATFORM_NOT_CONFIGURED,
        )


def error_for(answer: dict[str, Any], *, fetching_token: bool = False) -> PlatformError | None:
    """The typed error an answer carries, or None for success (no `errcode`, or 0)."""
    errcode = answer.get("errcode", 0)
    if not isinstance(errcode, int) or errcode == 0:
        return None
    errmsg = str(answer.get("errmsg", ""))
    message = f"the platform answered errcode {errcode}"
    if fetching_token and errcode in CREDENTIALS_REFUSED:
        return CredentialsRefused(message + " fetching a token: check the id, the secret and the IP allow-list",
                                  errcode=errcode, errmsg=errmsg)  # fmt: skip
    if errcode in TOKEN_INVALID:
        return TokenInvalid(message, errcode=errcode, errmsg=errmsg)
    if errcode in BUSY:
        return PlatformBusy(message, errcode=errcode, errmsg=errmsg)
    if errcode in CREDENTIALS_REFUSED:
        return CredentialsRefused(message, errcode=errcode, errmsg=errmsg)
    return PlatformError(message, errcode=errcode, errmsg=errmsg)


def token_request(credentials: Credentials) -> tuple[str, dict[str, str]]:
    """The documented path and query that fetch an access token for these credentials.

    WeCom: `GET /cgi-bin/gettoken?corpid=&corpsecret=`. Official account and mini program: `GET /cgi-bin/token
    ?grant_type=client_credential&appid=&secret=` (docs/wechat.md says why not `stable_token`)."""
    if isinstance(credentials, WecomCredentials):
        return "/cgi-bin/gettoken", {"corpid": credentials.corp_id, "corpsecret": credentials.contact_secret}
    assert isinstance(credentials, WechatCredentials | MiniProgramCredentials)
    return "/cgi-bin/token", {
        "grant_type": "client_credential",
        "appid": credentials.app_id,
        "secret": credentials.app_secret,
    }


TICKET_PATH = "/cgi-bin/ticket/getticket"


def ticket_params(access_token: str) -> dict[str, str]:
    return {"access_token": access_token, "type": "jsapi"}


def read_grant(answer: dict[str, Any], field: str) -> tuple[str, int]:
    """(token, lifetime in seconds) from a token or ticket answer; PlatformUnreachable if it holds neither."""
    value, expires_in = answer.get(field), answer.get("expires_in")
    if not isinstance(value, str) or not value or not isinstance(expires_in, int) or expires_in <= 0:
        raise PlatformUnreachable(f"the platform's answer has no {field} and expires_in")
    return value, expires_in


def fresh(valid_until: float, now: float) -> bool:
    """Served without a refresh: not yet inside the refresh margin."""
    return now < valid_until - REFRESH_MARGIN_SECONDS


def usable_meanwhile(valid_until: float, now: float) -> bool:
    """Still good to hand out while someone else refreshes it."""
    return now < valid_until - LAST_USE_SECONDS
