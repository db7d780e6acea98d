"""API keys, the pure part: the key format, the hash, the scope table and when a use is written."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

import app
from chalicelib.accounts.rules import api_keys as rules
from chalicelib.accounts.rules.api_keys import ApiKeyCreate, ApiScope
from chalicelib.core.rbac import Permission
from chalicelib.http.rules import DEFAULT_LIMITS, Limit, RouteClass, Scope, parse_limits

pytestmark = pytest.mark.unit

KID = "ak_01jd3k9m7q8r4s5t6v0"
SECRET = "0123456789abcdef" * 4


def test_a_key_reads_back_as_its_id_and_secret() -> None:
    key = rules.format_key(KID, SECRET)
    assert key == f"fsk_{KID}_{SECRET}"
    assert rules.parse_key(f"Bearer {key}") == (KID, SECRET)
    assert rules.parse_key(f"bearer  {key} ") == (KID, SECRET)
    assert rules.is_api_key(f"Bearer {key}") and not rules.is_api_key("Bearer eyJhbGciOi.x.y")
    wrong_ones = [
        None,
        "",
        key,
        f"Basic {key}",
        f"Bearer {key}0",
        f"Bearer fsk_{KID}_{SECRET.upper()}",
        f"Bearer fsk_{KID}",
        f"Bearer fsk_idk_01jd3k9m7q8r4s5t6v0_{SECRET}",
        "Bearer fsk_garbage",
    ]
    for wrong in wrong_ones:
        assert rules.parse_key(wrong) is None, wrong


def test_only_the_hash_of_the_secret_is_kept_and_compared() -> None:
    stored = rules.secret_hash(SECRET)
    assert stored == hashlib.sha256(SECRET.encode()).hexdigest() and SECRET not in stored
    assert rules.secret_matches(stored, SECRET)
    assert not rules.secret_matches(stored, SECRET[:-1] + "0")


def test_the_scope_table_names_every_server_route_and_maps_admin_routes_by_permission() -> None:
    served = {(method, path) for path, methods in app.app.routes.items() for method in methods if method != "OPTIONS"}
    server = {route for route in served if route[1].startswith(rules.SERVER_PREFIX)}
    assert server == set(rules.SERVER_ROUTES)
    assert rules.scope_for("GET", "/v1/admin/campaigns/{cid}/stats", Permission.STATS_READ) is ApiScope.STATS_READ
    assert rules.scope_for("POST", "/v1/admin/exports", Permission.EXPORT_CREATE) is ApiScope.EXPORTS_CREATE
    assert rules.scope_for("GET", "/v1/admin/campaigns", Permission.CAMPAIGN_READ) is None
    assert rules.scope_for("POST", "/v1/admin/login", None) is None
    assert rules.scope_for("POST", "/v1/server/unknown", None) is None
    assert rules.scope_for("GET", "/v1/campaigns/{cid}/me", Permission.STATS_READ) is None  # not admin, not server
    every = set(rules.SCOPE_PERMISSIONS) | set(rules.SERVER_ROUTES.values())
    assert every == set(ApiScope), "every scope opens something"


def test_granting_a_scope_that_skips_the_step_up_needs_one() -> None:
    assert ApiScope.EXPORTS_CREATE in rules.STEP_UP_SCOPES
    assert Permission.PII_UNMASK not in rules.SCOPE_PERMISSIONS.values()  # no key ever reads PII in the clear


def test_a_key_is_made_with_a_name_and_distinct_scopes_from_the_list() -> None:
    made = ApiKeyCreate.model_validate({"name": " shop ", "scopes": ["stats:read", "orders:write"]})
    assert made.name == "shop" and made.scopes == [ApiScope.ORDERS_WRITE, ApiScope.STATS_READ]
    for bad in ({"name": "shop", "scopes": []}, {"name": "shop", "scopes": ["stats:read", "stats:read"]},
                {"name": "shop", "scopes": ["stats:write"]}, {"name": "", "scopes": ["stats:read"]},
                {"name": "shop", "scopes": ["stats:read"], "role": "owner"}):  # fmt: skip
        with pytest.raises(ValidationError):
            ApiKeyCreate.model_validate(bad)


def test_a_use_is_written_when_the_stored_one_is_a_minute_old() -> None:
    now = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)
    assert rules.last_used_due(None, now)
    assert not rules.last_used_due("2026-12-01T08:00:00Z", now)
    assert not rules.last_used_due("2026-12-01T07:59:31Z", now)
    assert rules.last_used_due("2026-12-01T07:59:30Z", now)
    assert rules.last_used_due("2026-11-30T08:00:00Z", now + timedelta(days=1))


def test_keys_have_their_own_rate_limit_class() -> None:
    assert Limit(RouteClass.SERVER, Scope.API_KEY, 600, 60) in DEFAULT_LIMITS
    assert Limit(RouteClass.SERVER, Scope.API_KEY, 1200, 60) in parse_limits("server.api_key=1200/min")
    assert not [limit for limit in parse_limits("server.api_key=0/min") if limit.route_class is RouteClass.SERVER]
