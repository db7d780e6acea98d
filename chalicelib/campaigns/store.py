"""Campaign items: conditional creates, versioned updates, tenant listing and due-to-end lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.constants import STRING
from pynamodb.exceptions import DeleteError, PutError, QueryError, UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import parse_spec
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.table import keys
from chalicelib.table.db import (
    decode_cursor,
    encode_cursor,
    ensure_bound,
    get_entity,
    is_condition_failure,
    unavailable_on_failure,
)
from chalicelib.table.models import CampaignItem, Item


@dataclass(frozen=True)
class Page:
    items: list[CampaignRecord]
    cursor: str | None


def _record(item: CampaignItem) -> CampaignRecord:
    """The campaign with its document parsed into the typed spec, once per read.

    The document is a map whose numbers the attribute reads back as the ints they were written as (never
    Decimal); a document still stored as JSON text (before maps) reads the same."""
    document = dict(item.spec)
    return CampaignRecord(
        cid=item.cid,
        tid=item.tid,
        mode=item.mode,
        status=item.status,
        spec=parse_spec(document),
        document=document,
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
        created_by=item.created_by,
        published_at=item.published_at,
        ended_at=item.ended_at,
        stop_loss_paused_at=item.stop_loss_paused_at,
        held_channels=sorted(item.held_channels or ()),
    )


def _item(rec: CampaignRecord, ends_bucket: tuple[str, str] | None) -> CampaignItem:
    item = CampaignItem(
        PK=keys.campaign_pk(rec.cid),
        SK=keys.META,
        GSI1PK=keys.tenant_campaigns_gsi1pk(rec.tid),
        GSI1SK=keys.campaign_gsi1sk(rec.created_at, rec.cid),
        cid=rec.cid,
        tid=rec.tid,
        mode=rec.mode,
        status=rec.status,
        spec=rec.document,
        version=rec.version,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        created_by=rec.created_by,
        published_at=rec.published_at,
        ended_at=rec.ended_at,
        stop_loss_paused_at=rec.stop_loss_paused_at,
        held_channels=set(rec.held_channels) or None,
    )
    if ends_bucket is not None:
        item.GSI2PK, item.GSI2SK = ends_bucket
    return item


def ends_bucket(rec: CampaignRecord) -> tuple[str, str] | None:
    """Live (active or paused) campaigns sit in the bucket of the day they end, for the closer."""
    if rec.status not in ("active", "paused"):
        return None
    ends_at = iso(rec.spec.ends_at)
    return keys.campaign_ends_gsi2pk(ends_at[:10]), keys.campaign_ends_gsi2sk(ends_at, rec.cid)


def insert(rec: CampaignRecord) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("create campaign"):
            _item(rec, ends_bucket(rec)).save(condition=CampaignItem.PK.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            raise Conflict("a campaign with this id exists", code=Code.ALREADY_EXISTS) from exc
        raise


def get(cid: str) -> CampaignRecord | None:
    item = get_entity(CampaignItem, keys.campaign_pk(cid), keys.META)
    return _record(item) if item is not None else None


def owned(tid: str, cid: str) -> CampaignRecord:
    """The campaign if it belongs to tenant `tid`; another tenant's campaign is indistinguishable from a
    missing one (404)."""
    rec = get(cid)
    if rec is None or rec.tid != tid:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    return rec


def replace(rec: CampaignRecord, expected_version: int) -> None:
    """Optimistic concurrency: the write lands only on top of the version that was read."""
    ensure_bound()
    try:
        with unavailable_on_failure("update campaign"):
            _item(rec, ends_bucket(rec)).save(
                condition=CampaignItem.PK.exists() & (CampaignItem.version == expected_version)
            )
    except PutError as exc:
        if is_condition_failure(exc):
            raise Conflict("the campaign changed meanwhile; reload and retry", code=Code.CONCURRENT_UPDATE) from exc
        raise


def delete(rec: CampaignRecord) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("delete campaign"):
            _item(rec, None).delete(
                condition=(CampaignItem.version == rec.version) & (CampaignItem.status == rec.status)
            )
    except DeleteError as exc:
        if is_condition_failure(exc):
            raise Conflict("the campaign changed meanwhile; reload and retry", code=Code.CONCURRENT_UPDATE) from exc
        raise


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    return encode_cursor(key) if key else None


def list_for_tenant(tid: str, *, limit: int, cursor: str | None, status: str | None) -> Page:
    """Newest first; `cursor` is None once the listing is exhausted."""
    ensure_bound()
    gsi1pk = keys.tenant_campaigns_gsi1pk(tid)
    start = decode_cursor(cursor, gsi1pk) if cursor else None
    condition = CampaignItem.status == status if status else None
    try:
        with unavailable_on_failure("list campaigns"):
            result = Item.gsi1.query(
                gsi1pk,
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start,
                filter_condition=condition,
                page_size=limit,
            )
            items = [_record(i) for i in result if isinstance(i, CampaignItem)]
            last = result.last_evaluated_key
    except QueryError as exc:
        if getattr(exc, "cause_response_code", None) == "ValidationException":
            raise BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR) from exc
        raise
    return Page(items=items, cursor=_encode_cursor(last))


def ending_by(day: str, until: str) -> list[CampaignRecord]:
    """Live campaigns in the `day` bucket whose end time is at or before `until` (found by key)."""
    ensure_bound()
    with unavailable_on_failure("due campaigns"):
        result = Item.gsi2.query(keys.campaign_ends_gsi2pk(day), Item.GSI2SK <= f"{until}#~")
        return [_record(i) for i in result if isinstance(i, CampaignItem)]


@dataclass(frozen=True)
class Upgrade:
    found: int  # campaigns whose document was JSON text
    rewritten: int  # of those, rewritten as a map (the others changed meanwhile, and were written as maps)


def upgrade_documents(*, dry_run: bool = False) -> Upgrade:
    """Rewrites every campaign document still stored as JSON text as a map, in place.

    Only the document changes, and only if the item still has that version and that text: an edit that
    lands meanwhile writes a map itself. The version and `updated_at` stay, so an operator's open edit
    does not conflict. Safe to stop and rerun."""
    ensure_bound()
    found = rewritten = 0
    as_text = Path(CampaignItem.spec).is_type(STRING)
    with unavailable_on_failure("upgrade campaign documents"):
        for item in CampaignItem.scan(as_text):
            found += 1
            if dry_run:
                continue
            try:
                item.update(
                    actions=[CampaignItem.spec.set(item.spec)],
                    condition=as_text & (CampaignItem.version == item.version),
                )
                rewritten += 1
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
    return Upgrade(found=found, rewritten=rewritten)
