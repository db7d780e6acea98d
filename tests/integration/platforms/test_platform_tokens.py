"""Access tokens: one refresh for many concurrent callers, refreshed before expiry, and refreshed once on 40001."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.platforms import client, credentials, tokens
from chalicelib.platforms.rules import tokens as rules
from chalicelib.platforms.store import tokens as token_store
from tests.conftest import Api, Tenant
from tests.integration.platforms.conftest import WECHAT, WECOM, TokenServer, connect

GETTOKEN = "/qyapi/cgi-bin/gettoken"
ECHO = "/cgi-bin/echo"


def test_twenty_concurrent_callers_cause_exactly_one_refresh(
    api: Api, tenant: Tenant, token_server: TokenServer
) -> None:
    connect(api, tenant, "wecom", WECOM)
    token_server.delay = 0.3  # the refresh is slow: the others find the lease taken and wait for it
    barrier = threading.Barrier(20)

    def need_token() -> str:
        barrier.wait()
        return tokens.access_token(tenant.tid, "wecom")

    with ThreadPoolExecutor(max_workers=20) as pool:
        got = list(pool.map(lambda _: need_token(), range(20)))

    assert token_server.hits[GETTOKEN] == 1
    assert set(got) == {"tok-1"}


def test_a_cached_token_is_reused_and_refreshed_inside_the_margin(
    api: Api, tenant: Tenant, token_server: TokenServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(api, tenant, "wecom", WECOM)
    start = time.time()
    monkeypatch.setattr(tokens, "clock", lambda: start)
    assert tokens.access_token(tenant.tid, "wecom") == "tok-1"
    monkeypatch.setattr(tokens, "clock", lambda: start + 7200 - rules.REFRESH_MARGIN_SECONDS - 5)
    assert tokens.access_token(tenant.tid, "wecom") == "tok-1"
    assert token_server.hits[GETTOKEN] == 1

    monkeypatch.setattr(tokens, "clock", lambda: start + 7200 - rules.REFRESH_MARGIN_SECONDS + 5)
    assert tokens.access_token(tenant.tid, "wecom") == "tok-2"
    assert token_server.hits[GETTOKEN] == 2


def test_while_another_container_refreshes_the_old_token_is_used_if_still_good(
    api: Api, tenant: Tenant, token_server: TokenServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(api, tenant, "wecom", WECOM)
    start = time.time()
    monkeypatch.setattr(tokens, "clock", lambda: start)
    tokens.access_token(tenant.tid, "wecom")
    found = credentials.get_credentials(tenant.tid, "wecom")
    kind = tokens.cache_kind("wecom", found, "access_token")
    inside_margin = start + 7200 - 60
    assert token_store.take_lease(tenant.tid, "wecom", kind, "someone-else", inside_margin, 120)

    monkeypatch.setattr(tokens, "clock", lambda: inside_margin)
    assert tokens.access_token(tenant.tid, "wecom") == "tok-1"  # no wait, no second refresh
    assert token_server.hits[GETTOKEN] == 1

    # Past its last use and the lease still held: wait, then give up with a typed error.
    monkeypatch.setattr(tokens, "clock", lambda: start + 7200 - 10)
    monkeypatch.setattr(rules, "WAIT_SECONDS", 0.2)
    with pytest.raises(rules.PlatformBusy):
        tokens.access_token(tenant.tid, "wecom")
    assert token_server.hits[GETTOKEN] == 1


def test_an_invalid_token_is_refreshed_once_and_the_call_retried_once(
    api: Api, tenant: Tenant, token_server: TokenServer
) -> None:
    connect(api, tenant, "wecom", WECOM)
    app = client.App(tenant.tid, "wecom")
    assert client.call(app, "GET", ECHO)["token_used"] == "tok-1"
    token_server.revoke()  # the platform dropped it early (another system fetched a new one)

    assert client.call(app, "POST", ECHO, json={"a": 1})["token_used"] == "tok-2"
    assert token_server.hits[GETTOKEN] == 2
    assert token_server.hits["/qyapi" + ECHO] == 3


def test_many_calls_refused_together_cause_one_forced_refresh(
    api: Api, tenant: Tenant, token_server: TokenServer
) -> None:
    connect(api, tenant, "wecom", WECOM)
    app = client.App(tenant.tid, "wecom")
    client.call(app, "GET", ECHO)
    token_server.revoke()
    barrier = threading.Barrier(10)

    def one_call() -> str:
        barrier.wait()
        return str(client.call(app, "GET", ECHO)["token_used"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        used = set(pool.map(lambda _: one_call(), range(10)))

    assert used == {"tok-2"}
    assert token_server.hits[GETTOKEN] == 2


def test_a_token_refused_again_after_the_refresh_is_a_typed_error(
    api: Api, tenant: Tenant, token_server: TokenServer
) -> None:
    connect(api, tenant, "wecom", WECOM)
    token_server.answers["/qyapi" + ECHO] = {"errcode": 42001, "errmsg": "access_token expired"}
    with pytest.raises(rules.TokenInvalid) as refused:
        client.call(client.App(tenant.tid, "wecom"), "GET", ECHO)
    assert refused.value.errcode == 42001
    assert token_server.hits[GETTOKEN] == 2 and token_server.hits["/qyapi" + ECHO] == 2  # one retry, no more


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, rules.PlatformBusy),
        ({"errcode": 60011, "errmsg": "no privilege to access/modify contact"}, rules.PlatformError),
        ({"errcode": 60020, "errmsg": "not allow to access from your ip"}, rules.CredentialsRefused),
    ],
)
def test_errcodes_become_typed_errors(
    api: Api, tenant: Tenant, token_server: TokenServer, answer: dict[str, object], error: type[Exception]
) -> None:
    connect(api, tenant, "wecom", WECOM)
    token_server.answers["/qyapi" + ECHO] = answer
    with pytest.raises(error) as raised:
        client.call(client.App(tenant.tid, "wecom"), "GET", ECHO)
    assert type(raised.value) is error
    assert raised.value.details["errcode"] == answer["errcode"]  # type: ignore[attr-defined]


def test_refused_credentials_are_a_typed_error_without_the_secret(
    api: Api, tenant: Tenant, token_server: TokenServer
) -> None:
    connect(api, tenant, "wecom", {**WECOM, "contact_secret": "wrong-secret-0123456789"})
    with pytest.raises(rules.CredentialsRefused) as refused:
        tokens.access_token(tenant.tid, "wecom")
    assert refused.value.errcode == 40013
    assert "wrong-secret" not in str(refused.value.to_body())


def test_the_official_accounts_token_and_jsapi_ticket(api: Api, tenant: Tenant, token_server: TokenServer) -> None:
    connect(api, tenant, "wechat", WECHAT)
    assert tokens.access_token(tenant.tid, "wechat") == "tok-1"
    assert tokens.jsapi_ticket(tenant.tid) == "ticket-1"
    assert tokens.jsapi_ticket(tenant.tid) == "ticket-1"  # cached
    assert token_server.hits["/api/cgi-bin/token"] == 1
    assert token_server.hits["/api/cgi-bin/ticket/getticket"] == 1


def test_new_credentials_never_reuse_the_old_token(api: Api, tenant: Tenant, token_server: TokenServer) -> None:
    connect(api, tenant, "wecom", WECOM)
    assert tokens.access_token(tenant.tid, "wecom") == "tok-1"
    connect(api, tenant, "wecom", {"contact_secret": WECOM["contact_secret"] + "x"})
    with pytest.raises(rules.CredentialsRefused):  # fetched anew with the new secret, which the server refuses
        tokens.access_token(tenant.tid, "wecom")
    assert token_server.hits[GETTOKEN] == 2


def test_an_unconnected_platform_is_a_typed_error(tenant: Tenant) -> None:
    with pytest.raises(rules.PlatformNotConfigured):
        tokens.access_token(tenant.tid, "miniprogram")
