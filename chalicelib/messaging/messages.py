"""Messages to people and merchant systems: settings, enqueue, delivery through channel adapters, opt-outs.

Rules, states and their order are described in docs/messaging.md. Enqueue is idempotent (the message id is
derived from the caller's key), so the stream handler and schedules may call it again for the same reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from chalicelib.accounts import audit, tenants, totp, webhook_secret
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Permission, Principal, is_allowed
from chalicelib.core.reasons import message_reason_code
from chalicelib.messaging import channels, webhooks
from chalicelib.messaging.rules import egress
from chalicelib.messaging.rules import messages as domain
from chalicelib.messaging.rules import webhooks as outbox_rules
from chalicelib.messaging.rules.messages import MessagingSettings, Recipient
from chalicelib.messaging.rules.records import MessageRecord
from chalicelib.messaging.store import messages as store
from chalicelib.platforms import credentials as platform_credentials
from chalicelib.security import unsubscribe_tokens
from chalicelib.security.pii import get_cipher, mask_name, normalize_phone

MAX_ITEMS_PER_RUN = 100
MAX_SECONDS_PER_RUN = 20.0
# A claimed message is pushed this far ahead first: a run that dies mid-send leaves it to be retried then,
# and an overlapping run never picks it up meanwhile.
LEASE = timedelta(minutes=5)
CAP_COUNTER_DAYS = 3
# Channels whose address someone else can give: capped per address too (channel -> blind index purpose).
ADDRESS_CAPPED: Mapping[str, str] = {"sms": "phone", "email": "email"}
# Messages that keep their variables: a webhook sends them as `data`; a WeChat subscription message fills its
# template's keywords with them.
KEEPS_VARIABLES = frozenset({"webhook", "wechat"})
# A message in a final state is kept this long for operators (what was sent, what went dead), then TTL removes it.
RETENTION = timedelta(days=180)
RECENT_SCAN = 200
# The text of a `call_webhook` automation action; the receiving system also gets the variables as `data`.
WEBHOOK_TEMPLATE: Mapping[str, str] = {
    "zh": "自动化通知：{nickname}，{campaign}，{progress}，{reward}，{link}",
    "en": "Automation: {nickname}, {campaign}, {progress}, {reward}, {link}",
}


# The token of an unsubscribe link, wherever a text holds one.
_UNSUBSCRIBE_TOKEN = re.compile(r"(unsubscribe\.html\?t=)[^\s&#]+")
# What an operator without `pii:unmask` sees of a message queued before masked renderings were stored, when the
# person's values are not at hand to mask.
WITHHELD = "[hidden: personal data]"


def _address_context(tid: str, mid: str) -> str:
    """A message's address decrypts only as this message's."""
    return f"message:{tid}:{mid}:address"


# --- settings -------------------------------------------------------------------------------------


def settings_of(tid: str) -> MessagingSettings:
    stored = store.get_settings(tid)
    return MessagingSettings.model_validate(stored) if stored else MessagingSettings()


def _allow_private(stage: str) -> bool:
    return stage in ("local", "test")


def _check_endpoints(settings: MessagingSettings) -> None:
    stage = get_settings().stage
    for channel in domain.HTTP_CHANNELS:
        url = settings.endpoint(channel)
        if url is not None:
            try:
                webhooks.check_url(url, stage)
            except ValidationFailed as exc:
                raise ValidationFailed(f"channels.{channel}.endpoint: {exc.message}", code=Code.INVALID_URL) from None


def _check_platforms(tid: str, before: MessagingSettings, after: MessagingSettings) -> None:
    """A channel switched to `provider: platform` needs the platform connected (`PUT /v1/admin/platforms/...`)."""
    for channel in ("wecom", "wechat"):
        if after.platform(channel) is None or before.platform(channel) is not None:
            continue
        if platform_credentials.find_credentials(tid, "wecom" if channel == "wecom" else "wechat") is None:
            raise ValidationFailed(
                f"channels.{channel}: the tenant has not connected {channel}: PUT /v1/admin/platforms/{channel} first",
                code=Code.CHANNEL_NOT_CONFIGURED, details={"channel": channel},
            )  # fmt: skip


def settings_view(actor: Principal) -> dict[str, Any]:
    return settings_of(actor.tid).model_dump(mode="json")


def update_settings(
    actor: Principal, request: MessagingSettings, totp_code: str | None, now: datetime
) -> dict[str, Any]:
    """Replace the tenant's messaging settings; every change is in the audit chain, in full (the kill switch above all).

    A channel pointed at a new endpoint sends phone numbers or user ids there: the owner's decision, with a fresh
    TOTP step-up (`rules/egress.py`). Everything else (caps, quiet hours, the kill switch, switching a channel off)
    only sends less, and stays with operators."""
    before = settings_of(actor.tid)
    added = egress.new_endpoints(before, request)
    if added:
        egress.check_role(actor, [f"channels.{name}.endpoint" for name in added])
    _check_endpoints(request)
    _check_platforms(actor.tid, before, request)
    if added:
        totp.require_step_up(actor, totp_code, now)
    document = request.model_dump(mode="json")
    store.put_settings(actor.tid, document, iso(now))
    audit.record(
        actor.tid, actor.email, "messaging.update", "messaging",
        {"paused": request.paused, "was_paused": before.paused, "channels": sorted(
            name for name, value in document["channels"].items() if value is not None
        ), "new_endpoints": added, "settings": egress.audit_settings(document, webhooks.audit_fingerprint)},
        now,
    )  # fmt: skip
    return document


def check_template(template: object, *, field: str = "template") -> None:
    """Refuse an unknown built-in name, an unknown variable or a bad brace (for validating automation actions)."""
    try:
        domain.validate_template(template)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {exc}", code=Code.INVALID_TEMPLATE, details={"field": field}) from None


def check_channel(tid: str, channel: str) -> None:
    """Refuse a channel the tenant has not configured (for validating automation actions when saved)."""
    problem = domain.not_configured(channel, settings_of(tid))
    if problem is not None:
        raise ValidationFailed(problem, code=Code.CHANNEL_NOT_CONFIGURED, details={"channel": channel})


# --- enqueue --------------------------------------------------------------------------------------


def unsubscribe_link(tid: str, uid: str, channel: str) -> str:
    try:
        token = unsubscribe_tokens.issue(tid, uid, channel)
    except ValueError as exc:
        raise ValidationFailed(str(exc), code=Code.INVALID_RECIPIENT) from None
    return get_settings().site_url(f"/unsubscribe.html?t={quote(token, safe='')}")


def _masked_values(values: Mapping[str, str]) -> dict[str, str]:
    """The variables with what names or reaches the person masked: the nickname (`A****`), and the unsubscribe
    link's token (it acts for the person)."""
    out = dict(values)
    if out.get("nickname"):
        out["nickname"] = mask_name(out["nickname"])
    if out.get("unsubscribe"):
        out["unsubscribe"] = _UNSUBSCRIBE_TOKEN.sub(r"\1…", out["unsubscribe"])
    return out


def enqueue(
    tid: str,
    uid: str,
    channel: str,
    template: str | Mapping[str, str],
    variables: Mapping[str, str],
    *,
    message_key: str,
    due: datetime,
    recipient: Recipient,
    automation_id: str | None = None,
    endpoint: str | None = None,
) -> str | None:
    """Queue one message, rendered now; returns its id, or None when `message_key` was queued before.

    The rules (kill switch, opt-outs, quiet hours, caps) are applied at delivery, not here, so a message
    queued before an unsubscribe or a pause is still held back. Raises ValidationFailed for an unknown
    channel or a bad template, and for a webhook message without an endpoint."""
    if channel not in domain.CHANNELS:
        raise ValidationFailed(f"unknown channel {channel!r}", code=Code.INVALID_CHANNEL)
    if channel == "webhook" and not endpoint:
        raise ValidationFailed("a webhook message needs an endpoint", code=Code.INVALID_CHANNEL)
    check_template(template)
    mid = domain.message_id(tid, message_key)
    settings = settings_of(tid)
    locale = recipient.locale or settings.locale
    values = {name: str(value) for name, value in variables.items() if name in domain.VARIABLES}
    if recipient.nickname and not values.get("nickname"):
        values["nickname"] = recipient.nickname
    values["unsubscribe"] = unsubscribe_link(tid, uid, channel) if channel in domain.PERSON_CHANNELS else ""
    rendered = domain.render(template, locale, values)
    # The same template with the personal values masked, for operators without `pii:unmask`: exact, where a
    # search for the person's values in the text would miss a nickname changed since or mask a common word.
    masked = domain.render(template, locale, _masked_values(values))
    address = domain.address_of(channel, recipient)
    moment = utcnow()
    due_at = iso(due)
    record = MessageRecord(
        tid=tid, mid=mid, uid=uid, channel=channel, status="pending", subject=rendered.subject, text=rendered.text,
        masked_subject=masked.subject, masked_text=masked.text,
        template=template if isinstance(template, str) else None, locale=domain.pick_locale(template, locale),
        address_enc=get_cipher().encrypt(address, _address_context(tid, mid)) if address else None,
        endpoint=endpoint, data=values if channel in KEEPS_VARIABLES else None, automation_id=automation_id, attempts=0,
        due_at=due_at, created_at=iso(moment), version=1,
    )  # fmt: skip
    return mid if store.add(record) else None


# --- delivery -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """Per-run caches: one settings read and one tenant read per tenant, however many messages it has."""

    now: datetime
    settings: dict[str, MessagingSettings] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)

    def settings_of(self, tid: str) -> MessagingSettings:
        if tid not in self.settings:
            self.settings[tid] = settings_of(tid)
        return self.settings[tid]

    def zone_of(self, tid: str) -> str:
        if tid not in self.zones:
            self.zones[tid] = tenants.timezone(tid)
        return self.zones[tid]


def _set_due(item: MessageRecord, due: datetime) -> None:
    """Due again at `due`: whatever lease a run held ends with it."""
    item.due_at = iso(due)
    item.lease_until = None


def _close(item: MessageRecord, status: str) -> None:
    """A final state (the store takes it out of the due index), kept for `RETENTION` (its text may name the person)."""
    item.status = status
    item.expires_at = int((utcnow() + RETENTION).timestamp())


def _write(item: MessageRecord) -> None:
    if not store.replace(item):
        logger.warning("message changed during delivery", mid=item.mid)


def _platform_send(item: MessageRecord, settings: MessagingSettings) -> channels.PlatformSend | None:
    """How a wecom or wechat message leaves through the connected platform; None when the channel uses a gateway."""
    configured = settings.platform(item.channel)
    purpose = item.template or domain.DEFAULT_PURPOSE
    if isinstance(configured, domain.WecomChannel):
        return channels.PlatformSend(sender=configured.sender, purpose=purpose)
    if not isinstance(configured, domain.WechatChannel):
        return None
    variables = dict(item.data or {})
    template = configured.template_for(item.template)
    if template is None:
        return channels.PlatformSend(purpose=purpose)
    return channels.PlatformSend(
        template_id=template.template_id, data=domain.subscription_data(template, variables),
        page=variables.get("link") or None, purpose=purpose,
    )  # fmt: skip


def _outgoing(item: MessageRecord, settings: MessagingSettings, now: datetime) -> channels.Outgoing:
    config = get_settings()
    address = get_cipher().decrypt(item.address_enc, _address_context(item.tid, item.mid)) if item.address_enc else ""
    target = item.endpoint if item.channel == "webhook" else settings.endpoint(item.channel)
    if item.channel == "email":
        target = settings.sender()
    signs = item.channel == "webhook" or (item.channel in domain.HTTP_CHANNELS and target is not None)
    keys = webhook_secret.signing_keys(item.tid, now) if signs else None
    return channels.Outgoing(
        mid=item.mid, tid=item.tid, uid=item.uid, channel=item.channel, text=item.text, subject=item.subject,
        template=item.template, automation_id=item.automation_id, address=address, target=target, keys=keys,
        timestamp=int(now.timestamp()), allow_private=_allow_private(config.stage), region=config.region,
        data=dict(item.data) if item.data and item.channel == "webhook" else None,
        platform=_platform_send(item, settings),
    )  # fmt: skip


def _address_key(item: MessageRecord) -> str | None:
    """The keyed hash of an sms or email message's address (the blind index the participant's phone has), or None
    for channels whose address is the person's own id."""
    purpose = ADDRESS_CAPPED.get(item.channel)
    if purpose is None or not item.address_enc:
        return None
    address = get_cipher().decrypt(item.address_enc, _address_context(item.tid, item.mid)).strip()
    if purpose == "phone":
        try:
            address = normalize_phone(address)
        except ValueError:
            pass  # an address the join did not normalise is hashed as it is
    else:
        address = address.lower()
    return get_cipher().blind_index(address, purpose)


def _suppressed(item: MessageRecord, reason: str) -> str:
    _close(item, "suppressed")
    item.reason = reason
    _write(item)
    return "suppressed"


def _deferred(item: MessageRecord, reason: str, until: datetime) -> str:
    item.status = "deferred"
    item.reason = reason
    _set_due(item, until)
    _write(item)
    return "deferred"


def _failed(item: MessageRecord, error: str, permanent: bool, settings: MessagingSettings, now: datetime) -> str:
    item.attempts += 1
    item.last_error = error[:500]
    item.reason = None
    if permanent or item.attempts >= settings.max_attempts:
        _close(item, "dead")
    else:
        item.status = "pending"
        _set_due(item, outbox_rules.next_due(now, item.attempts - 1))
    _write(item)
    return "dead" if item.status == "dead" else "retried"


def _claim(mid: str, now: datetime) -> MessageRecord | None:
    """Re-read the message (the index lags) and take a lease on it, so no other run sends it meanwhile;
    `due_at` keeps the time it was due, for operators. A run that dies leaves it due after the lease."""
    item = store.get(mid)
    if item is None or item.status not in domain.OPEN_STATUSES:
        return None
    if (item.lease_until or item.due_at) > iso(now):
        return None
    item.lease_until = iso(now + LEASE)
    return item if store.replace(item) else None


def _deliver_one(mid: str, run: _Run) -> str:
    now = run.now
    item = _claim(mid, now)
    if item is None:
        return "skipped"
    settings = run.settings_of(item.tid)
    # An emergency stop drops, not delays: lifting it must not release a flood of stale messages.
    if settings.paused:
        return _suppressed(item, "kill_switch")
    person = item.channel in domain.PERSON_CHANNELS
    if person:
        opted_out = store.unsubscribed(item.tid, item.uid)
        if item.channel in opted_out or domain.ALL_CHANNELS in opted_out:
            return _suppressed(item, "unsubscribed")
        if item.channel != "console" and not item.address_enc:
            return _suppressed(item, "no_address")
    problem = domain.not_configured(item.channel, settings)
    if problem is not None:
        return _failed(item, problem, True, settings, now)
    day = address = None
    if person:
        zone = run.zone_of(item.tid)
        if domain.in_quiet_hours(now, zone, settings.quiet_hours):
            return _deferred(item, "quiet_hours", domain.next_allowed(now, zone, settings.quiet_hours))
        cap = settings.cap(item.channel)
        if cap == 0:
            return _suppressed(item, "channel_off")
        day = domain.local_day(now, zone)
        expires = int((now + timedelta(days=CAP_COUNTER_DAYS)).timestamp())
        if not store.take_slot(item.tid, item.uid, item.channel, day, cap, expires):
            return _deferred(item, "daily_cap", domain.next_day_start(now, zone, settings.quiet_hours))
        # The same cap per phone number or email address, across everyone who gave it: joining under many ids
        # with someone else's number must not multiply the texts they get. Dropped, not deferred, so a flood is
        # not merely spread over the following days.
        address = _address_key(item)
        taken = address is None or store.take_slot(item.tid, address, item.channel, day, cap, expires, address=True)
        if not taken:
            store.give_back_slot(item.tid, item.uid, item.channel, day)
            return _suppressed(item, "address_cap")
    try:
        channels.ADAPTERS[item.channel](_outgoing(item, settings, now))
    except Exception as exc:  # noqa: BLE001 - any adapter failure is a failed attempt, never a lost message
        if day is not None:
            store.give_back_slot(item.tid, item.uid, item.channel, day)
            if address is not None:
                store.give_back_slot(item.tid, address, item.channel, day, address=True)
        if isinstance(exc, channels.Suppressed):  # no consent: never sent, and not a failure to retry
            item.last_error = str(exc)[:500]
            return _suppressed(item, exc.reason)
        if isinstance(exc, channels.DeliveryError):
            return _failed(item, str(exc), exc.permanent, settings, now)
        return _failed(item, repr(exc), False, settings, now)
    _close(item, "sent")
    item.reason = None
    item.sent_at = iso(now)
    _write(item)
    return "sent"


def deliver(now: datetime | None = None) -> dict[str, int]:
    """Send what is due, bounded in items and time; every per-item failure is caught so one bad endpoint
    never holds back the others."""
    run = _Run(now or utcnow())
    started = time.monotonic()
    counts = {"sent": 0, "deferred": 0, "suppressed": 0, "retried": 0, "dead": 0, "skipped": 0, "errors": 0}
    budget = MAX_ITEMS_PER_RUN
    for shard in range(domain.SHARDS):
        if budget <= 0 or time.monotonic() - started > MAX_SECONDS_PER_RUN:
            break
        for mid in store.due(shard, iso(run.now), budget):
            if budget <= 0 or time.monotonic() - started > MAX_SECONDS_PER_RUN:
                break
            budget -= 1
            try:
                counts[_deliver_one(mid, run)] += 1
            except Exception:  # noqa: BLE001 - a storage hiccup on one message must not stop the run
                logger.exception("message delivery failed", mid=mid)
                counts["errors"] += 1
    return counts


# --- operators ------------------------------------------------------------------------------------


def _masked_copy(item: MessageRecord, known: Sequence[tuple[str, str]]) -> tuple[str, str | None]:
    """(text, subject) for an operator without `pii:unmask`: the masked rendering stored at enqueue; for an older
    message, its text with the person's `known` values (value, masked) replaced, or withheld when none are known."""
    if item.masked_text is not None:
        return item.masked_text, item.masked_subject
    if not known:
        return WITHHELD, None
    text, subject = item.text, item.subject
    for value, shown in sorted(known, key=lambda pair: -len(pair[0])):
        if value:
            text = text.replace(value, shown)
            subject = subject.replace(value, shown) if subject is not None else None
    return _UNSUBSCRIBE_TOKEN.sub(r"\1…", text), subject


def view(item: MessageRecord, *, clear: bool = True, known: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """A message for operators; `clear` is False for a role without `pii:unmask`, which sees it masked."""
    text, subject = (item.text, item.subject) if clear else _masked_copy(item, known)
    out: dict[str, Any] = {
        "id": item.mid, "channel": item.channel, "uid": item.uid, "status": item.status, "text": text,
        "attempts": item.attempts, "due_at": item.due_at, "created_at": item.created_at,
        "automation_id": item.automation_id,
    }  # fmt: skip
    if subject is not None:
        out["subject"] = subject
    if not clear:
        out["masked"] = True
    for name in ("sent_at", "last_error", "reason", "template"):
        value = getattr(item, name)
        if value is not None:
            out[name] = value
    if item.reason is not None:
        out["reason_code"] = message_reason_code(item.reason)
    return out


def sees_clear(actor: Principal) -> bool:
    """Whether `actor` sees messages as sent (nicknames included): roles holding `pii:unmask`."""
    return is_allowed(actor.role, Permission.PII_UNMASK)


def list_messages(
    actor: Principal, *, status: str | None, channel: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    if status is not None and status not in domain.STATUSES:
        raise BadRequest(f"status must be one of {', '.join(domain.STATUSES)}", code=Code.INVALID_STATUS)
    if channel is not None and channel not in domain.CHANNELS:
        raise BadRequest(f"channel must be one of {', '.join(domain.CHANNELS)}", code=Code.INVALID_CHANNEL)
    if not 1 <= limit <= 100:
        raise BadRequest("limit must be 1..100", code=Code.INVALID_LIMIT)
    page = store.list_for_tenant(actor.tid, limit=limit, cursor=cursor, status=status, channel=channel)
    clear = sees_clear(actor)
    return {"items": [view(item, clear=clear) for item in page.items], "next_cursor": page.cursor}


def recent_for(
    tid: str, uid: str, limit: int = 10, *, clear: bool = True, known: Sequence[tuple[str, str]] = ()
) -> list[dict[str, Any]]:
    """A person's latest messages, from the tenant's newest `RECENT_SCAN` (a bounded read, no per-person index).

    `clear` False masks them (`view`); `known` are the person's (value, masked) pairs for messages older than the
    stored masked renderings."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    evaluated = 0
    while len(found) < limit and evaluated < RECENT_SCAN:
        page = store.list_for_tenant(tid, limit=50, cursor=cursor)
        evaluated += 50
        found.extend(view(item, clear=clear, known=known) for item in page.items if item.uid == uid)
        cursor = page.cursor
        if cursor is None:
            break
    return found[:limit]


def _owned(tid: str, mid: str) -> MessageRecord:
    item = store.get(mid)
    if item is None or item.tid != tid:
        raise NotFound("no such message", code=Code.MESSAGE_NOT_FOUND)
    return item


def retry(actor: Principal, mid: str, now: datetime) -> dict[str, Any]:
    """Put a dead message back in the queue, due now, with its attempts reset (the rules apply again)."""
    item = _owned(actor.tid, mid)
    if item.status != "dead":
        raise Conflict(f"only dead messages can be retried; this one is {item.status}", code=Code.MESSAGE_NOT_DEAD)
    item.status = "pending"
    item.expires_at = None  # back in the queue: it must not expire while it waits
    item.attempts = 0
    item.reason = None
    _set_due(item, now)
    if not store.replace(item):
        raise Conflict("the message changed meanwhile; reload and retry", code=Code.CONCURRENT_UPDATE)
    audit.record(actor.tid, actor.email, "message.retry", mid, {"channel": item.channel}, now)
    return view(item, clear=sees_clear(actor))


# --- opt-outs -------------------------------------------------------------------------------------


def unsubscribed(tid: str, uid: str) -> list[str]:
    """The channels a person opted out of (`*` = every person channel), for profile views."""
    return sorted(store.unsubscribed(tid, uid))


def set_subscriptions(actor: Principal, uid: str, channels_off: list[str], now: datetime) -> dict[str, Any]:
    """Replace a person's opt-outs (an operator acting on a request made by phone or at the counter). The
    caller has checked that the person belongs to the actor's tenant (audience/profiles.py)."""
    if not uid.startswith("u_") or len(uid) > 64:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    wanted = {domain.ALL_CHANNELS} if domain.ALL_CHANNELS in channels_off else set(channels_off)
    store.set_unsubscribed(actor.tid, uid, wanted, iso(now))
    audit.record(actor.tid, actor.email, "subscriptions.update", uid, {"unsubscribed": sorted(wanted)}, now)
    return {"uid": uid, "unsubscribed": sorted(wanted)}


def silence(tid: str, uid: str, now: datetime) -> None:
    """Opt a person out of every channel (their data was erased): what is queued for them is suppressed
    at delivery, and so is anything a rule queues later."""
    store.add_unsubscribed(tid, uid, domain.ALL_CHANNELS, iso(now))


def unsubscribe(token: str, now: datetime) -> dict[str, Any]:
    """The public link: record the opt-out the token names. Clicking twice is the same as once."""
    found = unsubscribe_tokens.verify(token)
    if found is None:
        raise BadRequest("the unsubscribe link is not valid", code=Code.INVALID_TOKEN)
    store.add_unsubscribed(found.tid, found.uid, found.channel, iso(now))
    return {"unsubscribed": found.channel}
