"""Automation: rules `trigger -> conditions -> actions`, fired from the stream and from schedules.

Every run of a rule has a deterministic id (rule, occurrence, person), and each action derives
its own key from it: a message's outbox id, a reward's rule, a tag that is already there. So a
redelivered stream batch, or a schedule that finds the same inactive person every minute of a
day, acts once. Conditions are evaluated when the rule fires; a delayed run keeps its verdict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from chalicelib.accounts import audit, tenants, totp
from chalicelib.audience import profiles
from chalicelib.audience.rules import automations as domain
from chalicelib.audience.rules import segments
from chalicelib.audience.rules.automations import AutomationCreate, AutomationUpdate, Firing
from chalicelib.audience.rules.profiles import Profile, segment_view
from chalicelib.audience.rules.records import AutomationJobRecord, AutomationRecord
from chalicelib.audience.store import automations as store
from chalicelib.audience.store import profiles as audience_store
from chalicelib.campaigns import lifecycle
from chalicelib.core.clock import iso, parse_iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.core.validation import validation_error
from chalicelib.messaging import messages, webhooks
from chalicelib.messaging.rules import egress as egress_rules
from chalicelib.messaging.rules.messages import BUILTIN_TEMPLATES, Recipient
from chalicelib.modes.group_buy import rules as group_rules
from chalicelib.modes.group_buy import service as group_buy
from chalicelib.referral import identity, links, rewards
from chalicelib.referral.rules.rewards import grant_of
from chalicelib.table.changes import Change

MAX_JOBS_PER_RUN = 200
MAX_JOB_ATTEMPTS = 8
# The inactivity sweep looks this many days behind the cut-off, so a schedule that missed a day catches up.
IDLE_LOOKBACK_DAYS = 2


# ---- rules --------------------------------------------------------------------------------


def catalog() -> dict[str, list[str]]:
    """What a rule may name, so the console offers exactly what the API accepts."""
    return {
        "event_triggers": list(domain.EVENT_TRIGGERS),
        "scheduled_triggers": list(domain.SCHEDULED_TRIGGERS),
        "actions": list(domain.ACTION_TYPES),
        "channels": list(domain.PERSON_CHANNELS),
        "templates": list(BUILTIN_TEMPLATES),
    }


def _view(rule: AutomationRecord) -> dict[str, Any]:
    return {
        "id": rule.aid, "name": rule.name, "enabled": rule.enabled, "trigger": rule.trigger,
        "conditions": rule.conditions, "delay_minutes": rule.delay_minutes, "actions": rule.actions,
        "version": rule.version, "created_at": rule.created_at, "updated_at": rule.updated_at,
    }  # fmt: skip


def _check(tid: str, spec: AutomationCreate) -> None:
    """Everything a rule refers to must exist and be usable now, so it never fails when it fires."""
    if spec.conditions:
        profiles.parse_expression(spec.conditions, field="conditions")
    if spec.trigger.campaign_id:
        lifecycle.owned(tid, spec.trigger.campaign_id)
    for i, action in enumerate(spec.actions):
        where = f"actions[{i}]"
        if isinstance(action, domain.SendMessage):
            messages.check_template(action.template, field=f"{where}.template")
            messages.check_channel(tid, action.channel)
        elif isinstance(action, domain.AddTag | domain.RemoveTag):
            if not profiles.manual_tag_defined(tid, action.tag):
                raise ValidationFailed(
                    f"{where}.tag: create the custom tag {action.tag!r} first (auto tags follow their rules)",
                    code=Code.UNKNOWN_TAG,
                )
        elif isinstance(action, domain.CallWebhook):
            webhooks.check_url(action.url, get_settings().stage)


def list_rules(actor: Principal) -> dict[str, Any]:
    return {"items": [_view(r) for r in sorted(store.list_rules(actor.tid), key=lambda r: r.created_at)]}


def _owned(tid: str, aid: str) -> AutomationRecord:
    rule = store.get(tid, aid) if aid.startswith("aut_") else None
    if rule is None:
        raise NotFound("no such automation", code=Code.AUTOMATION_NOT_FOUND)
    return rule


def get_rule(actor: Principal, aid: str) -> dict[str, Any]:
    return _view(_owned(actor.tid, aid))


def _audited(rule: AutomationRecord) -> dict[str, Any]:
    """The whole rule for the audit trail: a reward's value, a template, a webhook's destination."""
    return {
        "name": rule.name, "enabled": rule.enabled, "trigger": rule.trigger, "conditions": rule.conditions,
        "delay_minutes": rule.delay_minutes,
        "actions": egress_rules.audit_actions(rule.actions, webhooks.audit_fingerprint),
    }  # fmt: skip


def _authorised(
    actor: Principal, spec: AutomationCreate, before: AutomationRecord | None, totp_code: str | None, now: datetime
) -> bool:
    """Validate `spec`; when it sends personal data somewhere new, only for an owner with a fresh TOTP step-up
    (role first, so an operator learns nothing about the URL; the step-up last, so a typo spends no code).
    True when the rule sends data out anew."""
    dumped = spec.model_dump(mode="json", exclude_none=True)
    changes = domain.egress_changes(_view(before) if before is not None else None, dumped)
    if changes:
        egress_rules.check_role(actor, changes)
    _check(actor.tid, spec)
    if changes:
        totp.require_step_up(actor, totp_code, now)
    return bool(changes)


def create(actor: Principal, spec: AutomationCreate, now: datetime, totp_code: str | None = None) -> dict[str, Any]:
    sends_out = _authorised(actor, spec, None, totp_code, now)
    if len(store.list_rules(actor.tid)) >= domain.MAX_AUTOMATIONS:
        raise Conflict(f"at most {domain.MAX_AUTOMATIONS} automations per tenant", code=Code.TOO_MANY_AUTOMATIONS)
    aid = new_id("aut")
    dumped = spec.model_dump(mode="json", exclude_none=True)
    rule = AutomationRecord(
        tid=actor.tid, aid=aid, name=spec.name, enabled=spec.enabled, trigger=dumped["trigger"],
        conditions=spec.conditions, delay_minutes=spec.delay_minutes, actions=dumped["actions"], version=1,
        created_at=iso(now), updated_at=iso(now),
    )  # fmt: skip
    store.put(rule, None)
    details = {"trigger": rule.trigger["type"], "rule": _audited(rule), "new_egress": sends_out}
    audit.record(actor.tid, actor.email, "automation.create", aid, details, now)
    return _view(rule)


def update(
    actor: Principal, aid: str, patch: AutomationUpdate, now: datetime, totp_code: str | None = None
) -> dict[str, Any]:
    rule = _owned(actor.tid, aid)
    current = _view(rule)
    changes = patch.model_dump(mode="json", exclude_unset=True)
    merged = {k: current[k] for k in ("name", "enabled", "trigger", "conditions", "delay_minutes", "actions")}
    merged.update(changes)
    try:
        spec = AutomationCreate.model_validate({k: v for k, v in merged.items() if v is not None})
    except ValidationError as exc:
        raise validation_error(exc) from None
    sends_out = _authorised(actor, spec, rule, totp_code, now)
    dumped = spec.model_dump(mode="json", exclude_none=True)
    changed = replace(
        rule, name=spec.name, enabled=spec.enabled, trigger=dumped["trigger"], conditions=spec.conditions,
        delay_minutes=spec.delay_minutes, actions=dumped["actions"], version=rule.version + 1, updated_at=iso(now),
    )  # fmt: skip
    if not store.put(changed, rule.version):
        raise Conflict("the automation changed meanwhile; reload and retry", code=Code.VERSION_CONFLICT)
    details = {"fields": sorted(changes), "rule": _audited(changed), "new_egress": sends_out}
    audit.record(actor.tid, actor.email, "automation.update", aid, details, now)
    return _view(changed)


def delete(actor: Principal, aid: str, now: datetime) -> None:
    _owned(actor.tid, aid)
    store.delete(actor.tid, aid)
    audit.record(actor.tid, actor.email, "automation.delete", aid, {}, now)


# ---- firing -------------------------------------------------------------------------------


def _conditions_hold(item: AutomationRecord, profile: Profile, now: datetime) -> bool:
    if not item.conditions:
        return True
    try:
        return profiles.holds(item.conditions, segment_view(profile), now)
    except segments.SegmentError:  # validated on save; a rule stored by an older parser must not break the stream
        logger.warning("automation conditions do not parse", automation_id=item.aid)
        return False


def fire(item: AutomationRecord, profile: Profile, occurrence: str, context: dict[str, Any], now: datetime) -> bool:
    """Run (or queue, with a delay) one rule for one person; False when its conditions do not hold."""
    if not _conditions_hold(item, profile, now):
        return False
    run_id = domain.run_key(item.aid, occurrence, profile.uid)
    if item.delay_minutes == 0:
        execute(item, profile, run_id, context, now)
        return True
    due = now + timedelta(minutes=item.delay_minutes)
    job = AutomationJobRecord(
        tid=item.tid, aid=item.aid, uid=profile.uid, run_id=run_id, occurrence=occurrence, context=context,
        attempts=0, created_at=iso(now), due=iso(due),
    )  # fmt: skip
    store.add_job(job)
    return True


def _variables(item: AutomationRecord, profile: Profile, context: dict[str, Any]) -> dict[str, str]:
    cid, code = context.get("cid"), context.get("code")
    title = ""
    if cid:
        rec = lifecycle.find(str(cid))
        title = rec.spec.title if rec else ""
    part = profile.parts.get(str(code)) if code else None
    link = links.public_url(f"/v1/i/{code}") if code else ""
    data = context.get("data") or {}
    return {
        "nickname": profile.nickname or "",
        "campaign": title,
        "progress": str(part.get("invites", 0)) if part else "",
        "reward": str(data.get("reward", "")),
        "link": link,
    }


def _latest_part(profile: Profile, cid: str | None) -> str | None:
    """The participant an automation's reward goes to: the firing's, else the latest join (in `cid` if given)."""
    parts = [(p["joined_at"], code) for code, p in profile.parts.items() if cid is None or p["cid"] == cid]
    return max(parts)[1] if parts else None


def execute(item: AutomationRecord, profile: Profile, run_id: str, context: dict[str, Any], now: datetime) -> None:
    """Do a run's actions; each is idempotent on its own key, so a repeated run repeats nothing."""
    reach = profiles.contact(profile)
    recipient = Recipient(
        uid=profile.uid, nickname=profile.nickname, phone=reach.get("phone"), email=reach.get("email"),
        external_id=reach.get("external_id"), locale=None,
    )  # fmt: skip
    variables = _variables(item, profile, context)
    for i, action in enumerate(item.actions):
        key = f"{run_id}|{i}"
        kind = action["type"]
        if kind == "send_message":
            messages.enqueue(
                item.tid, profile.uid, action["channel"], action["template"], variables, message_key=key, due=now,
                recipient=recipient, automation_id=item.aid,
            )  # fmt: skip
        elif kind == "call_webhook":
            messages.enqueue(
                item.tid, profile.uid, "webhook", messages.WEBHOOK_TEMPLATE, variables, message_key=key, due=now,
                recipient=recipient, automation_id=item.aid, endpoint=action["url"],
            )  # fmt: skip
        elif kind in ("add_tag", "remove_tag"):
            profiles.set_manual_tag(item.tid, profile.uid, action["tag"], kind == "add_tag", now)
        elif kind == "issue_reward":
            code = context.get("code") or _latest_part(profile, context.get("cid"))
            if code is None:
                logger.info("automation reward has no participant", automation_id=item.aid, uid=profile.uid)
                continue
            cid = profile.parts[str(code)]["cid"] if str(code) in profile.parts else context.get("cid")
            rec = lifecycle.find(str(cid)) if cid else None
            if rec is None:
                continue
            rewards.issue(rec, str(code), grant_of(domain.reward_rule(item.aid), action["reward"]), now)


def _rules(tid: str, cache: dict[str, list[AutomationRecord]]) -> list[AutomationRecord]:
    if tid not in cache:
        cache[tid] = [i for i in store.list_rules(tid, consistent=False) if i.enabled]
    return cache[tid]


def _context(firing: Firing, code: str | None) -> dict[str, Any]:
    return {"cid": firing.cid, "code": code, "gid": firing.gid, "type": firing.type, "data": firing.data}


def on_batch(batch: list[Change]) -> set[str]:
    """Stream handler: the triggers in a batch, matched to each tenant's enabled rules."""
    now = utcnow()
    fired: list[tuple[Firing, Change]] = [
        (f, c) for c in batch for f in domain.firings(c.entity, c.event, c.old, c.new)
    ]
    if not fired:
        return set()
    cache: dict[str, list[AutomationRecord]] = {}
    wanted = [(f, c) for f, c in fired if any(domain.matches(r.trigger, f) for r in _rules(f.tid, cache))]
    failed: set[str] = set()
    for firing, change in wanted:
        try:
            if firing.uid is not None:
                _fire_person(firing, _rules(firing.tid, cache), now)
                continue
            codes = [firing.code] if firing.code else _group_codes(firing.gid)
            persons = identity.persons({c for c in codes if c})
            for code in codes:
                if code not in persons:
                    continue
                tid, uid = persons[code]
                profile = audience_store.get(tid, uid)
                if profile is None:
                    continue
                for rule in _rules(firing.tid, cache):
                    if domain.matches(rule.trigger, firing):
                        fire(rule, profile, firing.key, _context(firing, code), now)
        except Exception:
            logger.exception("automation failed", trigger=firing.type, key=firing.key)
            failed.add(change.sequence)
    return failed


def _fire_person(firing: Firing, rules: list[AutomationRecord], now: datetime) -> None:
    """A fact about the person (a tier change): their profile, no participant in particular."""
    profile = audience_store.get(firing.tid, str(firing.uid))
    if profile is None:
        return
    for rule in rules:
        if domain.matches(rule.trigger, firing):
            fire(rule, profile, firing.key, {**_context(firing, None), "cid": None}, now)


def _group_codes(gid: str | None) -> list[str]:
    group = group_buy.group(gid) if gid else None
    return [m.code for m in group.roster] if group else []


# ---- schedules ----------------------------------------------------------------------------


def run_due(now: datetime | None = None) -> dict[str, int]:
    """The schedule: delayed runs now due, then the scheduled triggers (inactivity, birthdays, deadlines)."""
    moment = now or utcnow()
    counts = {"runs": 0, "fired": 0, "errors": 0}
    _run_jobs(moment, counts)
    rules = [r for r in store.scheduled() if r.enabled]
    by_type: dict[str, list[AutomationRecord]] = defaultdict(list)
    for rule in rules:
        by_type[str(rule.trigger["type"])].append(rule)
    for rule in by_type["inactive"]:
        _guard(counts, _inactive, rule, moment)
    for rule in by_type["birthday"]:
        _guard(counts, _birthday, rule, moment)
    if by_type["group.deadline"]:
        _guard(counts, _deadlines, by_type["group.deadline"], moment)
    return counts


def _guard(counts: dict[str, int], step: Any, arg: Any, now: datetime) -> None:
    """One rule's sweep failing (a storage hiccup) must not stop the others."""
    try:
        counts["fired"] += step(arg, now)
    except Exception:
        logger.exception("scheduled automation failed")
        counts["errors"] += 1


def on_churn_risk(tid: str, crossed: list[tuple[Profile, dict[str, Any]]], now: datetime) -> int:
    """The daily churn run found people who reached the tenant's alert level: fire the tenant's enabled
    `churn_risk` rules for each, once per quiet spell (the run key makes a repeated call act once)."""
    rules = [r for r in store.list_rules(tid, consistent=False) if r.enabled and r.trigger.get("type") == "churn_risk"]
    fired = 0
    for profile, data in crossed if rules else ():
        occurrence = domain.churn_occurrence(profile.last_seen)
        context = {"cid": None, "code": None, "type": "churn_risk", "data": data}
        for rule in rules:
            fired += fire(rule, profile, occurrence, context, now)
    return fired


def _run_jobs(now: datetime, counts: dict[str, int]) -> None:
    budget = MAX_JOBS_PER_RUN
    for shard in range(store.JOB_SHARDS):
        for job in store.due_jobs(shard, iso(now), budget):
            budget -= 1
            try:
                item = store.get(job.tid, job.aid)
                profile = audience_store.get(job.tid, job.uid)
                # A rule deleted or switched off meanwhile does not act; the person may have erased their data.
                if item is not None and item.enabled and profile is not None:
                    execute(item, profile, job.run_id, dict(job.context), now)
                    counts["runs"] += 1
                store.finish_job(job)
            except Exception:
                logger.exception("delayed automation run failed", automation_id=job.aid, run_id=job.run_id)
                counts["errors"] += 1
                if job.attempts + 1 >= MAX_JOB_ATTEMPTS:
                    store.finish_job(job)  # the log above keeps the trace; messages have their own dead letters
                else:
                    store.retry_job(job, iso(now + timedelta(minutes=2**job.attempts)))
        if budget <= 0:
            return


def _inactive(rule: AutomationRecord, now: datetime) -> int:
    """People last seen `days` ago or earlier (within the look-back), each once per quiet spell."""
    cutoff = now - timedelta(days=int(rule.trigger["days"]))
    fired = 0
    for back in range(IDLE_LOOKBACK_DAYS, -1, -1):
        day = (cutoff - timedelta(days=back)).strftime("%Y-%m-%d")
        for profile in audience_store.idle(rule.tid, day, iso(cutoff)):
            # The occurrence is the spell: coming back and going quiet again is a new one.
            occurrence = f"inactive|{profile.last_seen}"
            fired += fire(rule, profile, occurrence, {"cid": None, "code": None, "type": "inactive"}, now)
    return fired


def _birthday(rule: AutomationRecord, now: datetime) -> int:
    local = now.astimezone(ZoneInfo(tenants.timezone(rule.tid)))
    fired = 0
    uids = [uid for tid, uid in audience_store.birthdays(local.strftime("%m-%d")) if tid == rule.tid]
    for profile in audience_store.get_many(rule.tid, uids):
        occurrence = f"birthday|{local.year}"
        fired += fire(rule, profile, occurrence, {"cid": None, "code": None, "type": "birthday"}, now)
    return fired


def _deadlines(rules: list[AutomationRecord], now: datetime) -> int:
    """Members of open groups whose deadline is within each rule's lead time, once per group and person."""
    horizon = now + timedelta(hours=max(int(r.trigger.get("hours_before") or 1) for r in rules))
    days = sorted({now.strftime("%Y-%m-%d"), horizon.strftime("%Y-%m-%d")})
    fired = 0
    for day in days:
        for shard in range(group_rules.DEADLINE_SHARDS):
            for group in group_buy.closing(day, shard, iso(horizon)):
                deadline = parse_iso(group.deadline)
                if group.status != "open" or deadline <= now:
                    continue
                firing = Firing("group.deadline", group.tid, group.cid, f"deadline|{group.gid}", gid=group.gid)
                for rule in rules:
                    lead = timedelta(hours=int(rule.trigger.get("hours_before") or 1))
                    if rule.tid != group.tid or deadline - now > lead or not domain.matches(rule.trigger, firing):
                        continue
                    fired += _fire_members(rule, group.roster, firing, now)
    return fired


def _fire_members(rule: AutomationRecord, roster: list[Any], firing: Firing, now: datetime) -> int:
    persons = identity.persons({m.code for m in roster})
    fired = 0
    for member in roster:
        if member.code not in persons:
            continue
        tid, uid = persons[member.code]
        profile = audience_store.get(tid, uid)
        if profile is not None:
            fired += fire(rule, profile, firing.key, _context(firing, member.code), now)
    return fired
