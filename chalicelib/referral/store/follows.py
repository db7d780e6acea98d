"""Platform contacts seen per tenant and follow qualifications waiting out their retention window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import FollowPendingItem, Item, PlatformContactItem

DUE_SHARDS = 4


@dataclass(frozen=True)
class Contact:
    first_event: str
    code: str | None
    inviter: str | None


@dataclass(frozen=True)
class Pending:
    inviter: str
    newcomer: str
    cid: str
    due: str
    status: str


def _shard(newcomer: str) -> int:
    return sum(newcomer.encode()) % DUE_SHARDS


def remember_contact(tid: str, platform: str, user: str, event: str, at: str) -> bool:
    """True when `event` is the add that first made `user` a contact of the tenant (again True when that same
    event is handled twice); False for a user seen before."""
    item = PlatformContactItem(
        PK=keys.tenant_pk(tid), SK=keys.platform_contact_sk(platform, user), tid=tid, first_event=event, first_seen=at
    )
    if save_if(item, PlatformContactItem.PK.does_not_exist(), "platform contact"):
        return True
    found = contact(tid, platform, user)
    return found is not None and found.first_event == event


def contact(tid: str, platform: str, user: str) -> Contact | None:
    item = get_entity(
        PlatformContactItem, keys.tenant_pk(tid), keys.platform_contact_sk(platform, user), consistent=True
    )
    return None if item is None else Contact(item.first_event, item.code, item.inviter)


def _update(item: Item, actions: Sequence[Action], condition: Condition, what: str) -> bool:
    try:
        with unavailable_on_failure(what):
            item.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def link_contact(tid: str, platform: str, user: str, code: str, inviter: str | None) -> None:
    """The participant this contact joined as (and who invited them): what a later delete cancels."""
    item = PlatformContactItem(PK=keys.tenant_pk(tid), SK=keys.platform_contact_sk(platform, user))
    actions = [PlatformContactItem.code.set(code)]
    actions.append(PlatformContactItem.inviter.set(inviter) if inviter else PlatformContactItem.inviter.remove())
    _update(item, actions, PlatformContactItem.PK.exists(), "platform contact")


def claim_welcome(tid: str, platform: str, user: str, event: str) -> bool:
    """True once per add event: the welcome message is sent at most once, even when the stream retries."""
    item = PlatformContactItem(PK=keys.tenant_pk(tid), SK=keys.platform_contact_sk(platform, user))
    condition = PlatformContactItem.PK.exists() & (
        PlatformContactItem.welcomed.does_not_exist() | (PlatformContactItem.welcomed != event)
    )
    return _update(item, [PlatformContactItem.welcomed.set(event)], condition, "welcome claim")


def add_pending(cid: str, inviter: str, newcomer: str, due: str, at: str) -> bool:
    """File the pending qualification under its due day; False if there already is one (a retry)."""
    item = FollowPendingItem(
        PK=keys.participant_pk(inviter), SK=keys.follow_pending_sk(newcomer), cid=cid, inviter=inviter,
        newcomer=newcomer, due=due, status="pending", created_at=at,
        GSI2PK=keys.follow_due_gsi2pk(due[:10], _shard(newcomer)), GSI2SK=keys.follow_due_gsi2sk(due, newcomer),
    )  # fmt: skip
    return save_if(item, FollowPendingItem.PK.does_not_exist(), "pending follow")


def _pending_item(inviter: str, newcomer: str) -> FollowPendingItem:
    return FollowPendingItem(PK=keys.participant_pk(inviter), SK=keys.follow_pending_sk(newcomer))


def cancel(inviter: str, newcomer: str, at: str) -> bool:
    """A delete inside the window: the qualification never happens. False when it is no longer pending or the
    delete came after it fell due."""
    condition = (FollowPendingItem.status == "pending") & (FollowPendingItem.due > at)
    actions = [FollowPendingItem.status.set("cancelled"), FollowPendingItem.GSI2PK.remove(),
               FollowPendingItem.GSI2SK.remove()]  # fmt: skip
    return _update(_pending_item(inviter, newcomer), actions, condition, "cancel pending follow")


def start_settling(inviter: str, newcomer: str) -> bool:
    """Pending -> settling (a cancel can no longer win); True also when an earlier run stopped half-way."""
    condition = FollowPendingItem.status.is_in("pending", "settling")
    return _update(
        _pending_item(inviter, newcomer), [FollowPendingItem.status.set("settling")], condition, "settle pending follow"
    )


def settled(inviter: str, newcomer: str) -> None:
    actions = [FollowPendingItem.status.set("counted"), FollowPendingItem.GSI2PK.remove(),
               FollowPendingItem.GSI2SK.remove()]  # fmt: skip
    _update(_pending_item(inviter, newcomer), actions, FollowPendingItem.status == "settling", "settle pending follow")


def due(day: str, shard: int, until: str) -> list[Pending]:
    """Pending qualifications in a due bucket that fall due at or before `until` (found by key)."""
    ensure_bound()
    with unavailable_on_failure("due follows"):
        found = Item.gsi2.query(keys.follow_due_gsi2pk(day, shard), Item.GSI2SK <= f"{until}#~")
        return [_pending(i) for i in found if isinstance(i, FollowPendingItem)]


def _pending(item: FollowPendingItem) -> Pending:
    return Pending(item.inviter, item.newcomer, item.cid, item.due, item.status)


def pending_for(inviter: str) -> list[Pending]:
    """The inviter's invitees still waiting out the window."""
    ensure_bound()
    with unavailable_on_failure("pending follows"):
        found = Item.query(
            keys.participant_pk(inviter), Item.SK.startswith(keys.FOLLOW_PENDING_PREFIX), consistent_read=True
        )
        return [_pending(i) for i in found if isinstance(i, FollowPendingItem) and i.status == "pending"]
