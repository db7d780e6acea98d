"""The local server under concurrency: parallel requests each get their own answer, and a burst of
connections is queued and answered rather than refused."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import pytest

from local.dynamo import free_port
from local.stack import LocalStack, StackSettings
from tests.conftest import Api, Tenant, campaign_body, live_campaign

CLIENTS = 256


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str, table: str) -> Iterator[LocalStack]:
    local = LocalStack(StackSettings(endpoint=dynamodb_endpoint, table_name=table, port=free_port(), batching_window=0))
    local.start()
    yield local
    local.stop()


def request(stack: LocalStack, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """One request on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.server.port, timeout=60)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, json.loads(raw) if raw else None


def all_at_once[T](calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls in one thread each, released together; each call's result or exception, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("never ran")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_parallel_requests_with_different_tokens_and_tenants_each_get_their_own_answer(
    stack: LocalStack, api: Api, new_tenant: Callable[[], Tenant]
) -> None:
    # GIVEN three tenants, each with an anonymous campaign and participants who joined it
    expected: list[tuple[str, str, str]] = []  # (path, token, the answer's own id)
    for tenant in [new_tenant() for _ in range(3)]:
        cid = live_campaign(api, tenant, identity={"mode": "anonymous"})
        expected.append(("/v1/admin/campaigns", tenant.owner_token, cid))
        for _ in range(6):
            status, body = request(stack, "POST", f"/v1/campaigns/{cid}/participants", {})
            assert status == 201, body
            expected.append((f"/v1/campaigns/{cid}/me", str(body["token"]), str(body["participant_id"])))
    calls = [partial(request, stack, "GET", path, token=token) for path, token, _ in expected]

    # WHEN all of them ask for their own view at the same moment, several times over
    answers = all_at_once(calls * 4)

    # THEN every answer is the asker's: its own participant, or its own tenant's campaigns only
    for (path, _, own), answer in zip(expected * 4, answers, strict=True):
        assert not isinstance(answer, BaseException), answer
        status, body = answer
        assert status == 200, (path, body)
        if path == "/v1/admin/campaigns":
            assert [c["campaign_id"] for c in body["items"]] == [own]
        else:
            assert body["participant_id"] == own


def test_a_burst_of_256_concurrent_connections_is_answered_without_resets(stack: LocalStack, tenant: Tenant) -> None:
    # GIVEN a live campaign whose public page every phone of a burst opens
    status, body = request(stack, "POST", "/v1/admin/campaigns", campaign_body("invite"), token=tenant.owner_token)
    assert status == 201, body
    cid = body["campaign_id"]
    assert request(stack, "POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200

    # WHEN 256 clients connect and ask at once
    answers = all_at_once([lambda: request(stack, "GET", f"/v1/campaigns/{cid}/public")] * CLIENTS)

    # THEN every connection is answered: none reset, refused or timed out
    failures = [answer for answer in answers if isinstance(answer, BaseException)]
    assert failures == []
    assert [answer[0] for answer in answers if not isinstance(answer, BaseException)] == [200] * CLIENTS
