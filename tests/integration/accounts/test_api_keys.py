"""API keys for merchant back ends: scopes on every admin and server route, hashed at rest, revocation at
once, the server join and server orders, attribution, last use without a write per request, and the
per-key rate limit."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.accounts.rules.api_keys import ApiScope
from chalicelib.core.rbac import Permission
from tests.conftest import Api, Clock, Tenant, join, live_campaign
from tests.integration.modes.test_orders_distribution import chain, commission, order, post_order
from tests.integration.referral.test_follow_hooks import secret

SCOPES = [scope.value for scope in ApiScope]
# The permission table the scopes follow (docs/api-keys.md): the admin routes each scope opens are those
# requiring this permission; the server routes each name one scope.
OPENS_ADMIN = {"stats:read": Permission.STATS_READ, "exports:create": Permission.EXPORT_CREATE}
OPENS_SERVER = {
    ("POST", "/v1/server/campaigns/{cid}/participants"): "participants:write",
    ("POST", "/v1/server/campaigns/{cid}/existing-customers"): "participants:write",
    ("POST", "/v1/server/orders"): "orders:write",
}
KEY_SHAPE = re.compile(r"^fsk_(ak_[0-9a-z]{19})_([0-9a-f]{64})$")


def make_key(api: Api, tenant: Tenant, scopes: list[str], *, token: str | None = None, name: str = "shop") -> Any:
    """A new key of `scopes`, made by the owner after a TOTP step-up (every key needs one)."""
    if token is None:
        token = tenant.stepped_token()
    status, body = api.call("POST", "/v1/admin/api-keys", {"name": name, "scopes": scopes}, token=token)
    assert status == 201, body
    return body


def unscoped_key(tenant: Tenant) -> str:
    """A key with no scope at all (the API refuses to make one; the use case is called directly)."""
    from chalicelib.accounts import api_keys
    from chalicelib.accounts.rules.api_keys import ApiKeyCreate
    from chalicelib.core.rbac import Principal, Role

    tenant.stepped_token()  # enrols the owner's authenticator: making a key needs a step-up
    now = datetime.now(UTC)
    owner = Principal(tenant.tid, tenant.owner_email, Role.OWNER, step_up_at=now)
    made = api_keys.create(owner, ApiKeyCreate.model_construct(name="nothing", scopes=[]), None, now)
    return str(made["key"])


def key_routes(app: Any) -> list[tuple[str, str, Permission | None]]:
    """Every admin and server route of the app: (method, path, the permission it declares)."""
    return [
        (method, path, getattr(entry.view_function, "required_permission", None))
        for path, methods in sorted(app.routes.items())
        if path.startswith(("/v1/admin/", "/v1/server/"))
        for method, entry in sorted(methods.items())
        if method != "OPTIONS"
    ]


def allowed(scope: str | None, method: str, path: str, permission: Permission | None) -> bool:
    if scope is None:
        return False
    if path.startswith("/v1/server/"):
        return OPENS_SERVER.get((method, path)) == scope
    return permission is not None and OPENS_ADMIN.get(scope) is permission


def dummy(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def body_for(method: str) -> Any:
    return {} if method in ("POST", "PATCH", "PUT") else None


def stored_item(kid: str) -> dict[str, Any]:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    found = db.dynamodb_client().get_item(
        TableName=get_settings().table_name,
        Key={"PK": {"S": f"APIKEY#{kid}"}, "SK": {"S": "META"}},
        ConsistentRead=True,
    )
    return dict(found["Item"])


def audit_entries(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    status, body = api.call("GET", "/v1/admin/audit", token=tenant.owner_token)
    assert status == 200, body
    return list(body["items"])


@pytest.fixture(autouse=True)
def fresh_use_records() -> Iterator[None]:
    from chalicelib.accounts import api_keys

    api_keys.forget()
    yield
    api_keys.forget()


# ---- the scope table, on every route ---------------------------------------------------------------


def test_every_admin_and_server_route_answers_a_key_by_its_scopes(api: Api, app: Any, tenant: Tenant) -> None:
    keys: dict[str | None, str] = {scope: make_key(api, tenant, [scope])["key"] for scope in SCOPES}
    keys[None] = unscoped_key(tenant)
    routes = key_routes(app)
    assert len(routes) > 60 and any(path.startswith("/v1/server/") for _, path, _ in routes)
    opened: dict[str, set[str]] = {scope: set() for scope in SCOPES}
    for method, path, permission in routes:
        for scope, key in keys.items():
            status, body = api.call(method, dummy(path), body_for(method), token=key)
            where = f"{method} {path} with a key of {scope or 'no scope'}: {status} {body}"
            if allowed(scope, method, path, permission):
                assert scope is not None
                assert status not in (401, 403), where
                opened[scope].add(f"{method} {path}")
            else:
                assert (status, body["error"]["code"]) == (403, "SCOPE_REQUIRED"), where
                needed = body["error"]["details"]["scope"]
                assert needed is None or not allowed(scope, method, path, permission), where
                assert body["error"]["details"]["scopes"] == ([scope] if scope else []), where
    assert opened["participants:write"] == {
        "POST /v1/server/campaigns/{cid}/participants",
        "POST /v1/server/campaigns/{cid}/existing-customers",
    }
    assert opened["orders:write"] == {"POST /v1/server/orders"}
    assert {"GET /v1/admin/campaigns/{cid}/stats", "GET /v1/admin/campaigns/{cid}/tree"} <= opened["stats:read"]
    assert {"POST /v1/admin/exports", "GET /v1/admin/exports/{eid}"} <= opened["exports:create"]
    assert all(route.startswith("GET") or route.startswith("POST") for route in set().union(*opened.values()))


def test_the_scope_a_refused_key_lacks_is_named(api: Api, tenant: Tenant) -> None:
    key = make_key(api, tenant, ["orders:write"])["key"]
    status, body = api.call("GET", "/v1/admin/campaigns/x/stats", token=key)
    assert (status, body["error"]["code"]) == (403, "SCOPE_REQUIRED")
    assert body["error"]["details"] == {"scope": "stats:read", "scopes": ["orders:write"]}
    status, body = api.call("GET", "/v1/admin/campaigns", token=key)  # a route no key may call
    assert (status, body["error"]["details"]) == (403, {"scope": None, "scopes": ["orders:write"]})


def test_an_operator_token_works_where_it_did_and_server_routes_take_keys_only(
    api: Api, app: Any, tenant: Tenant
) -> None:
    cid = live_campaign(api, tenant)
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.owner_token)[0] == 200
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.operator("viewer"))[0] == 200
    owner = tenant.totp_token()
    status, body = api.call("POST", "/v1/admin/exports", {"campaign_id": cid, "kind": "participants"}, token=owner)
    assert status == 202, body
    for method, path, _ in key_routes(app):
        status, body = api.call(method, dummy(path), body_for(method), token=owner)
        if path.startswith("/v1/server/"):
            assert (status, body["error"]["code"]) == (401, "API_KEY_REQUIRED"), f"{method} {path}"
            assert api.call(method, dummy(path), body_for(method))[1]["error"]["code"] == "API_KEY_REQUIRED"
        else:
            assert status not in (401, 403), f"{method} {path}: {status} {body}"


# ---- making, listing and revoking --------------------------------------------------------------------


def test_a_key_is_shown_once_and_stored_only_as_a_hash(api: Api, tenant: Tenant) -> None:
    made = make_key(api, tenant, ["orders:write", "participants:write"], name="shop back end (prod)")
    found = KEY_SHAPE.match(made["key"])
    assert found is not None and found.group(1) == made["key_id"]
    the_secret = found.group(2)
    assert made["scopes"] == ["orders:write", "participants:write"] and made["status"] == "active"
    assert made["created_by"] == tenant.owner_email and made["last_used_at"] is None
    stored = stored_item(made["key_id"])
    assert the_secret not in json.dumps(stored) and made["key"] not in json.dumps(stored)
    assert stored["secret_hash"] == {"S": hashlib.sha256(the_secret.encode()).hexdigest()}
    listed = api.call("GET", "/v1/admin/api-keys", token=tenant.owner_token)[1]["items"]
    assert [k["key_id"] for k in listed] == [made["key_id"]]
    assert listed[0] == {k: v for k, v in made.items() if k != "key"}
    assert the_secret not in json.dumps(listed) and the_secret not in json.dumps(audit_entries(api, tenant))


def test_keys_are_for_owners_with_scopes_from_the_fixed_list(api: Api, tenant: Tenant) -> None:
    operator = tenant.operator("operator")
    for method, path in (("GET", "/v1/admin/api-keys"), ("POST", "/v1/admin/api-keys")):
        status, body = api.call(method, path, {"name": "x", "scopes": ["stats:read"]}, token=operator)
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    bad_bodies = [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin:all"]},
        {"name": "", "scopes": ["stats:read"]},
        {"name": "x", "scopes": ["stats:read", "stats:read"]},
        {"scopes": ["stats:read"]},
    ]
    for bad in bad_bodies:
        assert api.call("POST", "/v1/admin/api-keys", bad, token=tenant.owner_token)[0] == 422, bad


def test_revocation_holds_from_the_next_request_and_is_audited(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    status, revoked = api.call("POST", f"/v1/admin/api-keys/{made['key_id']}/revoke", token=tenant.stepped_token())
    assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_by"] == tenant.owner_email
    status, body = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])
    assert (status, body["error"]["code"]) == (401, "API_KEY_REVOKED")
    again = api.call("POST", f"/v1/admin/api-keys/{made['key_id']}/revoke", token=tenant.stepped_token())
    assert again == (200, revoked)  # revoking again answers the same, and is not audited twice
    entries = [(e["actor"], e["action"], e["target"]) for e in audit_entries(api, tenant)]
    assert entries.count((tenant.owner_email, "api_key.create", made["key_id"])) == 1
    assert entries.count((tenant.owner_email, "api_key.revoke", made["key_id"])) == 1


def test_another_tenants_key_cannot_be_revoked_or_seen(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    mine, theirs = new_tenant(), new_tenant()
    made = make_key(api, theirs, ["stats:read"])
    status, body = api.call("POST", f"/v1/admin/api-keys/{made['key_id']}/revoke", token=mine.stepped_token())
    assert (status, body["error"]["code"]) == (404, "API_KEY_NOT_FOUND")
    assert api.call("GET", "/v1/admin/api-keys", token=mine.owner_token)[1]["items"] == []
    status, body = api.call("POST", "/v1/admin/api-keys/ak_missing/revoke", token=mine.stepped_token())
    assert (status, body["error"]["code"]) == (404, "API_KEY_NOT_FOUND")
    assert stored_item(made["key_id"])["status"] == {"S": "active"}
    cid = live_campaign(api, mine)  # and a key reaches only its own tenant's campaigns
    status, body = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_unknown_and_malformed_keys_are_refused(api: Api, tenant: Tenant) -> None:
    made = make_key(api, tenant, ["stats:read"])
    kid = made["key_id"]
    for key in (f"fsk_{kid}_{'0' * 64}", f"fsk_ak_{'0' * 19}_{'1' * 64}", "fsk_garbage", made["key"] + "0"):
        status, body = api.call("GET", "/v1/admin/campaigns/x/stats", token=key)
        assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY"), key
        status, body = api.call("POST", "/v1/server/orders", {}, token=key)
        assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY"), key


def test_at_most_twenty_keys_are_active(api: Api, tenant: Tenant) -> None:
    made = [make_key(api, tenant, ["stats:read"]) for _ in range(20)]
    status, body = api.call(
        "POST", "/v1/admin/api-keys", {"name": "x", "scopes": ["stats:read"]}, token=tenant.stepped_token()
    )
    assert (status, body["error"]["code"]) == (409, "TOO_MANY_API_KEYS")
    api.call("POST", f"/v1/admin/api-keys/{made[0]['key_id']}/revoke", token=tenant.stepped_token())
    make_key(api, tenant, ["stats:read"])


# ---- exports: the step-up is the owner's, at the grant -------------------------------------------------


def test_granting_exports_needs_a_step_up_and_the_key_then_exports_without_one(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    status, body = api.call(
        "POST", "/v1/admin/api-keys", {"name": "bi", "scopes": ["exports:create"]}, token=tenant.owner_token
    )
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    made = make_key(api, tenant, ["exports:create", "stats:read"])  # with a fresh TOTP login
    status, job = api.call("POST", "/v1/admin/exports", {"campaign_id": cid, "kind": "participants"}, token=made["key"])
    assert status == 202, job
    assert api.call("GET", f"/v1/admin/exports/{job['id']}", token=made["key"])[0] == 200
    actor = f"apikey:{made['key_id']}"
    assert (actor, "export.create", job["id"]) in [
        (e["actor"], e["action"], e["target"]) for e in audit_entries(api, tenant)
    ]
    # An operator still needs the step-up for the same call.
    status, body = api.call(
        "POST", "/v1/admin/exports", {"campaign_id": cid, "kind": "participants"}, token=tenant.operator("analyst")
    )
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")


# ---- last use: recorded, without a write per request -----------------------------------------------


def test_last_use_is_recorded_about_once_a_minute(
    api: Api, tenant: Tenant, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.accounts import api_keys
    from chalicelib.accounts.store import api_keys as store

    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])
    writes: list[str] = []
    touch = store.touch

    def counted(kid: str, at: str, older_than: str) -> bool:
        writes.append(at)
        return touch(kid, at, older_than)

    monkeypatch.setattr(store, "touch", counted)
    for _ in range(10):
        assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    assert len(writes) == 1
    first = stored_item(made["key_id"])["last_used_at"]["S"]
    assert first == writes[0]
    clock.advance(seconds=30)
    api_keys.forget()  # another container, which has not written this key yet: the stored time keeps it quiet
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    assert len(writes) == 1
    clock.advance(seconds=31)
    for _ in range(5):
        assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    assert len(writes) == 2 and stored_item(made["key_id"])["last_used_at"]["S"] > first
    listed = api.call("GET", "/v1/admin/api-keys", token=tenant.owner_token)[1]["items"]
    assert listed[0]["last_used_at"] == writes[1]


# ---- the server join ---------------------------------------------------------------------------------


def test_the_server_join_registers_a_user_and_a_repeat_returns_the_same_participant(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    key = make_key(api, tenant, ["participants:write"])["key"]
    path = f"/v1/server/campaigns/{cid}/participants"
    status, first = api.call("POST", path, {"external_id": "member-7", "nickname": "Li Lei"}, token=key)
    assert status == 201, first
    assert first["token"] and first["invite_code"] == first["participant_id"]
    status, again = api.call("POST", path, {"external_id": "member-7"}, token=key)
    assert status == 200 and again["participant_id"] == first["participant_id"]
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=again["token"])
    assert status == 200 and me["participant_id"] == first["participant_id"]
    # The same user signing in through the merchant's page (a signed assertion) is the same participant.
    status, page = join(api, cid, external_id="member-7")
    assert status == 200 and page["participant_id"] == first["participant_id"]
    # An invitee the server registers with the inviter's code is attributed like a page's join.
    status, friend = api.call("POST", path, {"external_id": "member-8", "ref": first["invite_code"]}, token=key)
    assert status == 201 and friend["invited_by"] == first["participant_id"]


def test_the_server_join_refuses_what_a_key_cannot_vouch_for(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    tenant, other = new_tenant(), new_tenant()
    key = make_key(api, tenant, ["participants:write"])["key"]
    cid = live_campaign(api, tenant)
    path = f"/v1/server/campaigns/{cid}/participants"
    status, body = api.call("POST", path, {"nickname": "no id"}, token=key)
    assert status == 422 and "external_id" in json.dumps(body)
    status, body = api.call("POST", path, {"external_id": "m-1", "assertion": "a.b.c"}, token=key)
    assert status == 422 and "assertion" in json.dumps(body)
    anonymous = live_campaign(api, tenant, identity={"mode": "anonymous"})
    status, body = api.call("POST", f"/v1/server/campaigns/{anonymous}/participants", {"external_id": "m-1"}, token=key)
    assert (status, body["error"]["code"]) == (409, "WRONG_IDENTITY_MODE")
    theirs = live_campaign(api, other)
    status, body = api.call("POST", f"/v1/server/campaigns/{theirs}/participants", {"external_id": "m-1"}, token=key)
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


# ---- server orders: the orders webhook, authenticated by the key -------------------------------------


def test_a_server_order_is_handled_like_the_signed_webhook(api: Api, tenant: Tenant) -> None:
    hooked, hooked_top, hooked_mid, _ = chain(api, tenant)
    keyed, keyed_top, keyed_mid, _ = chain(api, tenant)
    key = make_key(api, tenant, ["orders:write"])["key"]
    by_hook = post_order(api, tenant, secret(api, tenant), order(hooked, "buyer", "o-hook"))
    by_key = api.call("POST", "/v1/server/orders", order(keyed, "buyer", "o-key"), token=key)
    assert by_hook[0] == by_key[0] == 200

    def shape(answer: dict[str, Any]) -> dict[str, Any]:  # the codes are each campaign's own
        return {**answer, "event_id": None, "commissions": [{**c, "code": None} for c in answer["commissions"]]}

    assert shape(by_hook[1]) == shape(by_key[1])
    assert [c["code"] for c in by_hook[1]["commissions"]] == [hooked_mid["invite_code"], hooked_top["invite_code"]]
    assert [c["code"] for c in by_key[1]["commissions"]] == [keyed_mid["invite_code"], keyed_top["invite_code"]]
    assert by_key[1]["result"] == "recorded" and by_key[1]["commissions"]
    assert commission(api, hooked, hooked_mid) == commission(api, keyed, keyed_mid)
    # One order, whichever way it arrives, is recorded once.
    status, repeat = api.call("POST", "/v1/server/orders", order(hooked, "buyer", "o-hook"), token=key)
    assert (status, repeat["result"], repeat["commissions"]) == (200, "duplicate", [])
    status, refund = api.call("POST", "/v1/server/orders", order(keyed, "buyer", "o-key", "refunded"), token=key)
    assert (status, refund["result"]) == (200, "refunded")
    for payload in (order(keyed, "stranger", "o-x"), order(keyed, "buyer", "o-missing", "refunded")):
        hook_answer = post_order(api, tenant, secret(api, tenant), payload)
        key_answer = api.call("POST", "/v1/server/orders", payload, token=key)
        assert hook_answer[0] == key_answer[0] == 404 and hook_answer[1] == key_answer[1]
    status, body = api.call("POST", "/v1/server/orders", {"order_id": "o-1"}, token=key)
    assert status == 422


def test_a_server_order_reaches_only_the_keys_own_tenant(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    tenant, other = new_tenant(), new_tenant()
    theirs, *_ = chain(api, other)
    key = make_key(api, tenant, ["orders:write"])["key"]
    status, body = api.call("POST", "/v1/server/orders", order(theirs, "buyer", "o-1"), token=key)
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


# ---- the per-key rate limit ----------------------------------------------------------------------------


@pytest.fixture
def limits(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Turn the limits on for one test (the session has them off), with a fresh limiter."""
    from chalicelib.core.config import get_settings
    from chalicelib.http import rate_limits

    def enable(spec: str) -> None:
        monkeypatch.setenv("FISSION_RATE_LIMITS", spec)
        get_settings.cache_clear()
        rate_limits.get_limiter.cache_clear()

    yield enable
    os.environ["FISSION_RATE_LIMITS"] = "off"
    get_settings.cache_clear()
    rate_limits.get_limiter.cache_clear()


def test_a_key_is_refused_past_its_rate_limit(
    api: Api, tenant: Tenant, limits: Callable[[str], None], clock: Clock
) -> None:
    now = clock()
    clock.advance(seconds=62 - now.second - now.microsecond / 1e6)  # the requests stay in one minute
    cid = live_campaign(api, tenant)
    busy = make_key(api, tenant, ["stats:read", "participants:write"])["key"]
    calm = make_key(api, tenant, ["stats:read"])["key"]
    limits("server.api_key=5/min")
    for n in range(5):  # server and admin calls of the key count alike
        if n % 2:
            assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=busy)[0] == 200
        else:
            user = {"external_id": f"m-{uuid.uuid4().hex[:6]}"}
            assert api.call("POST", f"/v1/server/campaigns/{cid}/participants", user, token=busy)[0] == 201
    status, body = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=busy)
    assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
    details = body["error"]["details"]
    assert details == {"scope": "api_key", "limit": 5, "window_seconds": 60, "retry_after": details["retry_after"]}
    assert 1 <= details["retry_after"] <= 60
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=calm)[0] == 200  # per key
    for _ in range(3):  # operators are not limited
        assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.owner_token)[0] == 200
    status, body = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=busy[:-1] + "x")
    assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY")  # an unproven key spends nothing
    clock.advance(seconds=60)
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=busy)[0] == 200


# ---- the usage log: every use attributed ------------------------------------------------------------------


def usage(api: Api, tenant: Tenant, kid: str, query: str = "") -> tuple[int, Any]:
    return api.call("GET", f"/v1/admin/api-keys/{kid}/usage{query}", token=tenant.owner_token)


def test_every_use_of_a_key_is_in_its_usage_log_with_route_and_status(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    chained, _, _, _ = chain(api, tenant)
    made = make_key(api, tenant, ["participants:write", "orders:write", "stats:read"])
    key, kid = made["key"], made["key_id"]
    status, body = usage(api, tenant, kid)
    assert (status, body["items"], body["next_cursor"]) == (200, [], None)

    joined = api.call("POST", f"/v1/server/campaigns/{cid}/participants", {"external_id": "m-1"}, token=key)
    ordered = api.call("POST", "/v1/server/orders", order(chained, "buyer", "o-use"), token=key)
    read = api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=key)
    refused = api.call("GET", "/v1/admin/api-keys", token=key)  # a route the key's scopes do not open
    missing = api.call("POST", f"/v1/server/campaigns/{cid}/participants", {}, token=key)
    assert (joined[0], ordered[0], read[0], refused[0], missing[0]) == (201, 200, 200, 403, 422)

    status, body = usage(api, tenant, kid)
    assert status == 200 and body["key_id"] == kid and body["next_cursor"] is None
    seen = sorted((u["method"], u["route"], u["status"]) for u in body["items"])
    assert seen == sorted([
        ("POST", "/v1/server/campaigns/{cid}/participants", 201),
        ("POST", "/v1/server/orders", 200),
        ("GET", "/v1/admin/campaigns/{cid}/stats", 200),
        ("GET", "/v1/admin/api-keys", 403),
        ("POST", "/v1/server/campaigns/{cid}/participants", 422),
    ])  # fmt: skip
    assert [u["at"] for u in body["items"]] == sorted((u["at"] for u in body["items"]), reverse=True)
    assert all(u["at"].endswith("Z") and "client_ip" in u for u in body["items"])
    # The key's uses are not audit-chain entries: the chain's head takes no write per request.
    assert not [e for e in audit_entries(api, tenant) if e["actor"] == f"apikey:{kid}"]


def test_another_tenants_owner_cannot_read_a_keys_usage(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    tenant, other = new_tenant(), new_tenant()
    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    status, body = usage(api, other, made["key_id"])
    assert (status, body["error"]["code"]) == (404, "API_KEY_NOT_FOUND")
    status, body = usage(api, tenant, "ak_0000000000000000000")
    assert (status, body["error"]["code"]) == (404, "API_KEY_NOT_FOUND")
    # Nor can the key read its own log, nor an operator without operator:manage.
    status, body = api.call("GET", f"/v1/admin/api-keys/{made['key_id']}/usage", token=made["key"])
    assert (status, body["error"]["code"]) == (403, "SCOPE_REQUIRED")
    assert len(usage(api, tenant, made["key_id"])[1]["items"]) == 2


def test_a_keys_usage_pages_newest_first_across_days(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])
    start = clock()
    for n in range(7):  # two uses a day, some days apart, the last one now
        if n:
            clock.advance(hours=13)
        assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    end = clock()
    owner = tenant.totp_token()  # the first login's token expired on the way

    def usage(api: Api, tenant: Tenant, kid: str, query: str = "") -> tuple[int, Any]:
        return api.call("GET", f"/v1/admin/api-keys/{kid}/usage{query}", token=owner)

    span = f"?from={start.strftime('%Y-%m-%dT%H:%M:%SZ')}&to={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    pages: list[list[str]] = []
    cursor = ""
    while True:
        status, body = usage(api, tenant, made["key_id"], f"{span}&limit=3{cursor}")
        assert status == 200, body
        pages.append([u["at"] for u in body["items"]])
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    seen = [at for page in pages for at in page]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    assert [len(p) for p in pages][:2] == [3, 3]
    # The default span is the last 7 days; a span outside the log, or reversed, or a foreign cursor.
    assert len(usage(api, tenant, made["key_id"])[1]["items"]) == 7
    assert usage(api, tenant, made["key_id"], "?to=2020-01-01T00:00:00Z")[1]["items"] == []
    status, body = usage(api, tenant, made["key_id"], "?from=2026-01-02&to=2026-01-01")
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
    status, body = usage(api, tenant, made["key_id"], "?cursor=bm90LWEtY3Vyc29y")
    assert (status, body["error"]["code"]) == (400, "INVALID_CURSOR")
    status, body = usage(api, tenant, made["key_id"], "?limit=101")
    assert status == 422


def test_requests_without_a_key_or_with_a_revoked_one_write_no_use(api: Api, tenant: Tenant) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=tenant.owner_token)[0] == 200
    assert api.call("POST", f"/v1/server/campaigns/{cid}/participants", {"external_id": "m-1"})[0] == 401
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"][:-1] + "0")[0] == 401
    assert api.call("POST", f"/v1/admin/api-keys/{made['key_id']}/revoke", token=tenant.stepped_token())[0] == 200
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 401
    assert usage(api, tenant, made["key_id"])[1]["items"] == []
    found = db.dynamodb_client().scan(
        TableName=get_settings().table_name,
        FilterExpression="begins_with(PK, :pk)",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant.tid}#KEYUSE#"}},
    )
    assert found["Items"] == []


def test_a_use_that_cannot_be_written_still_gets_its_answer(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.accounts.store import api_keys as store
    from chalicelib.core.errors import Unavailable

    cid = live_campaign(api, tenant)
    made = make_key(api, tenant, ["stats:read"])

    def down(*_: Any) -> None:
        raise Unavailable("the table is not answering")

    written = store.add_use
    monkeypatch.setattr(store, "add_use", down)
    assert api.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=made["key"])[0] == 200
    monkeypatch.setattr(store, "add_use", written)
    assert usage(api, tenant, made["key_id"])[1]["items"] == []
