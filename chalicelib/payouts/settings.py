"""The tenant's payout policy: read by finance, set by the owner with a TOTP step-up, every change audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import DistributionCampaign
from chalicelib.core.clock import iso
from chalicelib.core.rbac import Principal
from chalicelib.payouts.rules.policy import PayoutSettings
from chalicelib.payouts.store import settings as store


def effective(tid: str, rec: CampaignRecord | None = None) -> PayoutSettings:
    """The tenant's settings; without any, the defaults with the campaign's `min_withdraw_fen` as the minimum."""
    stored = store.get(tid)
    if stored is not None:
        return PayoutSettings.model_validate_json(stored.document)
    if rec is not None and isinstance(rec.spec, DistributionCampaign):
        return PayoutSettings(min_withdraw_fen=rec.spec.rules.min_withdraw_fen)
    return PayoutSettings()


def read(actor: Principal) -> dict[str, Any]:
    stored = store.get(actor.tid)
    current = PayoutSettings.model_validate_json(stored.document) if stored else PayoutSettings()
    return {
        "settings": current.model_dump(mode="json"),
        "configured": stored is not None,
        "version": stored.version if stored else 0,
        "updated_at": stored.updated_at if stored else None,
        "updated_by": stored.updated_by if stored else None,
    }


def update(actor: Principal, body: PayoutSettings, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """Replace the policy whole (checked before the step-up is asked for, so a typo spends no code)."""
    totp.require_step_up(actor, totp_code, now)
    stored = store.get(actor.tid)
    before = PayoutSettings.model_validate_json(stored.document) if stored else PayoutSettings()
    after = body.model_dump(mode="json")
    changed = sorted(k for k, v in after.items() if before.model_dump(mode="json")[k] != v)
    store.put(actor.tid, body.model_dump_json(), stored.version if stored else None, iso(now), actor.email)
    audit.record(actor.tid, actor.email, "payouts.settings", "payouts", {"changed": changed, "settings": after}, now)
    return read(actor)
