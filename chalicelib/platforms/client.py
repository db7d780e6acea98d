"""Calls to WeChat and WeCom APIs on a tenant's behalf: the access token added, errcodes turned into typed errors.

`call(app, "POST", "/cgi-bin/externalcontact/add_contact_way", json={...})` builds `<base> + path` (the WeCom or
WeChat API base of the settings), adds `access_token` to the query, and answers the JSON object. A token refused
with 40001, 40014 or 42001 is refreshed once (forced, see tokens.py) and the call retried once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.config import get_settings
from chalicelib.platforms import tokens, transport
from chalicelib.platforms.rules import tokens as rules
from chalicelib.platforms.rules.credentials import Platform


@dataclass(frozen=True)
class App:
    """Whose app a call is made with: a tenant and one of its platforms."""

    tid: str
    platform: Platform


def call(
    app: App,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    json: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The platform's answer to `method path`; a typed `PlatformError` for any errcode other than 0."""
    token = tokens.access_token(app.tid, app.platform)
    answer = _send(app, method, path, params, json, token)
    error = rules.error_for(answer)
    if isinstance(error, rules.TokenInvalid):
        token = tokens.access_token(app.tid, app.platform, stale=token)
        answer = _send(app, method, path, params, json, token)
        error = rules.error_for(answer)
    if error is not None:
        raise error
    return answer


def call_bytes(
    app: App,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    json: Mapping[str, Any] | None = None,
) -> bytes:
    """The platform's binary answer (an image) to `method path`; an errcode answered as JSON instead is raised as
    `call` raises it, after the same one retry on a refused token."""
    token = tokens.access_token(app.tid, app.platform)
    kind, raw = _send_raw(app, method, path, params, json, token)
    error = _error_in(kind, raw, path)
    if isinstance(error, rules.TokenInvalid):
        token = tokens.access_token(app.tid, app.platform, stale=token)
        kind, raw = _send_raw(app, method, path, params, json, token)
        error = _error_in(kind, raw, path)
    if error is not None:
        raise error
    if not raw:
        raise rules.PlatformUnreachable(f"the platform's answer on {path} is empty")
    return raw


def _error_in(kind: str, raw: bytes, path: str) -> rules.PlatformError | None:
    if not transport.is_json(kind, raw):
        return None
    answer = transport.parse_json(raw, path)
    return rules.error_for(answer) or rules.PlatformUnreachable(f"the platform answered JSON, not an image, on {path}")


def _send_raw(
    app: App, method: str, path: str, params: Mapping[str, str] | None, json: Mapping[str, Any] | None, token: str
) -> tuple[str, bytes]:
    query = {**(params or {}), "access_token": token}
    url = tokens.api_base(app.platform) + path
    return transport.request(method, url, query, json, get_settings().platform_timeout_seconds)


def _send(
    app: App, method: str, path: str, params: Mapping[str, str] | None, json: Mapping[str, Any] | None, token: str
) -> dict[str, Any]:
    query = {**(params or {}), "access_token": token}
    url = tokens.api_base(app.platform) + path
    return transport.request_json(method, url, query, json, get_settings().platform_timeout_seconds)
