"""A stored campaign document is read back into the typed spec, and shown and written back as it was stored;
documents stored as JSON text (before maps) read the same and are migrated to maps."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import Api, Tenant, campaign_body, join

RECORD_FIELDS = {
    "campaign_id", "tenant_id", "status", "phase", "version", "created_at", "updated_at", "published_at",
    "ended_at", "created_by",
}  # fmt: skip


def _stored(cid: str) -> dict[str, Any]:
    from chalicelib.table import keys
    from chalicelib.table.models import CampaignItem

    return dict(CampaignItem.get(keys.campaign_pk(cid), keys.META).spec)


def _store(cid: str, document: dict[str, Any]) -> None:
    from chalicelib.table import keys
    from chalicelib.table.models import CampaignItem

    item = CampaignItem.get(keys.campaign_pk(cid), keys.META)
    item.spec = document
    item.save()


def _raw(cid: str) -> dict[str, Any]:
    """The item as DynamoDB holds it, attribute types and all."""
    from chalicelib.table import keys
    from chalicelib.table.db import dynamodb_client, ensure_bound

    key = {"PK": {"S": keys.campaign_pk(cid)}, "SK": {"S": keys.META}}
    return dict(dynamodb_client().get_item(TableName=ensure_bound().table_name, Key=key)["Item"])


def _store_as_json_text(cid: str, document: dict[str, Any]) -> None:
    """The document as releases before maps wrote it: JSON text."""
    from chalicelib.table import keys
    from chalicelib.table.db import dynamodb_client, ensure_bound

    dynamodb_client().update_item(
        TableName=ensure_bound().table_name,
        Key={"PK": {"S": keys.campaign_pk(cid)}, "SK": {"S": keys.META}},
        UpdateExpression="SET spec = :text",
        ExpressionAttributeValues={":text": {"S": json.dumps(document)}},
    )


def _as_an_older_version_wrote_it(document: dict[str, Any]) -> dict[str, Any]:
    """Before coupon code pools, experiments, fraud policies and compliance settings: rewards without `code_pool`."""
    old = copy.deepcopy(document)
    rules = old["rules"]
    for reward in [m["reward"] for m in rules["milestones"]] + [rules["invitee_reward"]]:
        reward.pop("code_pool")
    for newer in ("experiment", "fraud", "compliance", "template_id"):
        assert newer not in old
    return old


def test_an_older_document_reads_back_typed_and_is_shown_and_rewritten_as_stored(api: Api, tenant: Tenant) -> None:
    from chalicelib.campaigns import live, store
    from chalicelib.campaigns.rules.fraud_policy import DEFAULT_POLICY
    from chalicelib.campaigns.rules.spec import InviteCampaign, policy_of

    status, created = api.call("POST", "/v1/admin/campaigns", campaign_body(budget_fen=50_000),
                               token=tenant.owner_token)  # fmt: skip
    assert status == 201, created
    cid = created["campaign_id"]
    old = _as_an_older_version_wrote_it(_stored(cid))
    _store(cid, old)

    rec = store.get(cid)
    assert rec is not None and isinstance(rec.spec, InviteCampaign)
    assert rec.document == old
    assert policy_of(rec.spec) == DEFAULT_POLICY  # no `fraud`: the default policy
    assert [m.reward.code_pool for m in rec.spec.rules.milestones] == [False, False]
    # Numbers come back as the ints that were written, never Decimal.
    assert type(rec.document["budget_fen"]) is int and rec.spec.budget_fen == 50_000
    assert type(rec.document["rules"]["milestones"][0]["reward"]["value_fen"]) is int

    status, shown = api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)
    assert status == 200
    assert {k: v for k, v in shown.items() if k not in RECORD_FIELDS} == old

    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    assert _stored(cid) == old  # the transition rewrote the item with the document as it was stored
    live.forget()

    status, public = api.call("GET", f"/v1/campaigns/{cid}/public")
    assert status == 200
    assert public["rules"] == old["rules"] and public["share"] == old["share"]
    assert (public["starts_at"], public["ends_at"], public["timezone"]) == (
        old["starts_at"], old["ends_at"], old["timezone"],
    )  # fmt: skip

    status, joined = join(api, cid)
    assert status == 201, joined
    assert joined["progress"]["next_milestone"]["reward"] == old["rules"]["milestones"][0]["reward"]
    assert joined["share"] == old["share"]


def test_a_patch_stores_the_validated_document_and_reads_it_back(api: Api, tenant: Tenant) -> None:
    from chalicelib.campaigns import store

    status, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    _store(cid, _as_an_older_version_wrote_it(_stored(cid)))
    changes = {"title": "Renamed", "fraud": {"block_at": 101}}
    status, patched = api.call("PATCH", f"/v1/admin/campaigns/{cid}", changes, token=tenant.owner_token)
    assert status == 200, patched
    stored = _stored(cid)
    # An edit validates the whole document and stores its dump: the defaults it was written without appear.
    assert stored["rules"]["milestones"][0]["reward"]["code_pool"] is False
    assert {k: v for k, v in patched.items() if k not in RECORD_FIELDS} == stored
    rec = store.get(cid)
    assert rec is not None and rec.document == stored and rec.spec.title == "Renamed"
    assert rec.spec.fraud is not None and rec.spec.fraud.block_at == 101
    assert json.loads(json.dumps(stored)) == stored


def test_the_document_is_a_map_with_its_empty_strings_and_exact_whole_numbers(api: Api, tenant: Tenant) -> None:
    from chalicelib.campaigns import store

    body = campaign_body(budget_fen=10_000_000_000, description="")  # the ceiling: 100 million yuan
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]

    spec = _raw(cid)["spec"]
    assert set(spec) == {"M"}
    assert spec["M"]["description"] == {"S": ""}
    assert spec["M"]["budget_fen"] == {"N": "10000000000"}
    rec = store.get(cid)
    assert rec is not None and rec.document == _stored(cid)
    assert type(rec.document["budget_fen"]) is int and rec.document["budget_fen"] == 10_000_000_000
    assert rec.document["description"] == "" and rec.spec.budget_fen == 10_000_000_000


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_document_stored_as_json_text_reads_the_same_and_the_migration_rewrites_it_as_a_map(
    api: Api, tenant: Tenant, dry_run: bool
) -> None:
    from chalicelib.campaigns import store
    from local import manage

    body = campaign_body(budget_fen=12_345)
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    document = _stored(cid)
    _store_as_json_text(cid, document)
    before = _raw(cid)
    assert set(before["spec"]) == {"S"}

    rec = store.get(cid)
    assert rec is not None and rec.document == document and type(rec.document["budget_fen"]) is int
    status, shown = api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)
    assert status == 200 and {k: v for k, v in shown.items() if k not in RECORD_FIELDS} == document

    assert manage.main(["migrate-campaign-documents", *(["--dry-run"] if dry_run else [])]) == 0

    after = _raw(cid)
    if dry_run:
        assert after == before
        return
    assert set(after["spec"]) == {"M"}
    # Only the document's form changed: an operator's open edit of this version still lands.
    assert {k: v for k, v in after.items() if k != "spec"} == {k: v for k, v in before.items() if k != "spec"}
    assert _stored(cid) == document
    assert store.upgrade_documents(dry_run=True).found == 0  # nothing left; a rerun rewrites nothing
    status, patched = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "Renamed"}, token=tenant.owner_token)
    assert status == 200 and patched["version"] == created["version"] + 1


def test_the_migration_leaves_a_document_edited_after_it_was_read(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.campaigns import store
    from chalicelib.table import keys
    from chalicelib.table.models import CampaignItem

    status, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    _store_as_json_text(cid, _stored(cid))
    read_by_the_migration = CampaignItem.get(keys.campaign_pk(cid), keys.META)
    status, _ = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "Edited"}, token=tenant.owner_token)
    assert status == 200
    edited = _stored(cid)
    _store_as_json_text(cid, edited)  # text again, so only the version tells the two apart
    monkeypatch.setattr(CampaignItem, "scan", lambda *_, **__: iter([read_by_the_migration]))

    assert store.upgrade_documents() == store.Upgrade(found=1, rewritten=0)
    assert set(_raw(cid)["spec"]) == {"S"} and _stored(cid) == edited

    monkeypatch.undo()
    store.upgrade_documents()
    assert set(_raw(cid)["spec"]) == {"M"} and _stored(cid) == edited
