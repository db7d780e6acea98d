"""The redemption catalogue (积分商城) and the points policy: operators' changes (audited) and what a redemption
may buy (docs/retention.md)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from chalicelib.accounts import audit
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.rbac import Principal
from chalicelib.loyalty.rules.catalogue import (
    MAX_ITEMS,
    CatalogueItem,
    CatalogueItemCreate,
    CatalogueItemPatch,
    LoyaltySettings,
)
from chalicelib.loyalty.store import catalogue as store


def _not_found(iid: str) -> NotFound:
    return NotFound("no such catalogue item", code=Code.LOYALTY_ITEM_NOT_FOUND, details={"item_id": iid})


def listing(actor: Principal) -> dict[str, Any]:
    return {"items": [i.view() for i in store.items(actor.tid)]}


def read(actor: Principal, iid: str) -> dict[str, Any]:
    found = store.get(actor.tid, iid)
    if found is None:
        raise _not_found(iid)
    return found.view()


def create(actor: Principal, body: CatalogueItemCreate, now: datetime) -> dict[str, Any]:
    if len(store.items(actor.tid)) >= MAX_ITEMS:
        raise Conflict(f"at most {MAX_ITEMS} catalogue items per tenant", code=Code.TOO_MANY_LOYALTY_ITEMS)
    at = iso(now)
    rec = CatalogueItem(tid=actor.tid, item_id="li_" + secrets.token_hex(8), created_at=at, updated_at=at,
                        **body.model_dump())  # fmt: skip
    store.create(rec)
    audit.record(actor.tid, actor.email, "loyalty.item.create", rec.item_id, body.model_dump(mode="json"), now)
    return rec.view()


def update(actor: Principal, iid: str, body: CatalogueItemPatch, now: datetime) -> dict[str, Any]:
    changes: dict[str, object] = body.model_dump(exclude_unset=True)
    for name in ("name", "cost_points", "stock", "active"):
        if name in changes and changes[name] is None:
            del changes[name]  # required fields: null changes nothing
    rec = store.update(actor.tid, iid, changes, iso(now))
    audit.record(actor.tid, actor.email, "loyalty.item.update", iid, body.model_dump(mode="json", exclude_unset=True),
                 now)  # fmt: skip
    return rec.view()


def delete(actor: Principal, iid: str, now: datetime) -> None:
    store.delete(actor.tid, iid)
    audit.record(actor.tid, actor.email, "loyalty.item.delete", iid, {}, now)


def on_sale(tid: str) -> list[CatalogueItem]:
    """The active items, cheapest first (sold-out ones included: the participant sees they are gone)."""
    return sorted((i for i in store.items(tid) if i.active), key=lambda i: (i.cost_points, i.name, i.item_id))


def available(tid: str, iid: str) -> CatalogueItem:
    """The item a redemption may buy: it exists, is on offer and has stock."""
    found = store.get(tid, iid)
    if found is None:
        raise _not_found(iid)
    if not found.active:
        raise Conflict("this item is not on offer", code=Code.LOYALTY_ITEM_UNAVAILABLE, details={"item_id": iid})
    if found.stock < 1:
        raise Conflict("this item is out of stock", code=Code.LOYALTY_ITEM_OUT_OF_STOCK, details={"item_id": iid})
    return found


# --- the points policy ---------------------------------------------------------------------------------------


def policy(tid: str) -> LoyaltySettings:
    """The tenant's policy; the defaults when it never set one."""
    stored = store.settings(tid)
    return LoyaltySettings.model_validate_json(stored[0]) if stored else LoyaltySettings()


def read_policy(actor: Principal) -> dict[str, Any]:
    stored = store.settings(actor.tid)
    current = LoyaltySettings.model_validate_json(stored[0]) if stored else LoyaltySettings()
    return {"settings": current.model_dump(mode="json"), "configured": stored is not None}


def update_policy(actor: Principal, body: LoyaltySettings, now: datetime) -> dict[str, Any]:
    """Replace the policy whole; it applies to points credited from now on (earned points keep their expiry)."""
    stored = store.settings(actor.tid)
    store.put_settings(actor.tid, body.model_dump_json(), stored[1] if stored else 0, iso(now), actor.email)
    audit.record(actor.tid, actor.email, "loyalty.settings", "loyalty", body.model_dump(mode="json"), now)
    return read_policy(actor)
