"""The local stack over real HTTP: health, routing, static pages, CORS, and data that survives restarts."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.dynamo import DynamoDBLocal, free_port
from local.stack import LocalStack, StackSettings
from tests.conftest import OWNER_PASSWORD, Tenant, campaign_body


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str, table: str) -> Iterator[LocalStack]:
    local = LocalStack(StackSettings(endpoint=dynamodb_endpoint, table_name=table, port=free_port(), batching_window=0))
    local.start()
    yield local
    local.stop()


def http(
    stack: LocalStack, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(stack.url + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_healthy(stack: LocalStack, timeout: float = 15.0) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = http(stack, "GET", "/v1/health")
        if status == 200 or time.monotonic() > deadline:
            return status, json.loads(body)
        time.sleep(0.2)


def test_health_is_200_once_table_pump_and_scheduler_are_ready(stack: LocalStack) -> None:
    status, health = wait_healthy(stack)
    assert status == 200 and health["status"] == "ok"
    assert health["checks"] == {"table": "ok", "stream_pump": "ok", "scheduler": "ok"}


def test_unknown_route_is_a_json_404(stack: LocalStack) -> None:
    status, headers, body = http(stack, "GET", "/v1/no/such/route")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "ROUTE_NOT_FOUND"
    assert headers["Content-Type"].startswith("application/json")


def test_static_pages_are_served_and_paths_cannot_escape_web(stack: LocalStack) -> None:
    status, headers, body = http(stack, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"Fission" in body
    assert http(stack, "GET", "/../../etc/passwd")[0] == 404
    assert http(stack, "GET", "/%2e%2e/%2e%2e/etc/passwd")[0] == 404


def test_cors_preflight_allows_the_admin_headers(stack: LocalStack) -> None:
    status, headers, _ = http(
        stack,
        "OPTIONS",
        "/v1/admin/campaigns",
        headers={"Origin": "http://example.cn", "Access-Control-Request-Method": "POST"},
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert "Idempotency-Key" in headers["Access-Control-Allow-Headers"]


def test_error_responses_carry_cors_headers(stack: LocalStack) -> None:
    status, headers, _ = http(stack, "GET", "/v1/admin/campaigns")
    assert status == 401 and headers["Access-Control-Allow-Origin"] == "*"


def test_operator_runs_a_campaign_over_http(stack: LocalStack, tenant: Tenant) -> None:
    status, _, body = http(stack, "POST", "/v1/admin/login", {"email": tenant.owner_email, "password": OWNER_PASSWORD})
    assert status == 200
    auth = {"Authorization": f"Bearer {json.loads(body)['token']}"}
    status, _, body = http(stack, "POST", "/v1/admin/campaigns", campaign_body("invite"), headers=auth)
    assert status == 201
    cid = json.loads(body)["campaign_id"]
    assert http(stack, "POST", f"/v1/admin/campaigns/{cid}/publish", headers=auth)[0] == 200
    status, _, body = http(stack, "GET", f"/v1/campaigns/{cid}/public")
    assert status == 200
    view = json.loads(body)
    assert (view["status"], view["phase"], view["mode"]) == ("active", "live", "invite")
    # A campaign made without identity settings asks for the merchant's signed assertion on join.
    assert view["identity"] == {"mode": "signed", "platform": None}
    status, _, body = http(stack, "POST", f"/v1/campaigns/{cid}/participants", {"nickname": "no proof"})
    assert status == 401 and json.loads(body)["error"]["code"] == "IDENTITY_REQUIRED"


def test_persisted_dynamodb_local_keeps_data_across_a_restart(tmp_path: Path) -> None:
    from chalicelib.table import db

    port = free_port()

    def client() -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    with DynamoDBLocal(port, db_path=tmp_path / "db"):
        assert db.ensure_table(client(), "fission") is True
        client().put_item(TableName="fission", Item={"PK": {"S": "C#kept"}, "SK": {"S": "META"}})
    with DynamoDBLocal(port, db_path=tmp_path / "db"):
        assert db.ensure_table(client(), "fission") is False  # found, not recreated
        item = client().get_item(TableName="fission", Key={"PK": {"S": "C#kept"}, "SK": {"S": "META"}})
        assert item["Item"]["PK"]["S"] == "C#kept"
