"""Inbound callback messages as events: which ones Fission keeps and the key that makes a redelivery a no-op (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest

# WeCom customer-contact changes Fission acts on (the Event is change_external_contact).
WECOM_ADDS = frozenset({"add_external_contact"})
WECOM_DELETES = frozenset({"del_external_contact", "del_follow_user"})
# Official account events Fission acts on.
WECHAT_ADDS = frozenset({"subscribe", "SCAN"})
WECHAT_DELETES = frozenset({"unsubscribe"})
ADDS = WECOM_ADDS | WECHAT_ADDS
DELETES = WECOM_DELETES | WECHAT_DELETES
# Subscription-message consent (订阅通知): a popup's answer per template, and a later refusal from the settings page.
# `subscribe_msg_sent_event` (the outcome of a send) is acknowledged and not kept: the send's own answer decides.
CONSENT_POPUP = "subscribe_msg_popup_event"
CONSENT_CHANGE = "subscribe_msg_change_event"
CONSENT_EVENTS = {CONSENT_POPUP: "SubscribeMsgPopupEvent", CONSENT_CHANGE: "SubscribeMsgChangeEvent"}
CONSENTS = frozenset(CONSENT_EVENTS)
ACCEPT, REJECT = "accept", "reject"


@dataclass(frozen=True)
class InboundEvent:
    platform: str
    kind: str  # ChangeType (WeCom) or Event (official account)
    user: str  # ExternalUserID or FromUserName (openid)
    sent_at: int  # CreateTime
    digest: str  # the dedupe key's digest
    staff: str | None = None
    scene: str | None = None
    welcome_code: str | None = None
    template_id: str | None = None  # consent events: the template answered
    consent: str | None = None  # consent events: accept or reject


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _sent_at(fields: dict[str, str]) -> int:
    try:
        return int(fields.get("CreateTime", ""))
    except ValueError:
        raise BadRequest("CreateTime is not a number", code=Code.INVALID_XML) from None


def wecom_event(fields: dict[str, str]) -> InboundEvent | None:
    """A customer-contact change Fission acts on; None for any other message (acknowledged, not kept).
    Dedupe key: ExternalUserID + ChangeType + CreateTime + UserID."""
    kind = fields.get("ChangeType", "")
    user = fields.get("ExternalUserID", "")
    if fields.get("Event") != "change_external_contact" or kind not in ADDS | DELETES or not user:
        return None
    staff = fields.get("UserID", "")
    sent_at = _sent_at(fields)
    return InboundEvent(
        platform="wecom", kind=kind, user=user, sent_at=sent_at, digest=_digest(user, kind, str(sent_at), staff),
        staff=staff or None, scene=fields.get("State") or None, welcome_code=fields.get("WelcomeCode") or None,
    )  # fmt: skip


def wechat_event(fields: dict[str, str]) -> InboundEvent | None:
    """A subscribe, SCAN or unsubscribe; None for anything else. Dedupe key: MsgId, else FromUserName + CreateTime
    + Event (WeChat's own advice for events, which carry no MsgId)."""
    kind = fields.get("Event", "")
    user = fields.get("FromUserName", "")
    if fields.get("MsgType") != "event" or kind not in WECHAT_ADDS | WECHAT_DELETES or not user:
        return None
    sent_at = _sent_at(fields)
    msg_id = fields.get("MsgId")
    digest = _digest("msg", msg_id) if msg_id else _digest(user, str(sent_at), kind)
    return InboundEvent(
        platform="wechat", kind=kind, user=user, sent_at=sent_at, digest=digest, scene=fields.get("EventKey") or None
    )


def consent_events(fields: dict[str, str], entries: list[dict[str, str]]) -> list[InboundEvent]:
    """One event per template a subscription popup (or a later refusal) answered; [] for any other message.
    Dedupe key: FromUserName + CreateTime + Event + TemplateId, so a redelivered callback grants nothing twice."""
    kind = fields.get("Event", "")
    user = fields.get("FromUserName", "")
    if fields.get("MsgType") != "event" or kind not in CONSENTS or not user:
        return []
    sent_at = _sent_at(fields)
    found: list[InboundEvent] = []
    for entry in entries:
        template, status = entry.get("TemplateId", ""), entry.get("SubscribeStatusString", "")
        if not template or status not in (ACCEPT, REJECT):
            continue
        found.append(InboundEvent(
            platform="wechat", kind=kind, user=user, sent_at=sent_at,
            digest=_digest(user, str(sent_at), kind, template), template_id=template, consent=status,
        ))  # fmt: skip
    return found
