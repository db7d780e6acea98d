"""Hostile requests: deeply nested JSON, path parameters no key could hold, headers that are not what they
claim. Each is refused with a documented 4xx code, and no route of docs/openapi.yaml answers a 5xx to
random path parameters and headers (Hypothesis)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.security.signing import sign
from tests import contract
from tests.conftest import OWNER_PASSWORD, Api, Tenant, join, live_campaign

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = contract.document()
METHODS = ("get", "put", "post", "delete", "patch")
ROUTES = sorted(
    (path, method.upper()) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS
)
BODY_ROUTES = [r for r in ROUTES if "requestBody" in DOCUMENT["paths"][r[0]][r[1].lower()]]
PATH_ROUTES = [r for r in ROUTES if "{" in r[0]]
HOOKS = ("/v1/hooks/{tid}/follows", "/v1/hooks/{tid}/orders")
DEEP = "[" * 30_000 + "]" * 30_000
LONG_ID = "c" * 3_000


def route_id(route: tuple[str, str]) -> str:
    return f"{route[1]} {route[0]}"


@dataclass
class World:
    """One tenant with a live campaign, an operator token and an API key that opens the server routes."""

    api: Api
    tenant: Tenant
    cid: str
    key: str
    secret: bytes

    def auth(self, path: str) -> dict[str, str]:
        if path.startswith("/v1/server/"):
            return {"Authorization": f"Bearer {self.key}"}
        if path.startswith("/v1/admin/") and path != "/v1/admin/login":
            return {"Authorization": f"Bearer {self.tenant.owner_token}"}
        return {}

    def signed(self, path: str, raw: bytes) -> dict[str, str]:
        """Hooks verify the signature before reading the body: sign it, so the body is what is judged."""
        if path not in HOOKS:
            return {}
        stamp = int(time.time())
        return {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(self.secret, stamp, raw)}

    def concrete(self, path: str, value: str | None = None) -> str:
        """`path` with every parameter filled: `value` if given, else one that names real things."""
        real = {"cid": self.cid, "tid": self.tenant.tid, "email": self.tenant.owner_email.replace("@", "%40")}
        for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
            path = path.replace(f"{{{name}}}", value if value is not None else real.get(name, "x1"))
        return path

    def send(self, method: str, path: str, body: bytes | str = b"", headers: dict[str, str] | None = None) -> Any:
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self.api.client.http.request(method, path, headers=sent, body=body)


@pytest.fixture(scope="module")
def world(table: str) -> Iterator[World]:
    from chalice.test import Client

    from app import app
    from chalicelib.accounts.tenants import ensure_tenant

    with Client(app, stage_name="local") as client:
        api = Api(client)
        tid = f"t-{uuid.uuid4().hex[:10]}"
        email = f"owner@{tid}.example.cn"
        ensure_tenant(tid, f"Shop {tid}", email, OWNER_PASSWORD, datetime.now(UTC))
        tenant = Tenant(tid, email, api.login(email, OWNER_PASSWORD), api)
        cid = live_campaign(api, tenant)
        scopes = {"name": "hostile", "scopes": ["participants:write", "orders:write"]}
        stepped = tenant.stepped_token()  # keys and secrets are shown only after a step-up
        status, made = api.call("POST", "/v1/admin/api-keys", scopes, token=stepped)
        assert status == 201, made
        status, hook = api.call("GET", "/v1/admin/webhook-secret", token=stepped)
        assert status == 200, hook
        yield World(api, tenant, cid, str(made["key"]), bytes.fromhex(hook["secret"]))


def assert_error(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json_body["error"]["code"]) == (status, code), response.json_body


def assert_no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.body
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        assert isinstance(json.loads(response.body)["error"]["code"], str)


# -- replays of the attacks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/campaigns/{cid}/participants", "/v1/admin/login", "/v1/unsubscribe", *HOOKS], ids=str
)
def test_deeply_nested_json_is_refused_without_a_token(world: World, path: str) -> None:
    url = world.concrete(path)
    assert_error(world.send("POST", url, DEEP, world.signed(path, DEEP.encode())), 400, "JSON_TOO_DEEP")


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_deeply_nested_json_never_reaches_a_route(world: World, route: tuple[str, str]) -> None:
    path, method = route
    response = world.send(method, world.concrete(path), DEEP, {**world.auth(path), **world.signed(path, DEEP.encode())})
    assert_no_server_error(response)
    if response.status_code == 400:
        assert response.json_body["error"]["code"] == "JSON_TOO_DEEP"


def test_json_nested_to_the_limit_is_parsed_and_one_more_level_is_not(world: World) -> None:
    from chalicelib.http.inputs import MAX_JSON_DEPTH

    at_limit = json.dumps(
        {"email": "a@b.cn", "password": "x", "x": json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))}
    )
    assert_error(world.send("POST", "/v1/admin/login", at_limit), 422, "UNKNOWN_FIELD")
    over = json.dumps({"x": json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)})
    assert_error(world.send("POST", "/v1/admin/login", over), 400, "JSON_TOO_DEEP")


@pytest.mark.parametrize(
    "path",
    ["/v1/campaigns/{cid}/public", "/v1/campaigns/{cid}/leaderboard", "/v1/campaigns/{cid}/participants"],
    ids=str,
)
def test_a_3000_character_campaign_id_is_refused_without_a_token(world: World, path: str) -> None:
    method = "POST" if path.endswith("participants") else "GET"
    assert_error(world.send(method, world.concrete(path, LONG_ID), "{}"), 400, "INVALID_PATH_PARAMETER")


@pytest.mark.parametrize("route", PATH_ROUTES, ids=route_id)
def test_every_path_parameter_is_checked_before_the_route(world: World, route: tuple[str, str]) -> None:
    path, method = route
    for value in (LONG_ID, "cmp_\u00e9t\u00e9", "a b", "x\x00y"):
        response = world.send(method, world.concrete(path, value), "{}", world.auth(path))
        assert_error(response, 400, "INVALID_PATH_PARAMETER")


def test_ids_of_every_real_shape_pass_the_check(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    participant = join(api, cid)[1]
    assert api.call("GET", f"/v1/campaigns/{cid}/public")[0] == 200
    assert api.call("GET", f"/v1/i/{participant['invite_code']}")[0] == 302
    email = f"{'x' * 64}@{'d' * 60}.{'e' * 60}.{'f' * 60}.cn"  # 250 characters, 252 with `@` encoded
    new = {"email": email, "password": "operator-pass-1", "role": "viewer"}
    assert api.call("POST", "/v1/admin/operators", new, token=tenant.owner_token)[0] == 201
    encoded = email.replace("@", "%40")
    status, body = api.call("DELETE", f"/v1/admin/operators/{encoded}", token=tenant.owner_token)
    assert status == 204, body


@pytest.mark.parametrize("stamp", ["\u00b2", "\u0663\u0663", "１７００００００００", "1" * 5000, "12\u00e9"])
def test_a_timestamp_that_is_not_ascii_digits_is_signature_required(world: World, stamp: str) -> None:
    headers = {"X-Fission-Timestamp": stamp, "X-Fission-Signature": "v1=" + "0" * 64}
    response = world.send("POST", world.concrete("/v1/hooks/{tid}/follows"), "{}", headers)
    assert_error(response, 401, "SIGNATURE_REQUIRED")


# -- every route, random path parameters and headers ---------------------------------------------------------

# Characters a path segment cannot carry unencoded (they would change the route or end the path).
SEGMENT = st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1)
PATH_VALUES = st.one_of(
    st.just(None),  # real ids: the request reaches the use case
    SEGMENT.filter(lambda s: s.strip() not in ("", ".", "..")).map(lambda s: s[:200]),
    st.integers(129, 4_000).map(lambda n: "z" * n),
    st.sampled_from(["%00", "%2F..%2F", "cmp_\u4f60\u597d", "\u202e", "..%2f", "a" * 128, "\U0001f600" * 40]),
)
HEADER_TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
HOSTILE_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "X-Device-Id",
            "Idempotency-Key",
            "X-Fission-TOTP",
            "X-Fission-Assertion",
            "X-Fission-Proof",
            "X-Fission-Timestamp",
            "X-Fission-Signature",
            "X-Forwarded-For",
            "Accept",
            "If-None-Match",
            "Content-Type",
        ]
    ),  # fmt: skip
    st.one_of(
        HEADER_TEXT,
        st.sampled_from(["Bearer ", "Bearer fsk_", "Bearer pt1.", "Bearer \u00e9", "\u00b2", "1" * 5000]),
        HEADER_TEXT.map(lambda s: "Bearer " + s),
    ),
    max_size=4,
)
BODIES = st.sampled_from([b"", b"{}", b"[]", b"\xff\xfe", DEEP.encode(), b'{"a": NaN}', b"null"])


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
@settings(
    max_examples=8,  # per route: about 700 requests in all
    deadline=None,
    derandomize=True,  # the same cases on every run: a red build is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=PATH_VALUES, headers=HOSTILE_HEADERS, authorised=st.booleans(), body=BODIES)
def test_no_route_answers_a_server_error_to_hostile_paths_and_headers(
    world: World, route: tuple[str, str], value: str | None, headers: dict[str, str], authorised: bool, body: bytes
) -> None:
    path, method = route
    sent = {**(world.auth(path) if authorised else {}), **headers}
    assert_no_server_error(world.send(method, world.concrete(path, value), body, sent))
