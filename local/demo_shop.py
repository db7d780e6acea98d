"""The demo merchant's own server for the shop at /demo-shop/ (`make run`; docs/sdk.md).

A merchant's site logs its users in and, for a logged-in user, signs an identity assertion with one of
its Fission identity keys; the page hands it to the SDK's join. This is that server, as small as it can
be, routed by the local server under /demo-shop/api/ (the pages are static files in web/demo-shop/):

| route | answer |
|---|---|
| `GET  /demo-shop/api/session` | `{campaign, user}`: the shop's campaign and who is logged in (`null` when nobody) |
| `POST /demo-shop/api/login`   | `{"name": "alice"}` logs in as that member (a demo: any name, no password) |
| `POST /demo-shop/api/logout`  | ends the session |
| `POST /demo-shop/api/sign`    | `{assertion, expires_in}` for the logged-in member; 401 `NOT_LOGGED_IN` otherwise |

The session is an HttpOnly cookie holding the member's name and an HMAC of it under a key that lives only
in this process (a restart logs everybody out). POSTs must be JSON, which a cross-site form cannot send.
The identity key's secret comes from the seed (local/demo.py), which keeps it in `.data/` only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalicelib.security import assertions

PREFIX = "/demo-shop/api/"
COOKIE = "demo_shop_session"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
ASSERTION_SECONDS = 600  # well under the 15 minutes Fission accepts
MAX_BODY_BYTES = 4096


@dataclass(frozen=True)
class ShopSetup:
    """What the shop's server needs: its tenant, its campaign and the identity key it signs with."""

    tid: str
    cid: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _json(status: int, value: Any, **headers: str) -> Reply:
    sent = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", **headers}
    return Reply(status, sent, json.dumps(value).encode())


def _error(status: int, code: str, message: str) -> Reply:
    return _json(status, {"error": {"code": code, "message": message, "details": {}}})


def subject(name: str) -> str:
    """The shop's user id for a member: what the assertion's `sub` carries."""
    return f"member-{name.lower()}"


class DemoShop:
    def __init__(self, setup: ShopSetup, session_key: bytes | None = None) -> None:
        self.setup = setup
        self._session_key = session_key or secrets.token_bytes(32)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        route = path.removeprefix(PREFIX)
        if route == "session" and method == "GET":
            return self._session(headers)
        if route not in ("login", "logout", "sign"):
            return _error(404, "NOT_FOUND", f"no route {method} {path}")
        if method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", f"{method} is not served here")
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", "send JSON")
        if route == "login":
            return self._login(body)
        if route == "logout":
            return _json(200, {"user": None}, **{"Set-Cookie": self._cookie("", max_age=0)})
        return self._sign(headers)

    # ---- the session cookie ----

    def _mac(self, name: str) -> str:
        return hmac.new(self._session_key, name.encode(), hashlib.sha256).hexdigest()[:32]

    def _cookie(self, value: str, max_age: int | None = None) -> str:
        parts = [f"{COOKIE}={value}", "Path=/demo-shop/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts)

    def user(self, headers: Mapping[str, str]) -> str | None:
        """The logged-in member's name, from a cookie this process issued, or None."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("Cookie") or "")
        except CookieError:
            return None
        morsel = jar.get(COOKIE)
        name, _, mac = (morsel.value if morsel else "").partition(".")
        if not NAME.fullmatch(name) or not hmac.compare_digest(mac.encode(), self._mac(name).encode()):
            return None
        return name

    # ---- routes ----

    def _session(self, headers: Mapping[str, str]) -> Reply:
        name = self.user(headers)
        user = {"id": subject(name), "name": name} if name else None
        return _json(200, {"campaign": self.setup.cid, "user": user})

    def _login(self, body: bytes) -> Reply:
        try:
            name = json.loads(body[:MAX_BODY_BYTES] or b"{}").get("name")
        except (ValueError, AttributeError):
            name = None
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return _error(422, "VALIDATION_ERROR", "a member name is 1-32 letters, digits, '.', '_' or '-'")
        cookie = self._cookie(f"{name}.{self._mac(name)}")
        return _json(200, {"user": {"id": subject(name), "name": name}}, **{"Set-Cookie": cookie})

    def _sign(self, headers: Mapping[str, str]) -> Reply:
        name = self.user(headers)
        if name is None:
            return _error(401, "NOT_LOGGED_IN", "log in to the shop first")
        now = int(time.time())
        claims = {"iss": self.setup.tid, "sub": subject(name), "aud": assertions.AUDIENCE, "iat": now,
                  "exp": now + ASSERTION_SECONDS, "nickname": name}  # fmt: skip
        token = assertions.sign(claims, self.setup.key_id, self.setup.secret.encode())
        return _json(200, {"assertion": token, "expires_in": ASSERTION_SECONDS})
