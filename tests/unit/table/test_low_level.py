"""The low-level client helpers: `query_all` reads every page of a query, resuming where each page stopped (an
unreachable table is a 503); `cancel_codes` reads why a transaction was cancelled."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.core.errors import Unavailable
from chalicelib.table import db


class Pages:
    """A client whose `query` answers the given pages in turn and remembers each request."""

    def __init__(self, *pages: dict[str, Any] | Exception) -> None:
        self.pages = list(pages)
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        answer = self.pages.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _bind(monkeypatch: pytest.MonkeyPatch, client: Pages) -> None:
    monkeypatch.setattr(db, "ensure_bound", lambda: SimpleNamespace(table_name="fission-test"))
    monkeypatch.setattr(db, "dynamodb_client", lambda: client)


def test_every_page_is_read_from_where_the_last_one_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Pages(
        {"Items": [{"SK": {"S": "a"}}], "LastEvaluatedKey": {"SK": {"S": "a"}}},
        {"Items": [], "LastEvaluatedKey": {"SK": {"S": "b"}}},  # a page may be empty and still not the last
        {"Items": [{"SK": {"S": "c"}}]},
    )
    _bind(monkeypatch, client)

    found = db.query_all("wallet", KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "W"}})

    assert [i["SK"]["S"] for i in found] == ["a", "c"]
    assert [r.get("ExclusiveStartKey") for r in client.requests] == [None, {"SK": {"S": "a"}}, {"SK": {"S": "b"}}]
    assert all(r["TableName"] == "fission-test" and r["KeyConditionExpression"] == "PK = :pk" for r in client.requests)


def test_an_unreachable_table_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    _bind(monkeypatch, Pages(EndpointConnectionError(endpoint_url="http://localhost:1")))

    with pytest.raises(Unavailable):
        db.query_all("wallet", KeyConditionExpression="PK = :pk")


def test_a_cancelled_transaction_names_each_items_reason_in_order() -> None:
    cancelled = ClientError(
        {"Error": {"Code": "TransactionCanceledException"},
         "CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}, {}]},
        "TransactWriteItems",
    )  # fmt: skip
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "TransactWriteItems")

    assert db.cancel_codes(cancelled) == ["None", "ConditionalCheckFailed", "None"]
    assert db.cancel_codes(throttled) is None
