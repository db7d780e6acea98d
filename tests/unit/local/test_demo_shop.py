"""The demo shop's server (local/demo_shop.py): its login session and the assertions it signs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.security import assertions
from local.demo_shop import COOKIE, DemoShop, Reply, ShopSetup

SETUP = ShopSetup(tid="demo", cid="cmp_shop", key_id="idk_shop", secret="shop-secret-for-tests-0123456789")
JSON = {"Content-Type": "application/json"}


def shop() -> DemoShop:
    return DemoShop(SETUP, session_key=b"k" * 32)


def body(reply: Reply) -> dict:
    return dict(json.loads(reply.body))


def logged_in(name: str = "alice") -> dict[str, str]:
    reply = shop().handle("POST", "/demo-shop/api/login", JSON, json.dumps({"name": name}).encode())
    assert reply.status == 200, reply.body
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/demo-shop/" in cookie
    return {"Cookie": cookie.split(";")[0], **JSON}


def test_the_session_names_the_campaign_and_nobody_before_a_login() -> None:
    reply = shop().handle("GET", "/demo-shop/api/session", {}, b"")

    assert reply.status == 200
    assert body(reply) == {"campaign": "cmp_shop", "user": None}
    assert reply.headers["Cache-Control"] == "no-store"


def test_a_login_makes_a_session_the_shop_recognises() -> None:
    reply = shop().handle("GET", "/demo-shop/api/session", logged_in("alice"), b"")

    assert body(reply)["user"] == {"id": "member-alice", "name": "alice"}


def test_the_signed_assertion_verifies_for_the_logged_in_member() -> None:
    reply = shop().handle("POST", "/demo-shop/api/sign", logged_in("Bob"), b"{}")

    assert reply.status == 200
    token = body(reply)["assertion"]
    keys = assertions.KeySet(active={SETUP.key_id: SETUP.secret.encode()})
    verified = assertions.verify(token, SETUP.tid, keys, datetime.now(UTC))
    assert verified.subject == "member-bob"
    assert verified.profile == {"nickname": "Bob"}
    assert verified.expires_at - verified.issued_at == body(reply)["expires_in"] <= assertions.MAX_LIFETIME_SECONDS


def test_another_secret_does_not_verify_it() -> None:
    token = body(shop().handle("POST", "/demo-shop/api/sign", logged_in(), b"{}"))["assertion"]
    keys = assertions.KeySet(active={SETUP.key_id: b"another-secret-of-the-same-length-32"})

    with pytest.raises(Unauthorized):
        assertions.verify(token, SETUP.tid, keys, datetime.now(UTC))


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        f"{COOKIE}=alice",
        f"{COOKIE}=alice.0000",
        f"{COOKIE}=mallory.{'0' * 32}",
        f"{COOKIE}=al ice.x",
        f'{COOKIE}="\\344\\275\\240.x"',
    ],
)
def test_signing_needs_a_session_this_shop_issued(cookie: str) -> None:
    reply = shop().handle("POST", "/demo-shop/api/sign", {"Cookie": cookie, **JSON}, b"{}")

    assert reply.status == 401
    assert body(reply)["error"]["code"] == "NOT_LOGGED_IN"


def test_a_session_from_another_process_is_not_recognised() -> None:
    other = DemoShop(SETUP, session_key=b"o" * 32)

    assert other.handle("POST", "/demo-shop/api/sign", logged_in(), b"{}").status == 401


@pytest.mark.parametrize("name", ["", "a" * 33, "<b>", "al ice", None, 7])
def test_a_login_takes_a_plain_member_name(name: object) -> None:
    reply = shop().handle("POST", "/demo-shop/api/login", JSON, json.dumps({"name": name}).encode())

    assert reply.status == 422
    assert "Set-Cookie" not in reply.headers


def test_posts_must_be_json_and_unknown_routes_are_404() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    assert shop().handle("POST", "/demo-shop/api/login", form, b"name=alice").status == 415
    assert shop().handle("GET", "/demo-shop/api/sign", JSON, b"").status == 405
    assert shop().handle("GET", "/demo-shop/api/secret", {}, b"").status == 404
    assert shop().handle("POST", "/demo-shop/api/login", JSON, b"not json").status == 422


def test_logout_clears_the_cookie() -> None:
    reply = shop().handle("POST", "/demo-shop/api/logout", logged_in(), b"{}")

    assert reply.status == 200
    assert reply.headers["Set-Cookie"].startswith(f"{COOKIE}=;") and "Max-Age=0" in reply.headers["Set-Cookie"]
