"""Subscription-message consent and WeCom senders, from the callback events (docs/wechat.md, "Subscription messages").

A follower's `accept` of a template in a subscription popup allows one send of it (one-time subscription): the stream
grants one credit per consent event, once however often the record is replayed; a `reject` (in the popup or later
from the settings page) clears the template's credits. The messaging channel takes a credit before each send. A WeCom
add records which staff member the customer was added by: customer messages are sent as that member.
"""

from __future__ import annotations

from chalicelib.core.clock import iso, utcnow
from chalicelib.core.observability import logger
from chalicelib.platforms.rules import events as rules
from chalicelib.platforms.store import consents as store
from chalicelib.table.changes import Change
from chalicelib.table.images import PlatformEventImage


def on_platform_event(change: Change) -> None:
    """Stream: a new consent event grants or clears credits; a new WeCom add records the customer's staff member."""
    event = change.new_as(PlatformEventImage)
    if change.event != "INSERT" or event is None:
        return
    if event.kind in rules.CONSENTS and event.template_id:
        if event.consent == rules.ACCEPT:
            granted = store.grant(event.tid, event.user, event.template_id, event.event_key, event.received_at)
            logger.info("subscription consent", granted=granted)
        elif event.consent == rules.REJECT:
            store.clear(event.tid, event.user, event.template_id, event.received_at)
    elif event.platform == "wecom" and event.kind in rules.WECOM_ADDS and event.staff:
        store.remember_sender(event.tid, event.platform, event.user, event.staff, event.received_at)


def take(tid: str, openid: str, template_id: str) -> bool:
    """Use one of the follower's sends of `template_id`; False when they have none left."""
    return store.take(tid, openid, template_id)


def give_back(tid: str, openid: str, template_id: str) -> None:
    store.give_back(tid, openid, template_id)


def refused(tid: str, openid: str, template_id: str) -> None:
    """WeChat says the follower refuses the template (43101): whatever credits we counted are void."""
    store.clear(tid, openid, template_id, iso(utcnow()))


def credits(tid: str, openid: str, template_id: str) -> int:
    return store.credits(tid, openid, template_id)


def sender_of(tid: str, external_userid: str) -> str | None:
    """The staff member who added this WeCom customer, if an add callback was seen."""
    return store.sender(tid, "wecom", external_userid)
