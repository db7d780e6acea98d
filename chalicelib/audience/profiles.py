"""Profiles, tags and segments: kept from the stream, searched and edited by operators (docs/audience.md)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from chalicelib.accounts import audit
from chalicelib.audience.rules import profiles as domain
from chalicelib.audience.rules import segments
from chalicelib.audience.rules.profiles import Fact, Profile, TagRule
from chalicelib.audience.rules.records import ProfilePosition, ProfileWrite, SegmentRecord
from chalicelib.audience.store import churn as churn_store
from chalicelib.audience.store import profiles as store
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.messaging import messages
from chalicelib.referral import identity
from chalicelib.referral.rules import participants as participant_rules
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.security.pii import get_cipher, mask_name, mask_phone
from chalicelib.table.changes import Change
from chalicelib.table.images import (
    AssistImage,
    BeaconImage,
    GroupMemberImage,
    OrderImage,
    ParticipantImage,
    RewardImage,
    TierImage,
)

SAVE_ATTEMPTS = 4
PAGE_LIMIT = 100
# How many profiles one search request or preview evaluates at most; the answer says when it stopped.
EVALUATE_PER_REQUEST = 2_000
PREVIEW_LIMIT = 20_000
REEVALUATE_LIMIT = 5_000
MAX_SEGMENTS = 100
# Saved segment ids are `seg_` and a short random part; anything longer is no id of ours.
MAX_SEGMENT_ID = 128
_LIVE_REWARD = frozenset({"issued", "claimed"})
# Tenants this container has listed for the daily churn run: one conditional put per tenant and container.
_listed: set[str] = set()


# ---- the segment language, as the rest of the service uses it --------------------------------


@lru_cache(maxsize=512)
def _parsed(text: str) -> segments.Expr:
    return segments.parse(text)


def parse_expression(text: str, *, field: str = "expression", for_tags: bool = False) -> segments.Expr:
    """Parse or answer 422 `INVALID_SEGMENT` with the position of the mistake.

    An auto-tag rule (`for_tags`) may not use durations or tags: it is evaluated when facts change,
    not as time passes."""
    try:
        return segments.check(text, auto_tag=True) if for_tags else _parsed(text)
    except segments.SegmentError as exc:
        details: dict[str, Any] = {"field": field, "position": exc.position}
        if exc.expected:
            details["expected"] = exc.expected
        raise ValidationFailed(f"{field}: {exc.message}", code=Code.INVALID_SEGMENT, details=details) from None


def holds(text: str, view: dict[str, Any], now: datetime) -> bool:
    return segments.evaluate(_parsed(text), view, now)


# ---- facts from the stream -----------------------------------------------------------------


def _at(change: Change, now: datetime) -> str:
    return iso(datetime.fromtimestamp(change.created, tz=now.tzinfo)) if change.created else iso(now)


def _participant_fact(new: ParticipantImage) -> domain.ParticipantFact:
    return domain.ParticipantFact(
        code=new.code, cid=new.cid, joined_at=new.joined_at, channel=new.channel,
        invited=bool(new.inviter), invites=len(new.counted),
        qualified=bool(new.qualified_at),
        nickname=new.nickname, contact_enc=new.contact_enc, birthday=new.birthday,
        erased=bool(new.erasing_at or new.erased_at),
    )  # fmt: skip


def facts_of(change: Change, now: datetime) -> tuple[str | None, str | None, list[Fact]]:
    """(person uid or None, participant code to look the person up by, facts) of one change."""
    new = change.new
    if change.event == "REMOVE" or new is None:
        return None, None, []
    if isinstance(new, ParticipantImage) and new.person:
        return new.person, None, [_participant_fact(new)]
    if isinstance(new, TierImage) and new.uid.startswith("u_") and new.changed_at:
        return new.uid, None, [domain.TierFact(new.tier, new.name, new.rank, new.changed_at)]
    if isinstance(new, RewardImage):
        rid = f"{new.cid}|{new.code}|{new.rule}"
        at = new.issued_at or new.created_at or iso(now)
        return None, new.code, [domain.RewardFact(rid, new.status in _LIVE_REWARD, at)]
    if isinstance(new, OrderImage) and new.buyer:
        net = new.amount if new.status == "paid" else 0
        fact = domain.OrderFact(new.oid, net, new.paid_at or iso(now))
        return None, new.buyer, [fact]
    if isinstance(new, GroupMemberImage) and change.event == "INSERT":
        return None, new.code, [domain.GroupFact(new.gid, new.joined_at or iso(now))]
    if isinstance(new, BeaconImage) and change.event == "INSERT" and new.code:
        return None, new.code, [domain.SeenFact(new.at or iso(now))]
    if isinstance(new, AssistImage) and _helpers(change):
        # About each new helper's own profile: the caller looks them up.
        return None, None, [domain.HelpFact(new.owner, _at(change, now))]
    return None, None, []


def _helpers(change: Change) -> set[str]:
    new, old = change.new_as(AssistImage), change.old_as(AssistImage)
    return set(new.helped if new else ()) - set(old.helped if old else ())


def _tenant_rules(tid: str, cache: dict[str, list[TagRule]]) -> list[TagRule]:
    if tid not in cache:
        cache[tid] = domain.merge_rules(store.tag_definitions(tid))
    return cache[tid]


def _updated(
    before: Profile, facts: list[Fact], rules: list[TagRule], now: datetime, edit: Callable[[Profile], None] | None
) -> ProfileWrite:
    """The write that brings `before` up to date with the facts (and the edit), its auto tags re-evaluated."""
    profile = domain.apply(before, facts)
    if edit is not None:
        edit(profile)
    profile.auto_tags, _, _ = domain.auto_tags(profile, rules, lambda t, v: holds(t, v, now), iso(now))
    old_tags, new_tags = before.tags, profile.tags
    added = {t: ("manual" if t in profile.manual_tags else "auto", a) for t, a in new_tags.items() if t not in old_tags}
    removed = set(old_tags) - set(new_tags)
    return ProfileWrite(profile, before.version, added, removed, before.birthday)


def _changes_nothing(write: ProfileWrite, before: Profile | None) -> bool:
    """The profile exists and the facts were in it already (a redelivered batch, a change the profile does
    not keep): writing it again would only bump its version and put one more record on the stream."""
    return before is not None and write.profile == before


def refresh(
    tid: str,
    uid: str,
    facts: Iterable[Fact],
    now: datetime,
    *,
    rules: list[TagRule] | None = None,
    edit: Callable[[Profile], None] | None = None,
    create: bool = True,
) -> Profile | None:
    """Apply facts (and an operator's edit) to a profile, re-evaluate its auto tags and save it,
    retrying on a concurrent write. None when the profile does not exist and `create` is False."""
    facts = list(facts)
    tenant_rules = rules if rules is not None else domain.merge_rules(store.tag_definitions(tid))
    for _ in range(SAVE_ATTEMPTS):
        current = store.get(tid, uid)
        if current is None and not create:
            return None
        write = _updated(current or Profile(tid=tid, uid=uid), facts, tenant_rules, now, edit)
        if _changes_nothing(write, current):
            return write.profile
        if store.save(write.profile, write.expected_version, write.added, write.removed, write.old_birthday):
            return write.profile
    raise Conflict("the profile changed while saving; retry", code=Code.PROFILE_CONTENTION)


def on_batch(batch: list[Change]) -> set[str]:
    """Stream handler: every person touched by the batch, read once, updated once."""
    now = utcnow()
    by_person: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    sequences: dict[tuple[str, str], set[str]] = defaultdict(set)
    pending: list[tuple[str, Change, list[Fact]]] = []
    for change in batch:
        uid, code, facts = facts_of(change, now)
        if change.entity == "assist" and facts:
            # One help fact per new helper, each about the helper's own profile.
            pending += [(helper, change, facts) for helper in _helpers(change)]
        elif uid is not None and isinstance(change.new, ParticipantImage | TierImage):
            key = (change.new.tid, uid)
            by_person[key] += facts
            sequences[key].add(change.sequence)
        elif code is not None:
            pending.append((code, change, facts))
    found = identity.persons({code for code, _, _ in pending})
    for code, change, facts in pending:
        if code in found:
            by_person[found[code]] += facts
            sequences[found[code]].add(change.sequence)
    failed: set[str] = set()
    for person in _refresh_all(by_person, now):
        failed |= sequences[person]
    _list_for_churn({tid for tid, _ in by_person})
    return failed


def _list_for_churn(tids: set[str]) -> None:
    """A tenant whose profiles change is scored by the daily churn run: list it (once per container)."""
    for tid in sorted(tids - _listed):
        try:
            churn_store.register(tid)
            _listed.add(tid)
        except Exception:  # the next batch of the tenant lists it; the profiles are written either way
            logger.exception("churn listing failed", tenant_id=tid)


def set_churn(tid: str, verdicts: dict[str, domain.ChurnFact], now: datetime) -> set[str]:
    """Write the daily churn verdicts on existing profiles (level and alert, hence the `churn_risk` tag), in
    bulk as the stream does; a profile already carrying its verdict is not written. Returns the uids not done."""
    failed = _refresh_all({(tid, uid): [fact] for uid, fact in verdicts.items()}, now, create=False)
    return {uid for _, uid in failed}


def _refresh_all(
    by_person: dict[tuple[str, str], list[Fact]], now: datetime, *, create: bool = True
) -> set[tuple[str, str]]:
    """`refresh` for every person of a batch, in few round trips: the profiles read with BatchGetItem,
    unchanged ones left alone, the rest saved several to a transaction (each still conditional on the
    version read). A person who lost a race goes through `refresh` on their own: re-read and retried.
    Returns the people who could not be updated."""
    if not by_person:
        return set()
    rules: dict[str, list[TagRule]] = {}
    failed: set[tuple[str, str]] = set()
    try:
        current = store.get_batch(by_person)
    except Exception:
        logger.exception("profiles read failed", profiles=len(by_person))
        return set(by_person)
    writes: list[tuple[tuple[str, str], ProfileWrite]] = []
    for person, facts in by_person.items():
        tid, uid = person
        try:
            before = current.get(person)
            if before is None and not create:
                continue
            write = _updated(before or Profile(tid=tid, uid=uid), facts, _tenant_rules(tid, rules), now, None)
        except Exception:
            logger.exception("profile update failed", tenant_id=tid, uid=uid)
            failed.add(person)
            continue
        if not _changes_nothing(write, before):
            writes.append((person, write))
    try:
        lost = {id(write) for write in store.save_all([write for _, write in writes])}
    except Exception:
        # Some transactions may have gone through: `refresh` finds those up to date and writes nothing.
        logger.exception("profile writes failed", profiles=len(writes))
        lost = {id(write) for _, write in writes}
    for person in [person for person, write in writes if id(write) in lost]:
        tid, uid = person
        try:
            refresh(tid, uid, by_person[person], now, rules=_tenant_rules(tid, rules), create=create)
        except Exception:
            logger.exception("profile update failed", tenant_id=tid, uid=uid)
            failed.add(person)
    return failed


def forget(participant: ParticipantRecord, now: datetime) -> None:
    """Data-subject erasure: the profile drops the campaign and the personal fields now, not when the
    stream gets there (the stream's own pass over the tombstone then changes nothing). A person with no
    campaign left is opted out of every channel."""
    if participant.person:
        fact = domain.ParticipantFact(participant.code, participant.cid, participant.joined_at, erased=True)
        profile = refresh(participant.tid, participant.person, [fact], now, create=False)
        if profile is None or not profile.parts:
            # Nothing of the person is left: nothing queued for them goes out, nor will anything later.
            messages.silence(participant.tid, participant.person, now)


def in_campaigns(tid: str, uid: str) -> bool:
    """Whether the person still takes part in a campaign of the tenant (an erased participant's part is dropped)."""
    profile = store.get(tid, uid)
    return profile is not None and bool(profile.parts)


def forget_profiling(tid: str, uid: str, now: datetime) -> None:
    """Data-subject erasure of a person with no campaign left: the churn level and alert (hence the `churn_risk` tag)
    and the copy of the membership tier go from the profile."""

    def clear(profile: Profile) -> None:
        profile.churn_level, profile.churn_alert, profile.tier = None, False, None

    refresh(tid, uid, [], now, edit=clear, create=False)


# ---- operator views --------------------------------------------------------------------------


def _contact(profile: Profile) -> dict[str, str]:
    """Every join's contact merged, the latest join's field winning."""
    merged: dict[str, str] = {}
    context = participant_rules.contact_context(profile.tid, profile.uid)
    for token in profile.contacts:
        try:
            value = json.loads(get_cipher().decrypt(token, context))
        except (ValueError, KeyError):
            logger.warning("profile contact does not decrypt", uid=profile.uid)
            continue
        merged.update({k: str(v) for k, v in value.items() if v})
    return merged


def contact(profile: Profile) -> dict[str, str]:
    """The person's addresses in the clear, for a channel adapter only: never shown to operators."""
    return _contact(profile)


def _mask_email(email: str) -> str:
    name, _, host = email.partition("@")
    return f"{name[:1]}***@{host}"


def view(profile: Profile) -> dict[str, Any]:
    seen = domain.segment_view(profile)
    reach = _contact(profile)
    return {
        "uid": profile.uid,
        "nickname": mask_name(profile.nickname) if profile.nickname else None,
        "phone": mask_phone(reach["phone"]) if reach.get("phone") else None,
        "email": _mask_email(reach["email"]) if reach.get("email") else None,
        "source": seen["source"],
        "invited": seen["invited"],
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "campaigns": seen["campaigns"],
        "invites": seen["invites"],
        "rewards": seen["rewards"],
        "orders": seen["orders"],
        "spend_fen": seen["spend"],
        "groups": seen["groups"],
        "helps": seen["helps"],
        "birthday": profile.birthday,
        "tags": sorted(profile.tags),
        "codes": sorted(profile.parts),
        "tier": {"id": profile.tier["id"], "name": profile.tier.get("name"), "since": profile.tier.get("at")}
        if profile.tier and profile.tier.get("id")
        else None,
    }


def _owned_profile(tid: str, uid: str) -> Profile:
    profile = store.get(tid, uid) if uid.startswith("u_") and len(uid) <= 40 else None
    if profile is None:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    return profile


def set_subscriptions(actor: Principal, uid: str, channels_off: list[str], now: datetime) -> dict[str, Any]:
    """Replace the opt-outs of a person of the caller's tenant. Anyone else, another tenant's person
    included, is 404 PARTICIPANT_NOT_FOUND with nothing written: the opt-out item would sit in the
    caller's tenant under an id it never had."""
    _owned_profile(actor.tid, uid)
    return messages.set_subscriptions(actor, uid, channels_off, now)


def detail(actor: Principal, uid: str) -> dict[str, Any]:
    profile = _owned_profile(actor.tid, uid)
    out = view(profile)
    out["campaign_ids"] = sorted(profile.campaign_ids)
    out["tag_details"] = [
        {"tag": t.tag, "source": t.source, "added_at": t.added_at} for t in store.profile_tags(actor.tid, uid)
    ]
    out["unsubscribed"] = messages.unsubscribed(actor.tid, uid)
    # Masked like the rest of the profile for a role without `pii:unmask`: the texts name the person too.
    clear = messages.sees_clear(actor)
    out["messages"] = messages.recent_for(actor.tid, uid, clear=clear, known=() if clear else _known(profile))
    return out


def _known(profile: Profile) -> list[tuple[str, str]]:
    """The person's values with their masked forms, for masking messages older than their stored masked text."""
    reach = _contact(profile)
    pairs = [(profile.nickname or "", mask_name(profile.nickname or ""))]
    if reach.get("phone"):
        pairs.append((reach["phone"], mask_phone(reach["phone"])))
    if reach.get("email"):
        pairs.append((reach["email"], _mask_email(reach["email"])))
    return [(value, shown) for value, shown in pairs if value]


def search(
    actor: Principal, *, code: str | None, tag: str | None, segment: str | None, limit: int, cursor: str | None,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Profiles by invite code, by tag, or by segment expression (or saved segment id), masked."""
    limit = max(1, min(limit, PAGE_LIMIT))
    if code:
        participant = identity.by_code(code) if len(code) <= 16 else None
        if participant is None or participant.tid != actor.tid or not participant.person:
            return {"items": [], "next_cursor": None, "evaluated": 0}
        found = store.get(actor.tid, participant.person)
        return {"items": [view(found)] if found else [], "next_cursor": None, "evaluated": 1}
    if tag:
        uids, next_cursor = store.tagged(actor.tid, tag, limit, cursor)
        items = sorted(store.get_many(actor.tid, uids), key=lambda p: uids.index(p.uid))
        return {"items": [view(p) for p in items], "next_cursor": next_cursor, "evaluated": len(items)}
    expression = _segment_expression(actor.tid, segment) if segment else None
    expr = parse_expression(expression, field="segment") if expression else None
    matched: list[Profile] = []
    evaluated = 0
    after_match: ProfilePosition | None = None  # resumes after the last profile returned
    after_all: ProfilePosition | None = None  # resumes after the last profile evaluated
    for profile, resume in store.walk(actor.tid, cursor, EVALUATE_PER_REQUEST, PAGE_LIMIT):
        if expr is None or segments.evaluate(expr, domain.segment_view(profile), now):
            if len(matched) == limit:  # one more match exists: the page is full and there is a next
                return _page(matched, after_match, evaluated)
            matched.append(profile)
            after_match = resume
        evaluated += 1
        after_all = resume
    # The walk ended: at the last profile (no next page), or on its budget (resume where it stopped).
    return _page(matched, after_all if evaluated >= EVALUATE_PER_REQUEST else None, evaluated)


def _page(profiles: list[Profile], resume: ProfilePosition | None, evaluated: int) -> dict[str, Any]:
    return {"items": [view(p) for p in profiles], "next_cursor": store.walk_cursor(resume) if resume else None,
            "evaluated": evaluated}  # fmt: skip


def _segment_expression(tid: str, segment: str) -> str:
    """A saved segment's id (`seg_...`) or an expression written in the query."""
    if segment.startswith("seg_") and " " not in segment:
        # No saved id is that long, and one this long would not fit in a key: not found, never looked up.
        item = store.get_segment(tid, segment) if len(segment) <= MAX_SEGMENT_ID else None
        if item is None:
            raise NotFound("no such segment", code=Code.SEGMENT_NOT_FOUND)
        return item.expression
    return segment


def preview(actor: Principal, expression: str, now: datetime) -> dict[str, Any]:
    expr = parse_expression(expression)
    count = evaluated = 0
    sample: list[dict[str, Any]] = []
    # One more than the limit is read, so that `truncated` means there was more.
    for profile, _ in store.walk(actor.tid, None, PREVIEW_LIMIT + 1, PAGE_LIMIT):
        if evaluated == PREVIEW_LIMIT:
            return {"count": count, "evaluated": evaluated, "truncated": True, "sample": sample}
        evaluated += 1
        if segments.evaluate(expr, domain.segment_view(profile), now):
            count += 1
            if len(sample) < 10:
                sample.append(view(profile))
    return {"count": count, "evaluated": evaluated, "truncated": False, "sample": sample}


# ---- tags ----------------------------------------------------------------------------------


def _tag_view(rule: TagRule) -> dict[str, Any]:
    return {"name": rule.name, "kind": rule.kind, "description": rule.description, "rule": rule.rule,
            "builtin": rule.builtin, "enabled": rule.enabled}  # fmt: skip


def list_tags(actor: Principal) -> dict[str, Any]:
    return {"items": [_tag_view(r) for r in domain.merge_rules(store.tag_definitions(actor.tid))]}


def create_tag(actor: Principal, request: domain.TagCreate, now: datetime) -> dict[str, Any]:
    if request.name in domain.BUILTIN_NAMES or request.name.startswith(domain.SOURCE_TAG_PREFIX):
        raise Conflict("that name belongs to a built-in tag", code=Code.TAG_EXISTS)
    if request.rule is not None:
        parse_expression(request.rule, field="rule", for_tags=True)
    if request.rule is None and request.kind != "custom":
        raise ValidationFailed("only a custom tag may be set by hand; give a rule", code=Code.TAG_RULE_REQUIRED)
    defined = store.tag_definitions(actor.tid)
    if len(defined) >= domain.MAX_TENANT_TAG_RULES + len(domain.BUILTIN_TAGS):
        raise Conflict("too many tags for this tenant", code=Code.TOO_MANY_TAGS)
    rule = TagRule(request.name, request.kind, request.rule, request.description)
    if not store.put_tag_definition(actor.tid, rule, iso(now), iso(now), new=True):
        raise Conflict("a tag with that name exists", code=Code.TAG_EXISTS)
    audit.record(actor.tid, actor.email, "tag.create", request.name, {"rule": request.rule}, now)
    out = _tag_view(rule)
    if rule.rule:
        out["reevaluated"] = reevaluate(actor.tid, now)
    return out


def _defined(tid: str, name: str) -> TagRule:
    found = domain.merge_rules(store.tag_definitions(tid))
    for rule in found:
        if rule.name == name:
            return rule
    raise NotFound("no such tag", code=Code.TAG_NOT_FOUND)


def update_tag(actor: Principal, name: str, request: domain.TagUpdate, now: datetime) -> dict[str, Any]:
    rule = _defined(actor.tid, name)
    if rule.builtin and (request.rule is not None or request.description is not None):
        raise Conflict("a built-in tag can only be switched on or off", code=Code.BUILTIN_TAG)
    if request.rule is not None:
        if rule.rule is None:
            raise Conflict("a manual tag cannot get a rule; create an auto tag", code=Code.TAG_IS_MANUAL)
        parse_expression(request.rule, field="rule", for_tags=True)
    changed = TagRule(
        name, rule.kind, request.rule if request.rule is not None else rule.rule,
        request.description if request.description is not None else rule.description,
        enabled=rule.enabled if request.enabled is None else request.enabled,
    )  # fmt: skip
    created = store.tag_definition_created(actor.tid, name) or iso(now)
    store.put_tag_definition(actor.tid, changed, created, iso(now), new=False)
    audit.record(actor.tid, actor.email, "tag.update", name, request.model_dump(exclude_none=True), now)
    out = _tag_view(replace(rule, enabled=changed.enabled) if rule.builtin else changed)
    if rule.builtin or rule.rule is not None:
        out["reevaluated"] = reevaluate(actor.tid, now)
    return out


def delete_tag(actor: Principal, name: str, now: datetime) -> None:
    rule = _defined(actor.tid, name)
    if rule.builtin:
        raise Conflict("a built-in tag can only be switched off", code=Code.BUILTIN_TAG)
    store.delete_tag_definition(actor.tid, name)
    # Take it off everyone who has it (auto tags go as their rule is gone; manual ones by hand).
    removed = 0
    rules = domain.merge_rules(store.tag_definitions(actor.tid))

    def untag(profile: Profile) -> None:
        profile.manual_tags.pop(name, None)

    cursor: str | None = None
    while True:
        uids, cursor = store.tagged(actor.tid, name, PAGE_LIMIT, cursor)
        for uid in uids:
            refresh(actor.tid, uid, [], now, rules=rules, edit=untag, create=False)
            removed += 1
        if cursor is None:
            break
    audit.record(actor.tid, actor.email, "tag.delete", name, {"profiles": removed}, now)


def assign_tag(actor: Principal, name: str, request: domain.TagAssign, now: datetime) -> dict[str, Any]:
    rule = _defined(actor.tid, name)
    if rule.rule is not None or rule.builtin:
        raise Conflict("an auto tag follows its rule; it is not set by hand", code=Code.TAG_IS_AUTOMATIC)
    changed, missing = 0, []
    rules = domain.merge_rules(store.tag_definitions(actor.tid))  # read once for the whole batch
    for uid in dict.fromkeys(request.uids):
        if not uid.startswith("u_") or set_manual_tag(actor.tid, uid, name, not request.remove, now, rules) is None:
            missing.append(uid)
        else:
            changed += 1
    audit.record(actor.tid, actor.email, "tag.remove" if request.remove else "tag.assign", name,
                 {"profiles": changed}, now)  # fmt: skip
    return {"changed": changed, "missing": missing}


def set_manual_tag(
    tid: str, uid: str, tag: str, add: bool, now: datetime, rules: list[TagRule] | None = None
) -> Profile | None:
    """Add or remove a hand-set tag (an operator's, or an automation's); None if there is no such profile."""

    def edit(profile: Profile) -> None:
        if add:
            profile.manual_tags.setdefault(tag, iso(now))
        else:
            profile.manual_tags.pop(tag, None)

    return refresh(tid, uid, [], now, rules=rules, edit=edit, create=False)


def manual_tag_defined(tid: str, tag: str) -> bool:
    rules = store.tag_definitions(tid)
    return tag in rules and rules[tag].rule is None and tag not in domain.BUILTIN_NAMES


def reevaluate(tid: str, now: datetime) -> dict[str, Any]:
    """Re-run the tenant's auto-tag rules over its profiles after a rule changed (bounded)."""
    rules = domain.merge_rules(store.tag_definitions(tid))
    done = 0
    for profile, _ in store.walk(tid, None, REEVALUATE_LIMIT + 1, PAGE_LIMIT):
        if done == REEVALUATE_LIMIT:
            return {"profiles": done, "complete": False}
        _, added, removed = domain.auto_tags(profile, rules, lambda t, v: holds(t, v, now), iso(now))
        if added or removed:
            refresh(tid, profile.uid, [], now, rules=rules, create=False)
        done += 1
    return {"profiles": done, "complete": True}


# ---- saved segments ------------------------------------------------------------------------


def _segment_view(segment: SegmentRecord) -> dict[str, Any]:
    return {"id": segment.sid, "name": segment.name, "expression": segment.expression,
            "created_at": segment.created_at, "updated_at": segment.updated_at}  # fmt: skip


def list_segments(actor: Principal) -> dict[str, Any]:
    return {"items": [_segment_view(s) for s in sorted(store.segments(actor.tid), key=lambda s: s.created_at)]}


def create_segment(actor: Principal, request: domain.SegmentCreate, now: datetime) -> dict[str, Any]:
    parse_expression(request.expression)
    if len(store.segments(actor.tid)) >= MAX_SEGMENTS:
        raise Conflict(f"at most {MAX_SEGMENTS} saved segments", code=Code.TOO_MANY_SEGMENTS)
    sid = new_id("seg")
    segment = SegmentRecord(
        tid=actor.tid, sid=sid, name=request.name, expression=request.expression, created_at=iso(now),
        updated_at=iso(now),
    )  # fmt: skip
    store.put_segment(segment)
    audit.record(actor.tid, actor.email, "segment.create", sid, {"expression": request.expression}, now)
    return _segment_view(segment)


def _segment(tid: str, sid: str) -> SegmentRecord:
    segment = store.get_segment(tid, sid)
    if segment is None:
        raise NotFound("no such segment", code=Code.SEGMENT_NOT_FOUND)
    return segment


def update_segment(actor: Principal, sid: str, request: domain.SegmentUpdate, now: datetime) -> dict[str, Any]:
    segment = _segment(actor.tid, sid)
    if request.expression is not None:
        parse_expression(request.expression)
        segment = replace(segment, expression=request.expression)
    if request.name is not None:
        segment = replace(segment, name=request.name)
    segment = replace(segment, updated_at=iso(now))
    store.put_segment(segment)
    audit.record(actor.tid, actor.email, "segment.update", sid, request.model_dump(exclude_none=True), now)
    return _segment_view(segment)


def delete_segment(actor: Principal, sid: str, now: datetime) -> None:
    _segment(actor.tid, sid)
    store.delete_segment(actor.tid, sid)
    audit.record(actor.tid, actor.email, "segment.delete", sid, {}, now)
