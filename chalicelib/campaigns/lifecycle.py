"""Campaign lifecycle: draft, edit, publish, pause, end, and the participant-facing view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from chalicelib.accounts import audit, totp
from chalicelib.campaigns import compliance, store, templates
from chalicelib.campaigns.rules import spec as domain
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger, metrics
from chalicelib.core.rbac import Permission, Principal, Role, is_allowed
from chalicelib.core.validation import validation_error
from chalicelib.security import egress
from chalicelib.table.changes import Change
from chalicelib.table.idempotency import run_once
from chalicelib.table.images import CampaignImage

MAX_PAGE = 100


def _validated(document: dict[str, Any]) -> domain.CampaignSpec:
    try:
        return domain.parse_spec(document)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def view(rec: CampaignRecord, now: datetime) -> dict[str, Any]:
    status = domain.Status(rec.status)
    return {
        "campaign_id": rec.cid,
        "tenant_id": rec.tid,
        "status": rec.status,
        "phase": domain.phase(status, rec.spec.starts_at, rec.spec.ends_at, now),
        "version": rec.version,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "published_at": rec.published_at,
        "ended_at": rec.ended_at,
        "created_by": rec.created_by,
        **rec.document,
    }


def find(cid: str) -> CampaignRecord | None:
    """The campaign as stored, drafts included (stream handlers and schedules; landing pages read `live`)."""
    return store.get(cid)


def owned(tid: str, cid: str) -> CampaignRecord:
    """Tenant `tid`'s campaign; another tenant's is indistinguishable from a missing one (404)."""
    return store.owned(tid, cid)


def _owned(actor: Principal, cid: str) -> CampaignRecord:
    """Another tenant's campaign is indistinguishable from a missing one."""
    return store.owned(actor.tid, cid)


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


def _check_validation_url(
    actor: Principal, before: str | None, url: str | None, totp_code: str | None, now: datetime
) -> None:
    """A new reward validation URL sends participant ids and rewards to the merchant's server: like a webhook
    endpoint it is the owner's (`data:egress`), https to a public host (the egress guard), with a fresh TOTP
    step-up, checked once the request is otherwise valid (docs/rewards-veto.md)."""
    if url is None or url == before:
        return
    if not is_allowed(actor.role, Permission.DATA_EGRESS):
        raise Forbidden(
            "only an owner may send personal data somewhere new (validation_url)",
            code=Code.EGRESS_OWNER_ONLY,
            details={
                "permission": Permission.DATA_EGRESS.value,
                "role": actor.role.value,
                "changes": ["validation_url"],
            },
        )
    local = get_settings().stage in ("local", "test")
    parts = urlsplit(url)
    if not (parts.scheme == "https" and parts.hostname) and not (
        parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS and local
    ):
        raise ValidationFailed("validation_url must be https", code=Code.INVALID_URL)
    try:
        egress.check_url(url, allow_private=local)
    except egress.EgressRefused as exc:
        raise ValidationFailed(f"validation_url is not allowed: {exc}", code=Code.INVALID_URL) from None
    totp.require_step_up(actor, totp_code, now)


def create(
    actor: Principal,
    body: dict[str, Any],
    now: datetime,
    idempotency_key: str | None = None,
    totp_code: str | None = None,
) -> dict[str, Any]:
    # A body naming a template_id is expanded first; the idempotency fingerprint stays the body as sent.
    # A new campaign proves who joins with the merchant's signed assertion unless it says otherwise.
    spec = _validated({"identity": domain.NEW_CAMPAIGN_IDENTITY, **templates.expand(body, now)})
    _check_validation_url(actor, None, spec.validation_url, totp_code, now)

    def make() -> dict[str, Any]:
        stamp = iso(now)
        document = domain.spec_to_document(spec)
        rec = CampaignRecord(
            cid=new_id("cmp"),
            tid=actor.tid,
            mode=spec.mode,
            status=domain.Status.DRAFT.value,
            spec=domain.parse_spec(document),  # as the store will read it back
            document=document,
            version=1,
            created_at=stamp,
            updated_at=stamp,
            created_by=actor.email,
        )
        store.insert(rec)
        details = {"mode": rec.mode, "template_id": body.get("template_id")}
        audit.record(actor.tid, actor.email, "campaign.create", rec.cid, details, now)
        return view(rec, now)

    return run_once(f"campaign.create:{actor.tid}", idempotency_key, body, make)


def get(actor: Principal, cid: str, now: datetime) -> dict[str, Any]:
    return view(_owned(actor, cid), now)


def list_page(actor: Principal, now: datetime, *, limit: int, cursor: str | None, status: str | None) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE}",
            details={"errors": [{"field": "limit", "type": "range", "message": f"1..{MAX_PAGE}"}]},
        )
    if status is not None and status not in {s.value for s in domain.Status}:
        raise ValidationFailed(
            "status must be one of draft, active, paused, ended",
            details={"errors": [{"field": "status", "type": "enum", "message": "draft|active|paused|ended"}]},
        )
    page = store.list_for_tenant(actor.tid, limit=limit, cursor=cursor, status=status)
    return {"items": [view(rec, now) for rec in page.items], "next_cursor": page.cursor}


def patch(
    actor: Principal, cid: str, changes: dict[str, Any], now: datetime, totp_code: str | None = None
) -> dict[str, Any]:
    rec = _owned(actor, cid)
    domain.ensure_editable(domain.Status(rec.status))
    if "mode" in changes and changes["mode"] != rec.mode:
        raise ValidationFailed(
            "a campaign's mode cannot change; create a new campaign instead", code=Code.MODE_IMMUTABLE
        )
    spec = _validated(domain.merge_patch(rec.document, changes))
    _check_validation_url(actor, rec.spec.validation_url, spec.validation_url, totp_code, now)
    if rec.status != domain.Status.DRAFT.value:
        # A paused campaign stays resumable: its end cannot move into the past.
        domain.ensure_publishable(spec.ends_at, now)
    expected = rec.version
    rec.document = domain.spec_to_document(spec)
    rec.spec = domain.parse_spec(rec.document)  # as the store will read it back
    rec.version += 1
    rec.updated_at = iso(now)
    store.replace(rec, expected)
    details = {"fields": sorted(changes), "version": rec.version}
    audit.record(actor.tid, actor.email, "campaign.update", cid, details, now)
    return view(rec, now)


def delete(actor: Principal, cid: str, now: datetime | None = None) -> None:
    rec = _owned(actor, cid)
    domain.ensure_deletable(domain.Status(rec.status))
    store.delete(rec)
    audit.record(actor.tid, actor.email, "campaign.delete", cid, {"status": rec.status}, now or utcnow())


# Going live prepares what other slices draw on (the reward stock and budget counters). Those slices
# sit above campaigns and plug their step in at start (the entry points' wiring).
GoLiveStep = Callable[[CampaignRecord], None]
_go_live_steps: dict[str, GoLiveStep] = {}


def on_go_live(name: str, step: GoLiveStep) -> None:
    """Run `step` whenever a campaign goes live (publish or resume), before it is saved as active."""
    _go_live_steps[name] = step


def _go_live(rec: CampaignRecord) -> None:
    if not _go_live_steps:
        # Unwired, a campaign would go live without its stock and budget counters.
        raise RuntimeError("nothing prepares a campaign going live: the entry points' wiring did not run")
    for step in _go_live_steps.values():
        step(rec)


def transition(
    actor: Principal, cid: str, action: domain.Action, now: datetime, *, override_value_cap: bool = False
) -> dict[str, Any]:
    """Move a campaign through its lifecycle; going live (publish or resume) passes the compliance gate first."""
    rec = _owned(actor, cid)
    target = domain.next_status(domain.Status(rec.status), action)
    resumed_from_stop_loss = target is domain.Status.ACTIVE and rec.stop_loss_paused_at is not None
    if resumed_from_stop_loss:
        _ensure_owner(actor, "resume a campaign its budget stop-loss paused")
    if target is domain.Status.ACTIVE:
        domain.ensure_publishable(rec.spec.ends_at, now)
        compliance.enforce_at_publish(actor, rec, now, override_value_cap=override_value_cap)
        _go_live(rec)
        rec.published_at = rec.published_at or iso(now)
    if target is domain.Status.ENDED:
        rec.ended_at = iso(now)
    expected = rec.version
    rec.status = target.value
    rec.version += 1
    rec.updated_at = iso(now)
    details: dict[str, Any] = {"status": rec.status}
    if resumed_from_stop_loss:
        details["stop_loss_paused_at"], rec.stop_loss_paused_at = rec.stop_loss_paused_at, None
    store.replace(rec, expected)
    audit.record(actor.tid, actor.email, f"campaign.{action.value}", cid, details, now)
    return view(rec, now)


# --- budget stop-loss (docs/retention.md) ----------------------------------------------------------


def _ensure_owner(actor: Principal, what: str) -> None:
    """Money stopped by a stop-loss line flows again only on an owner's word."""
    if actor.role is not Role.OWNER:
        raise Forbidden(f"only an owner may {what}", code=Code.STOP_LOSS_OWNER_REQUIRED)


def stop_loss_pause(cid: str, details: dict[str, Any], now: datetime) -> bool:
    """Pause a live campaign because a stop-loss line was crossed (the system acts; audited). One an operator had
    paused already is marked so (only an owner resumes it then), audited as `campaign.stop_loss_mark`. False when
    there was nothing to stop (ended, deleted, or marked before)."""
    for _ in range(3):
        rec = store.get(cid)
        if rec is None or rec.stop_loss_paused_at is not None:
            return False
        if rec.status not in (domain.Status.ACTIVE.value, domain.Status.PAUSED.value):
            return False
        action = "campaign.pause" if rec.status == domain.Status.ACTIVE.value else "campaign.stop_loss_mark"
        expected = rec.version
        rec.status, rec.stop_loss_paused_at = domain.Status.PAUSED.value, iso(now)
        rec.version += 1
        rec.updated_at = iso(now)
        try:
            store.replace(rec, expected)
        except Conflict:
            continue  # edited meanwhile: read it again
        audit.record(rec.tid, audit.SYSTEM, action, cid, {"status": rec.status, **details}, now)
        return True
    raise Conflict("the campaign kept changing while pausing it", code=Code.CONCURRENT_UPDATE)


def _set_held(rec: CampaignRecord, channel: str, held: bool, now: datetime) -> bool:
    """Add or remove one held channel on the campaign item; False when it already was so."""
    for _ in range(3):
        if (channel in rec.held_channels) == held:
            return False
        expected = rec.version
        rec.held_channels = sorted({*rec.held_channels, channel} if held else set(rec.held_channels) - {channel})
        rec.version += 1
        rec.updated_at = iso(now)
        try:
            store.replace(rec, expected)
        except Conflict:
            fresh = store.get(rec.cid)
            if fresh is None:
                return False
            rec = fresh
            continue
        return True
    raise Conflict("the campaign kept changing while holding a channel", code=Code.CONCURRENT_UPDATE)


def hold_channel(cid: str, channel: str, details: dict[str, Any], now: datetime) -> bool:
    """Hold the rewards of participants who came through `channel` (a stop-loss line of that channel was crossed;
    the system acts; audited). False when it was held already or the campaign is gone."""
    rec = store.get(cid)
    if rec is None or not _set_held(rec, channel, True, now):
        return False
    audit.record(rec.tid, audit.SYSTEM, "campaign.channel_hold", cid, {"channel": channel, **details}, now)
    return True


def release_channel(actor: Principal, cid: str, channel: str, now: datetime) -> bool:
    """An owner lets a held channel's rewards flow again (the held ones are issued by the release schedule); audited.
    False when the channel was not held."""
    _ensure_owner(actor, "release a channel its budget stop-loss held")
    rec = _owned(actor, cid)
    if not _set_held(rec, channel, False, now):
        return False
    audit.record(actor.tid, actor.email, "campaign.channel_release", cid, {"channel": channel}, now)
    return True


def _identity_view(rec: CampaignRecord) -> dict[str, Any]:
    settings = rec.spec.identity
    view: dict[str, Any] = {"mode": settings.mode.value, "platform": settings.platform}
    if settings.mode is domain.IdentityMode.PLATFORM and settings.platform == "wechat":
        # Inside WeChat the page logs visitors in there and sets the share through the JS-SDK (docs/wechat.md).
        view["login_path"] = f"/v1/wechat/{rec.tid}/oauth/start?{urlencode({'campaign': rec.cid})}"
        view["jssdk_config_path"] = f"/v1/wechat/{rec.tid}/jssdk-config"
    return view


def public_view(cid: str, now: datetime) -> dict[str, Any]:
    """What a landing page may show: never drafts, never internal fields."""
    rec = store.get(cid)
    if rec is None or rec.status == domain.Status.DRAFT.value:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    spec = rec.spec
    result: dict[str, Any] = {
        "campaign_id": rec.cid,
        "mode": rec.mode,
        "title": spec.title,
        "description": spec.description,
        "share": domain.shown(spec.share),
        "rule_text": spec.rule_text,
        "starts_at": iso(spec.starts_at),
        "ends_at": iso(spec.ends_at),
        "timezone": spec.timezone,
        "status": rec.status,
        "phase": domain.phase(domain.Status(rec.status), spec.starts_at, spec.ends_at, now),
        "rules": domain.shown(spec.rules),
        # How the page must prove who joins (docs/identity.md): a merchant's assertion, a platform
        # login, or nothing (anonymous: Fission mints the identity).
        "identity": _identity_view(rec),
    }
    if isinstance(spec, domain.GroupBuyCampaign):
        # Auto-fill with virtual members must be disclosed to participants, never hidden, with its threshold.
        least = spec.rules.auto_fill_min_members
        result["auto_fill_disclosure"] = (
            f"Unfilled groups with at least {least} real member{'s' if least > 1 else ''} are completed with "
            "system members at the deadline or when the campaign ends."
            if spec.rules.auto_fill
            else None
        )
    return result


CLOSE_LOOKBACK_DAYS = 7


def close_ended(now: datetime) -> list[str]:
    """End every live campaign whose end time has passed.

    Found by key, not by scan: live campaigns sit in a bucket per end day, and the closer reads
    the last CLOSE_LOOKBACK_DAYS buckets, so a scheduler outage shorter than that loses nothing.
    """
    closed: list[str] = []
    until = iso(now)
    for back in range(CLOSE_LOOKBACK_DAYS, -1, -1):
        day = (now - timedelta(days=back)).strftime("%Y-%m-%d")
        for rec in store.ending_by(day, until):
            expected = rec.version
            rec.status = domain.Status.ENDED.value
            rec.ended_at = until
            rec.version += 1
            rec.updated_at = until
            try:
                store.replace(rec, expected)
            except Conflict:
                continue  # edited meanwhile; the next run sees the fresh version
            closed.append(rec.cid)
    return closed


def on_campaign_change(change: Change) -> None:
    """Lifecycle transitions become metrics and structured logs (dashboards and alarms)."""
    old, new = change.old_as(CampaignImage), change.new_as(CampaignImage)
    before, after = (old.status if old else None), (new.status if new else None)
    if before == after:
        return
    cid = (new.cid if new else None) or (old.cid if old else None)
    tid = (new.tid if new else None) or (old.tid if old else None)
    logger.info("campaign status changed", campaign_id=cid, tenant_id=tid, before=before, after=after)
    if after:
        metrics.add_metric(name=f"Campaign{str(after).capitalize()}", unit=MetricUnit.Count, value=1)


def upgrade_documents(*, dry_run: bool = False) -> store.Upgrade:
    """Rewrite the campaign documents stored as JSON text as maps (docs/operations.md); idempotent."""
    done = store.upgrade_documents(dry_run=dry_run)
    logger.info("campaign documents upgraded", found=done.found, rewritten=done.rewritten, dry_run=dry_run)
    return done
