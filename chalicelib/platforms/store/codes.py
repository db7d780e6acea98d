"""Participants' platform codes (`PCODE#{code}` / `PLATFORM#{platform}`) and each tenant's count of them
(`T#{tid}` / `PCODES#{platform}`)."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import PlatformCodeCountItem, PlatformCodeItem


@dataclass(frozen=True)
class StoredCode:
    tid: str
    cid: str
    platform: str
    code: str
    state: str  # pending | ready | deleting
    holder: str | None
    lease_until: float | None
    scene: str | None = None
    config_id: str | None = None
    image_url: str | None = None
    ticket: str | None = None
    content: str | None = None
    created_at: str | None = None


def _item(code: str, platform: str) -> PlatformCodeItem:
    return PlatformCodeItem(PK=keys.platform_code_pk(code), SK=keys.platform_code_sk(platform))


def get(code: str, platform: str) -> StoredCode | None:
    item = get_entity(PlatformCodeItem, keys.platform_code_pk(code), keys.platform_code_sk(platform), consistent=True)
    if item is None:
        return None
    return StoredCode(
        tid=item.tid,
        cid=item.cid,
        platform=platform,
        code=code,
        state=item.state,
        holder=item.holder,
        lease_until=float(item.lease_until) if item.lease_until is not None else None,
        scene=item.scene,
        config_id=item.config_id,
        image_url=item.image_url,
        ticket=item.ticket,
        content=item.content,
        created_at=item.created_at,
    )


def claim(tid: str, cid: str, code: str, platform: str, holder: str, now: float, seconds: float) -> bool:
    """Become the one who creates this code: there is none yet, or its creator's lease ran out."""
    item = _item(code, platform)
    item.tid, item.cid, item.state, item.holder, item.lease_until = tid, cid, "pending", holder, now + seconds
    condition = PlatformCodeItem.PK.does_not_exist() | (
        (PlatformCodeItem.state == "pending") & (PlatformCodeItem.lease_until < now)
    )
    return save_if(item, condition, "claim platform code")


def complete(found: StoredCode) -> bool:
    """Store the created code over our claim; False if the claim was taken over meanwhile."""
    item = _item(found.code, found.platform)
    item.tid, item.cid, item.state = found.tid, found.cid, "ready"
    item.scene, item.config_id, item.image_url = found.scene, found.config_id, found.image_url
    item.ticket, item.content, item.created_at = found.ticket, found.content, found.created_at
    condition = (PlatformCodeItem.state == "pending") & (PlatformCodeItem.holder == found.holder)
    return save_if(item, condition, "save platform code")


def release(code: str, platform: str, holder: str) -> None:
    """Drop our claim after a failed creation, if it is still ours."""
    ensure_bound()
    try:
        with unavailable_on_failure("release platform code claim"):
            _item(code, platform).delete(
                condition=(PlatformCodeItem.state == "pending") & (PlatformCodeItem.holder == holder)
            )
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise


def mark_deleting(code: str, platform: str, at: str) -> None:
    """Stop serving the code (state `deleting`): the platform is asked to delete it; the item stays until it did,
    remembering what is left to delete."""
    ensure_bound()
    try:
        with unavailable_on_failure("mark platform code for deletion"):
            _item(code, platform).update(
                actions=[PlatformCodeItem.state.set("deleting"), PlatformCodeItem.delete_asked_at.set(at)],
                condition=PlatformCodeItem.PK.exists(),
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def drop(code: str, platform: str) -> None:
    """Forget the code once the platform deleted it (or there was nothing to delete)."""
    ensure_bound()
    with unavailable_on_failure("drop platform code"):
        _item(code, platform).delete()


def _count_item(tid: str, platform: str) -> PlatformCodeCountItem:
    return PlatformCodeCountItem(PK=keys.tenant_pk(tid), SK=keys.platform_code_count_sk(platform))


def take_quota(tid: str, platform: str, limit: int) -> bool:
    """Count one more code, unless `limit` are counted already."""
    ensure_bound()
    try:
        with unavailable_on_failure("count platform code"):
            _count_item(tid, platform).update(
                actions=[PlatformCodeCountItem.made.add(1), PlatformCodeCountItem.entity.set(PlatformCodeCountItem)],
                condition=PlatformCodeCountItem.made.does_not_exist() | (PlatformCodeCountItem.made < limit),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def give_back_quota(tid: str, platform: str) -> None:
    """Undo `take_quota` for a code that was not made (or was deleted again)."""
    ensure_bound()
    try:
        with unavailable_on_failure("uncount platform code"):
            _count_item(tid, platform).update(
                actions=[PlatformCodeCountItem.made.add(-1)], condition=PlatformCodeCountItem.made > 0
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def count(tid: str, platform: str) -> int:
    item = get_entity(PlatformCodeCountItem, keys.tenant_pk(tid), keys.platform_code_count_sk(platform))
    return int(item.made or 0) if item is not None else 0
