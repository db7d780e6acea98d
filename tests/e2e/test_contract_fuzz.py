"""Hostile input: Schemathesis generates requests from docs/openapi.yaml (valid and invalid ones) and sends
them to the local stack over HTTP. No answer may be a 5xx, and every answer must match the document."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from local.dynamo import free_port
from local.stack import LocalStack, StackSettings
from tests.conftest import OWNER_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml")
# Enough to cover every operation with valid and malformed inputs while the suite stays within minutes.
EXAMPLES = int(os.environ.get("FISSION_FUZZ_EXAMPLES", "6"))


def admin_post(local: LocalStack, path: str, token: str, body: bytes) -> Any:
    request = urllib.request.Request(
        local.url + path,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the local stack
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def fuzz_stack(dynamodb_endpoint: str, table: str) -> Iterator[tuple[LocalStack, str, str]]:
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.security import totp

    local = LocalStack(StackSettings(endpoint=dynamodb_endpoint, table_name=table, port=free_port(), batching_window=0))
    local.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # a starting stack answers 503 on purpose; fuzz the ready one
        try:
            with urllib.request.urlopen(local.url + "/v1/health", timeout=5) as answer:  # noqa: S310 - the local stack
                if answer.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.2)
    email = "owner@fuzz.example.cn"
    ensure_tenant("t-fuzz", "Fuzz shop", email, OWNER_PASSWORD, datetime.now(UTC))
    request = urllib.request.Request(
        local.url + "/v1/admin/login",
        data=f'{{"email": "{email}", "password": "{OWNER_PASSWORD}"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the local stack
        token = json.loads(answer.read())["token"]
    # The server routes take an API key: one that may call both of them. Making it needs a TOTP step-up.
    secret = admin_post(local, "/v1/admin/operators/me/totp", token, b"")["secret"]
    confirm = json.dumps({"code": totp.code_at(secret, datetime.now(UTC) - timedelta(seconds=totp.STEP_SECONDS))})
    admin_post(local, "/v1/admin/operators/me/totp/confirm", token, confirm.encode())
    request = urllib.request.Request(
        local.url + "/v1/admin/api-keys",
        data=b'{"name": "fuzz", "scopes": ["participants:write", "orders:write"]}',
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Fission-TOTP": totp.code_at(secret, datetime.now(UTC)),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the local stack
        key = json.loads(answer.read())["key"]
    yield local, token, key
    local.stop()


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a red build is reproducible
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_answers_match_the_document(case: Any, fuzz_stack: tuple[LocalStack, str, str]) -> None:
    stack, token, key = fuzz_stack
    headers = {"Authorization": f"Bearer {token}"} if case.path.startswith("/v1/admin/") else {}
    if case.path.startswith("/v1/server/"):
        headers = {"Authorization": f"Bearer {key}"}
    case.call_and_validate(
        base_url=stack.url, headers=headers, checks=[not_a_server_error, response_schema_conformance], timeout=30
    )
