"""A landing page's first request in a fresh function loads its own slice, not the operators' console."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Tenant, join, join_body, live_campaign

ROOT = Path(__file__).resolve().parents[3]

# What only the operators' console, the merchant back ends or the stream use: a public request loads none of it.
ADMIN_ONLY = (
    "chalicelib.accounts.routes",
    "chalicelib.accounts.auth",
    "chalicelib.accounts.operators",
    "chalicelib.accounts.api_keys",
    "chalicelib.audience",
    "chalicelib.privacy",
    "chalicelib.posters",
    "chalicelib.messaging.routes",
    "chalicelib.messaging.messages",
    "chalicelib.messaging.channels",
    "chalicelib.entrypoints.stream",
    "aws_xray_sdk",
    "argon2",
)

# One request in a fresh interpreter, as Lambda makes it: `app.app(event, context)` with a proxy event.
PROBE = """
import json, os, sys
import app

spec = json.loads(os.environ["FIRST_REQUEST"])


class Context:
    function_name = "fission-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fission-api"
    aws_request_id = "first-request"


event = {
    "resource": spec["resource"], "path": spec["path"], "httpMethod": spec["method"], "headers": spec["headers"],
    "multiValueQueryStringParameters": None, "pathParameters": spec["params"], "stageVariables": None,
    "requestContext": {"resourcePath": spec["resource"], "httpMethod": spec["method"], "path": spec["path"],
                       "requestId": "first-request", "identity": {"sourceIp": "203.0.113.7"}},
    "body": spec["body"], "isBase64Encoded": False,
}
response = app.app(event, Context())
print(json.dumps({"status": response["statusCode"], "modules": sorted(sys.modules)}))
"""


def first_request(
    method: str, resource: str, params: dict[str, str], body: Any = None, token: str | None = None
) -> tuple[int, set[str]]:
    """The status of the request made first in a fresh function, and the modules it left loaded."""
    path = resource
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    spec = {"method": method, "resource": resource, "path": path, "params": params, "headers": headers,
            "body": None if body is None else json.dumps(body)}  # fmt: skip
    # The session's settings (the test table, its secrets), with tracing disabled as every stage has it.
    env = {**os.environ, "FIRST_REQUEST": json.dumps(spec), "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return int(out["status"]), set(out["modules"])


@pytest.fixture
def landing(api: Api, tenant: Tenant) -> dict[str, Any]:
    """A live invite campaign and one participant in it, made through the session's app."""
    cid = live_campaign(api, tenant)
    status, inviter = join(api, cid)
    assert status == 201, inviter
    return {"cid": cid, "code": inviter["invite_code"], "token": inviter["token"]}


ROUTES = {
    "campaign public view": ("GET", "/v1/campaigns/{cid}/public", "chalicelib.campaigns.routes"),
    "join": ("POST", "/v1/campaigns/{cid}/participants", "chalicelib.referral.routes"),
    "me": ("GET", "/v1/campaigns/{cid}/me", "chalicelib.referral.routes"),
    "invite link": ("GET", "/v1/i/{code}", "chalicelib.referral.routes"),
    "view beacon": ("POST", "/v1/campaigns/{cid}/events", "chalicelib.analytics.routes"),
}


@pytest.mark.parametrize("name", list(ROUTES))
def test_a_public_routes_first_request_loads_its_own_slice_and_nothing_of_the_console(
    name: str, landing: dict[str, Any]
) -> None:
    method, resource, own = ROUTES[name]
    params = {key: landing[key] for key in ("cid", "code") if "{" + key + "}" in resource}
    body = {"join": join_body(landing["cid"], f"user-{uuid.uuid4().hex[:8]}"), "view beacon": {"type": "view"}}
    # WHEN the route is the first thing a fresh function serves
    status, modules = first_request(
        method, resource, params, body.get(name), landing["token"] if name == "me" else None
    )
    # THEN it answers as always, having loaded its own slice's routes and no other
    assert status in (200, 201, 202, 302)
    assert {m for m in modules if m.endswith(".routes")} == {own}
    # AND nothing only the console, the back ends or the stream use
    assert sorted(m for m in modules if m.startswith(ADMIN_ONLY)) == []
