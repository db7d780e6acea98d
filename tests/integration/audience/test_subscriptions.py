"""An operator sets the opt-outs of a person of their own tenant only; another tenant's person id writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign


def profile_uid(api: Api, tenant: Tenant, pump: StreamPump) -> str:
    joined = join(api, live_campaign(api, tenant))[1]
    pump.drain()
    status, body = api.call("GET", f"/v1/admin/participants?code={joined['invite_code']}", token=tenant.owner_token)
    assert status == 200 and len(body["items"]) == 1, body
    return str(body["items"][0]["uid"])


def opt_out_item(table: str, tid: str, uid: str) -> dict[str, Any] | None:
    from chalicelib.table import db, keys

    key = {"PK": {"S": keys.profile_pk(tid, uid)}, "SK": {"S": keys.UNSUBSCRIBE_SK}}
    found: dict[str, Any] = db.dynamodb_client().get_item(TableName=table, Key=key, ConsistentRead=True)
    item: dict[str, Any] | None = found.get("Item")
    return item


def put_opt_outs(api: Api, tenant: Tenant, uid: str, channels: list[str]) -> tuple[int, Any]:
    path = f"/v1/admin/participants/{uid}/subscriptions"
    return api.call("PUT", path, {"unsubscribed": channels}, token=tenant.owner_token)


def test_another_tenants_person_is_not_found_and_nothing_is_written(
    api: Api, new_tenant: Callable[[], Tenant], pump: StreamPump, table: str
) -> None:
    a, b = new_tenant(), new_tenant()
    uid = profile_uid(api, a, pump)
    status, body = put_opt_outs(api, b, uid, ["sms", "email"])
    assert (status, body["error"]["code"]) == (404, "PARTICIPANT_NOT_FOUND"), body
    assert opt_out_item(table, b.tid, uid) is None
    assert opt_out_item(table, a.tid, uid) is None  # nor anything in the person's own tenant
    audited = api.call("GET", "/v1/admin/audit", token=b.owner_token)[1]["items"]
    assert not [e for e in audited if e["action"] == "subscriptions.update"]


def test_an_unknown_person_is_not_found_and_nothing_is_written(api: Api, tenant: Tenant, table: str) -> None:
    uid = "u_0123456789abcdef01234567"
    status, body = put_opt_outs(api, tenant, uid, ["*"])
    assert (status, body["error"]["code"]) == (404, "PARTICIPANT_NOT_FOUND"), body
    assert opt_out_item(table, tenant.tid, uid) is None


def test_the_persons_own_tenant_sets_the_opt_outs(api: Api, tenant: Tenant, pump: StreamPump, table: str) -> None:
    uid = profile_uid(api, tenant, pump)
    assert put_opt_outs(api, tenant, uid, ["sms"]) == (200, {"uid": uid, "unsubscribed": ["sms"]})
    item = opt_out_item(table, tenant.tid, uid)
    assert item is not None and item["unsubscribed"] == {"SS": ["sms"]}
    status, body = api.call("GET", f"/v1/admin/participants/{uid}", token=tenant.owner_token)
    assert status == 200 and body["unsubscribed"] == ["sms"], body
