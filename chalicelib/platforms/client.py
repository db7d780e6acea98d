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


def _send(
    app: App, method: str, path: str, params: Mapping[str, str] | None, json: Mapping[str, Any] | None, token: str
) -> dict[str, Any]:
    query = {**(params or {}), "access_token": token}
    url = tokens.api_base(app.platform) + path
    return transport.request_json(method, url, query, json, get_settings().platform_timeout_seconds)
