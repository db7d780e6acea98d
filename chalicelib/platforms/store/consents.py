"""Subscription-message credits per follower and template, and the WeCom staff member who owns each customer."""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import Item, PlatformConsentItem, PlatformSenderItem


def _update(item: Item, actions: Sequence[Action], condition: Condition | None, what: str) -> bool:
    ensure_bound()
    try:
        with unavailable_on_failure(what):
            item.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def _consent(tid: str, openid: str, template_id: str) -> PlatformConsentItem:
    return PlatformConsentItem(PK=keys.platform_consent_pk(tid, openid), SK=keys.platform_consent_sk(template_id))


def grant(tid: str, openid: str, template_id: str, event: str, at: str) -> bool:
    """One more credit, once per consent event (`event` its dedupe digest): a replayed stream record adds nothing."""
    field = PlatformConsentItem.grants
    return _update(
        _consent(tid, openid, template_id),
        [PlatformConsentItem.credits.add(1), field.add({event}), PlatformConsentItem.entity.set(PlatformConsentItem),
         PlatformConsentItem.updated_at.set(at)],
        field.does_not_exist() | ~field.contains(event),
        "grant consent",
    )  # fmt: skip


def take(tid: str, openid: str, template_id: str) -> bool:
    """Use one credit; False (and nothing changed) when there is none. Two sends can never share one."""
    condition = PlatformConsentItem.credits.exists() & (PlatformConsentItem.credits > 0)
    return _update(_consent(tid, openid, template_id), [PlatformConsentItem.credits.add(-1)], condition, "take consent")


def give_back(tid: str, openid: str, template_id: str) -> None:
    """Undo `take` for a send that did not happen (a transient failure)."""
    _update(
        _consent(tid, openid, template_id), [PlatformConsentItem.credits.add(1)], PlatformConsentItem.PK.exists(),
        "give back consent",
    )  # fmt: skip


def clear(tid: str, openid: str, template_id: str, at: str) -> None:
    """No credit left (the follower refused the template, or WeChat answered 43101); later grants still count."""
    _update(
        _consent(tid, openid, template_id),
        [PlatformConsentItem.credits.set(0), PlatformConsentItem.updated_at.set(at)],
        PlatformConsentItem.PK.exists(),
        "clear consent",
    )  # fmt: skip


def credits(tid: str, openid: str, template_id: str) -> int:
    pk, sk = keys.platform_consent_pk(tid, openid), keys.platform_consent_sk(template_id)
    found = get_entity(PlatformConsentItem, pk, sk)
    return int(found.credits or 0) if found is not None else 0


def remember_sender(tid: str, platform: str, user: str, staff: str, at: str) -> None:
    """The staff member who last added this external contact (a re-add by someone else moves the customer)."""
    item = PlatformSenderItem(
        PK=keys.tenant_pk(tid), SK=keys.platform_sender_sk(platform, user), staff=staff, updated_at=at
    )
    save_if(item, None, "remember sender")


def sender(tid: str, platform: str, user: str) -> str | None:
    found = get_entity(PlatformSenderItem, keys.tenant_pk(tid), keys.platform_sender_sk(platform, user))
    return found.staff if found is not None else None
