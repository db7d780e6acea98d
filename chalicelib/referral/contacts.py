"""Platform contacts as invites: a WeCom add or an official account follow through a participant's code joins the
newcomer, invited by that participant, and is their qualifying `follow` once the retention window has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.campaigns import live
from chalicelib.campaigns.rules.spec import LadderRules
from chalicelib.core.clock import iso
from chalicelib.core.errors import FissionError
from chalicelib.core.observability import logger
from chalicelib.platforms import client, tags
from chalicelib.platforms.rules import events as platform_events
from chalicelib.platforms.rules.scenes import code_from_scene
from chalicelib.platforms.rules.tokens import PlatformError
from chalicelib.referral import identity, join
from chalicelib.referral.store import follows as store
from chalicelib.referral.store import participants as participant_store
from chalicelib.table.changes import Change
from chalicelib.table.images import PlatformEventImage

# How many days back the schedule looks for due buckets left by a missed run.
SETTLE_LOOKBACK_DAYS = 2
CHANNELS = {"wecom": "wecom", "wechat": "wechat_oa"}


def subject(platform: str, user: str) -> str:
    """The participant identity a platform user joins as (docs/wechat.md)."""
    return f"wecom:{user}" if platform == "wecom" else f"openid:{user}"


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def on_platform_event(change: Change) -> None:
    """Stream: a new callback event (an INSERT; the conditional put makes a redelivery write nothing)."""
    event = change.new_as(PlatformEventImage)
    if change.event != "INSERT" or event is None:
        return
    if event.kind in platform_events.ADDS:
        _added(event)
    elif event.kind in platform_events.DELETES:
        _removed(event)


def _added(event: PlatformEventImage) -> None:
    now = _parse(event.received_at)
    first = store.remember_contact(event.tid, event.platform, event.user, event.event_key, event.received_at)
    code = code_from_scene(event.scene or "")
    inviter = identity.by_code(code) if code else None
    if inviter is None or inviter.erased or inviter.tid != event.tid:
        return
    try:
        view, created = join.join_platform(
            inviter.cid, subject(event.platform, event.user), inviter.code, CHANNELS[event.platform], now,
            tid=event.tid,
        )  # fmt: skip
    except FissionError as exc:  # a closed campaign, a refused join: nothing to count
        logger.info("platform contact not joined", code=exc.code, platform=event.platform)
        return
    newcomer = str(view["participant_id"])
    invited = view.get("invited_by") == inviter.code
    store.link_contact(event.tid, event.platform, event.user, newcomer, inviter.code if invited else None)
    rules = live.campaign(inviter.cid).spec.rules
    if not isinstance(rules, LadderRules):
        return
    if invited and rules.qualifying_action == "follow" and (first or not rules.follow_new_contacts_only):
        if rules.follow_retention_hours == 0:
            participant_store.mark_qualified(newcomer, event.received_at)
        else:
            due = iso(now + timedelta(hours=rules.follow_retention_hours))
            store.add_pending(inviter.cid, inviter.code, newcomer, due, event.received_at)
    if event.platform == "wecom" and event.welcome_code:
        _welcome(event, view, rules, live.campaign(inviter.cid).spec.title)
    if event.platform == "wecom" and rules.wecom_tag and event.staff:
        _tag(event, event.staff, rules.wecom_tag)


def _tag(event: PlatformEventImage, staff: str, name: str) -> None:
    """The campaign's WeCom tag on the contact, for the merchant's own WeCom segments. Marking twice is harmless
    (a replayed batch); a failure is logged and does not block counting."""
    try:
        tags.mark_contact(event.tid, staff, event.user, name)
    except (PlatformError, FissionError) as exc:
        logger.warning("wecom tag not marked", code=exc.code, errcode=getattr(exc, "errcode", None))


def _welcome(event: PlatformEventImage, view: dict[str, object], rules: LadderRules, title: str) -> None:
    """WeCom's welcome message, with the newcomer's own invite page so the loop continues. At most once per add;
    a failure is logged and does not block counting (the WelcomeCode is valid only 20 s and once)."""
    if not store.claim_welcome(event.tid, event.platform, event.user, event.event_key):
        return
    text = rules.welcome_text or f"欢迎参加「{title}」！点击下方链接领取你的专属海报，邀请好友一起来吧。"
    body = {
        "welcome_code": event.welcome_code,
        "text": {"content": text},
        "attachments": [{"msgtype": "link", "link": {
            "title": title[:128], "picurl": view["poster_url"], "desc": "你的专属邀请海报", "url": view["invite_url"],
        }}],
    }  # fmt: skip
    try:
        client.call(client.App(event.tid, "wecom"), "POST", "/cgi-bin/externalcontact/send_welcome_msg", json=body)
    except (PlatformError, FissionError) as exc:
        logger.warning("welcome message not sent", code=exc.code)


def _removed(event: PlatformEventImage) -> None:
    """A delete or unfollow inside the window cancels the pending qualification; after it, takes nothing back."""
    found = store.contact(event.tid, event.platform, event.user)
    if found is None or found.code is None or found.inviter is None:
        return
    if store.cancel(found.inviter, found.code, event.received_at):
        logger.info("pending follow cancelled", platform=event.platform)


def settle_due(now: datetime) -> int:
    """Schedule: qualifications whose window has passed without a delete count now. Returns how many."""
    until = iso(now)
    counted = 0
    for back in range(SETTLE_LOOKBACK_DAYS, -1, -1):
        day = (now - timedelta(days=back)).astimezone(UTC).strftime("%Y-%m-%d")
        for shard in range(store.DUE_SHARDS):
            for pending in store.due(day, shard, until):
                if not store.start_settling(pending.inviter, pending.newcomer):
                    continue  # cancelled meanwhile
                participant_store.mark_qualified(pending.newcomer, pending.due)
                store.settled(pending.inviter, pending.newcomer)
                counted += 1
    return counted
