"""A participant's WeCom channel code, official account QR code and mini-program code: made on first use, then
reused.

One container makes a code: it claims the participant's item with a conditional put (pending, with a lease),
counts the code against the tenant's quota, calls the platform and stores the answer over its claim. The others
wait for it and read the result, so twenty concurrent first posters cause one platform call. A creator that dies
leaves its claim to run out; the next request takes it over (its count stays: the quota errs on the safe side).
A creator so slow that its claim was taken over deletes its WeCom contact way again; an official account code
cannot be deleted and is left unused (docs/wechat.md, "Channel codes and platform QR codes").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.core.clock import iso, utcnow
from chalicelib.core.errors import FissionError
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.platforms import client, credentials
from chalicelib.platforms.rules import codes as rules
from chalicelib.platforms.rules.codes import StoredPlatform
from chalicelib.platforms.rules.credentials import WecomCredentials
from chalicelib.platforms.rules.scenes import scene_for
from chalicelib.platforms.rules.tokens import PlatformBusy, PlatformError
from chalicelib.platforms.store import codes as store
from chalicelib.platforms.store.codes import StoredCode

# The clock and the pause between reads while another container creates the code (tests replace them).
clock: Callable[[], float] = time.time
sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Participant:
    """Whose code: the invite code, and the campaign and tenant it belongs to."""

    tid: str
    cid: str
    code: str


@dataclass(frozen=True)
class WecomContact:
    config_id: str
    image_url: str  # the QR image WeCom hosts


@dataclass(frozen=True)
class OfficialAccountCode:
    ticket: str
    content: str  # what the QR code encodes


def wecom_contact(who: Participant) -> WecomContact:
    """The participant's channel code (渠道活码): scanning it adds the tenant's staff, `state` naming them."""
    found = _ensure(who, "wecom", _create_contact_way, _delete_contact_way)
    assert found.config_id is not None and found.image_url is not None
    return WecomContact(found.config_id, found.image_url)


def official_account_code(who: Participant) -> OfficialAccountCode:
    """The participant's permanent parametric QR code of the tenant's official account."""
    found = _ensure(who, "wechat", _create_qrcode, None)
    assert found.ticket is not None and found.content is not None
    return OfficialAccountCode(found.ticket, found.content)


def existing_wecom_contact(code: str) -> WecomContact | None:
    """The participant's channel code if it was made (nothing is created)."""
    found = store.get(code, "wecom")
    if found is None or found.state != "ready" or found.config_id is None or found.image_url is None:
        return None
    return WecomContact(found.config_id, found.image_url)


def existing_official_account(code: str) -> OfficialAccountCode | None:
    """The participant's official account QR code if it was made (nothing is created)."""
    found = store.get(code, "wechat")
    if found is None or found.state != "ready" or found.ticket is None or found.content is None:
        return None
    return OfficialAccountCode(found.ticket, found.content)


def miniprogram_code(who: Participant, page: str | None) -> bytes:
    """The mini-program code image opening `page` (the home page if None) with the participant's scene.

    Not stored here: these codes are unlimited and the same request answers the same code, so the caller keeps
    the image (posters cache it with the poster)."""
    credentials.get_credentials(who.tid, "miniprogram")
    app = client.App(who.tid, "miniprogram")
    body = rules.wxacode_request(scene_for(who.code), page)
    return client.call_bytes(app, "POST", rules.WXACODE_UNLIMITED, json=body)


def forget(code: str) -> bool:
    """An erased participant's codes: their WeCom contact way is deleted on WeCom and its item dropped. True when
    nothing is left to delete; False when WeCom could not be asked (logged): the item stays, state `deleting`,
    no longer served, and the next call tries again. An official account code cannot be deleted: it stays,
    counted, and its scene now names an erased participant, which counts for nobody."""
    found = store.get(code, "wecom")
    if found is None:
        return True
    store.mark_deleting(code, "wecom", iso(utcnow()))
    if found.config_id is not None:
        try:
            _delete_contact_way(found)
        except (PlatformError, FissionError) as exc:
            if getattr(exc, "errcode", None) != rules.UNKNOWN_CONFIG_ID:  # already gone on WeCom: nothing to do
                logger.warning("erased participant's contact way not deleted", code=exc.code)
                return False
        store.give_back_quota(found.tid, "wecom")
    store.drop(code, "wecom")
    return True


def usage(tid: str) -> dict[str, Any]:
    """How many codes the tenant has made per platform, against the documented limits."""
    return {"platforms": rules.usage({platform: store.count(tid, platform) for platform in rules.STORED})}


Create = Callable[[Participant, StoredCode], StoredCode]
Delete = Callable[[StoredCode], None]


def _ensure(who: Participant, platform: StoredPlatform, create: Create, delete: Delete | None) -> StoredCode:
    # Refuse before any claim when the platform is not connected (a 409 naming it).
    credentials.get_credentials(who.tid, platform)
    deadline = time.monotonic() + rules.WAIT_SECONDS
    while True:
        found = store.get(who.code, platform)
        if found is not None and found.state == "ready":
            return found
        holder = new_id("claim")
        if store.claim(who.tid, who.cid, who.code, platform, holder, clock(), rules.LEASE_SECONDS):
            made = _make(who, platform, holder, create, delete)
            if made is not None:
                return made
            continue  # someone took our claim over and finished first: read theirs
        if time.monotonic() > deadline:
            raise PlatformBusy(f"another request's {platform} code was not ready in time")
        sleep(rules.POLL_SECONDS)


def _make(
    who: Participant, platform: StoredPlatform, holder: str, create: Create, delete: Delete | None
) -> StoredCode | None:
    """Create the code under our claim; None if the claim was lost meanwhile (the duplicate deleted if the platform
    can)."""
    if not store.take_quota(who.tid, platform, rules.LIMITS[platform]):
        store.release(who.code, platform, holder)
        raise rules.CodeQuotaReached(platform, store.count(who.tid, platform))
    pending = StoredCode(
        tid=who.tid,
        cid=who.cid,
        platform=platform,
        code=who.code,
        state="pending",
        holder=holder,
        lease_until=None,
        scene=scene_for(who.code),
        created_at=iso(utcnow()),
    )
    try:
        made = create(who, pending)
    except BaseException:
        store.give_back_quota(who.tid, platform)
        store.release(who.code, platform, holder)
        raise
    if store.complete(made):
        return replace(made, state="ready", holder=None)
    logger.warning("platform code made twice", platform=platform)
    if delete is not None:
        try:
            delete(made)
            store.give_back_quota(who.tid, platform)
        except PlatformError:
            logger.exception("duplicate platform code not deleted", platform=platform)
    return None


def _create_contact_way(who: Participant, pending: StoredCode) -> StoredCode:
    found = credentials.get_credentials(who.tid, "wecom")
    assert isinstance(found, WecomCredentials)
    assert pending.scene is not None
    body = rules.contact_way_request(pending.scene, list(found.staff_user_ids), f"fission {who.code}")
    answer = client.call(client.App(who.tid, "wecom"), "POST", rules.ADD_CONTACT_WAY, json=body)
    config_id, image_url = rules.read_contact_way(answer)
    return replace(pending, config_id=config_id, image_url=image_url)


def _delete_contact_way(made: StoredCode) -> None:
    client.call(client.App(made.tid, "wecom"), "POST", rules.DEL_CONTACT_WAY, json={"config_id": made.config_id})


def _create_qrcode(who: Participant, pending: StoredCode) -> StoredCode:
    assert pending.scene is not None
    body = rules.qrcode_request(pending.scene)
    answer = client.call(client.App(who.tid, "wechat"), "POST", rules.QRCODE_CREATE, json=body)
    ticket, content = rules.read_qrcode(answer)
    return replace(pending, ticket=ticket, content=content)
