"""Access tokens and JS-SDK tickets: cached in the table, refreshed early by one container at a time.

Every app's token is one item, encrypted like PII. A token inside its refresh margin is refreshed by whoever takes
the lease (a conditional put); the others keep using the old token while it is still good, or wait briefly and
read again. A call refused with an invalid-token errcode asks for a forced refresh naming the token it used
(`stale`): the refresh happens only if that token is still the cached one, so twenty calls failing together
cause one refresh, not twenty (docs/architecture.md, "Platform tokens").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chalicelib.core.config import get_settings
from chalicelib.core.ids import new_id
from chalicelib.platforms import credentials, transport
from chalicelib.platforms.rules import tokens as rules
from chalicelib.platforms.rules.credentials import APP_ID_FIELD, SECRETS, Credentials, Platform
from chalicelib.platforms.store import tokens as store
from chalicelib.security.pii import get_cipher

Fetch = Callable[[], tuple[str, int]]

# The clock and the pause between reads while another container refreshes (tests replace them).
clock: Callable[[], float] = time.time
sleep: Callable[[float], None] = time.sleep


def api_base(platform: Platform) -> str:
    settings = get_settings()
    return (settings.wecom_api_base if platform == "wecom" else settings.wechat_api_base).rstrip("/")


def cache_kind(platform: Platform, credentials_: Credentials, kind: rules.Kind) -> str:
    """The cache key names the app and its secret (by fingerprint): new credentials never reuse an old token."""
    document = credentials_.model_dump()
    secret = document[SECRETS[platform][0]]
    return f"{kind}.{credentials.fingerprint(f'{document[APP_ID_FIELD[platform]]}:{secret}')}"


def _context(tid: str, platform: str, kind: str) -> str:
    return f"platform-token:{tid}:{platform}:{kind}"


def _cached(tid: str, platform: Platform, kind: str, fetch: Fetch, stale: str | None) -> str:
    cipher = get_cipher()
    context = _context(tid, platform, kind)
    deadline = time.monotonic() + rules.WAIT_SECONDS

    def current() -> tuple[str | None, int]:
        item = store.get(tid, platform, kind)
        if item is None:
            return None, 0
        return cipher.decrypt(item.token_enc, context), item.valid_until

    while True:
        token, valid_until = current()
        if token is not None and token != stale and rules.fresh(valid_until, clock()):
            return token
        holder = new_id("lease")
        if store.take_lease(tid, platform, kind, holder, clock(), rules.LEASE_SECONDS):
            try:
                # A refresh may have landed between the read and the lease.
                token, valid_until = current()
                if token is not None and token != stale and rules.fresh(valid_until, clock()):
                    return token
                value, lifetime = fetch()
                fetched_at = clock()
                store.put(
                    tid, platform, kind, cipher.encrypt(value, context), int(fetched_at + lifetime), int(fetched_at)
                )
                return value
            finally:
                store.release_lease(tid, platform, kind, holder)
        if token is not None and token != stale and rules.usable_meanwhile(valid_until, clock()):
            return token
        if time.monotonic() > deadline:
            raise rules.PlatformBusy("another container's token refresh did not finish in time")
        sleep(rules.POLL_SECONDS)


def access_token(tid: str, platform: Platform, *, stale: str | None = None) -> str:
    """The tenant's access token for `platform`; with `stale`, a token other than that one (a forced refresh,
    unless someone already replaced it)."""
    found = credentials.get_credentials(tid, platform)

    def fetch() -> tuple[str, int]:
        path, params = rules.token_request(found)
        answer = transport.request_json("GET", api_base(platform) + path, params, None, _timeout())
        error = rules.error_for(answer, fetching_token=True)
        if error is not None:
            raise error
        return rules.read_grant(answer, "access_token")

    return _cached(tid, platform, cache_kind(platform, found, "access_token"), fetch, stale)


def jsapi_ticket(tid: str, *, stale: str | None = None) -> str:
    """The official account's JS-SDK ticket (`jsapi_ticket`), cached and refreshed like its access token."""
    found = credentials.get_credentials(tid, "wechat")

    def fetch() -> tuple[str, int]:
        token = access_token(tid, "wechat")
        url = api_base("wechat") + rules.TICKET_PATH
        answer = transport.request_json("GET", url, rules.ticket_params(token), None, _timeout())
        error = rules.error_for(answer)
        if isinstance(error, rules.TokenInvalid):
            token = access_token(tid, "wechat", stale=token)
            answer = transport.request_json("GET", url, rules.ticket_params(token), None, _timeout())
            error = rules.error_for(answer)
        if error is not None:
            raise error
        return rules.read_grant(answer, "ticket")

    return _cached(tid, "wechat", cache_kind("wechat", found, "jsapi_ticket"), fetch, stale)


def _timeout() -> float:
    return get_settings().platform_timeout_seconds
