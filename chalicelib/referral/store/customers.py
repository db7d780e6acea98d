"""Existing customers the merchant reported, per campaign, by the keyed hash of the merchant's id."""

from __future__ import annotations

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, save_if, unavailable_on_failure
from chalicelib.table.models import ExistingCustomerItem, Item

BATCH = 100  # BatchGetItem's limit


def report(cid: str, tid: str, identities: set[str], at: str) -> int:
    """Record each once (a repeat keeps the first report); returns how many were new."""
    ensure_bound()
    added = 0
    for identity in sorted(identities):
        item = ExistingCustomerItem(
            PK=keys.existing_customer_pk(cid, identity), SK=keys.META, cid=cid, tid=tid, identity=identity,
            reported_at=at,
        )  # fmt: skip
        added += save_if(item, Item.PK.does_not_exist(), "report existing customer")
    return added


def reported(wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (campaign id, identity) pairs the merchant reported as existing customers (found by key)."""
    ensure_bound()
    ordered = sorted(wanted)
    found: set[tuple[str, str]] = set()
    with unavailable_on_failure("read existing customers"):
        for start in range(0, len(ordered), BATCH):
            chunk = [(keys.existing_customer_pk(cid, i), keys.META) for cid, i in ordered[start : start + BATCH]]
            found |= {
                (str(item.cid), str(item.identity))
                for item in Item.batch_get(chunk)
                if isinstance(item, ExistingCustomerItem)
            }
    return found
