"""Compliance for operators: the preview (findings and cost simulation) and the gate a publish passes through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit
from chalicelib.campaigns import store
from chalicelib.campaigns.rules import compliance, costs
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.rbac import Principal, Role
from chalicelib.platforms import credentials
from chalicelib.platforms.rules.credentials import WecomCredentials

OVERRIDE_ACTION = "compliance.override"


def platform_facts(tid: str) -> compliance.PlatformFacts:
    """What the tenant has connected, for the settings that need a platform (three small reads)."""
    found = {p: credentials.find_credentials(tid, p) for p in ("wecom", "wechat", "miniprogram")}
    wecom = found["wecom"]
    return compliance.PlatformFacts(
        connected=frozenset(p for p, c in found.items() if c is not None),
        wecom_staff=isinstance(wecom, WecomCredentials) and bool(wecom.staff_user_ids),
    )


def preview(actor: Principal, cid: str, request: compliance.PreviewRequest) -> dict[str, Any]:
    rec = store.owned(actor.tid, cid)
    # The checker and the simulation read the document as stored (they also judge documents the model refuses).
    findings = compliance.check(rec.document, platforms=platform_facts(rec.tid))
    order_fen = request.average_order_fen or costs.default_order_value(rec.document)
    return {
        "campaign_id": rec.cid,
        "findings": [f.to_dict() for f in findings],
        "blocking": bool(compliance.blocking(findings)),
        "simulation": {
            "k": request.k,
            "average_order_fen": order_fen,
            "max_generations": costs.MAX_GENERATIONS,
            "scenarios": costs.simulate(rec.document, request.participants, request.k, average_order_fen=order_fen),
        },
    }


def enforce_at_publish(actor: Principal, rec: CampaignRecord, now: datetime, *, override_value_cap: bool) -> None:
    """Refuse a publish with any blocking finding; the owner alone may override the reward value cap.

    The override is written to the audit chain before the campaign goes live, so a live campaign over the
    cap always has an entry saying who allowed it (a publish that then fails leaves a true, harmless entry).
    """
    if override_value_cap and actor.role is not Role.OWNER:
        raise Forbidden("only the owner can override the reward value cap", code=Code.OVERRIDE_NOT_ALLOWED)
    findings = compliance.check(rec.document, override_value_cap=override_value_cap, platforms=platform_facts(rec.tid))
    blocked = compliance.blocking(findings)
    if blocked:
        raise Conflict(
            f"the campaign breaks {len(blocked)} compliance rule(s); see the findings",
            code=Code.COMPLIANCE_BLOCKED,
            details={"findings": [f.to_dict() for f in blocked]},
        )
    overridden = [f.to_dict() for f in findings if f.code == compliance.REWARD_VALUE_CAP]
    if overridden:
        audit.record(
            actor.tid,
            actor.email,
            OVERRIDE_ACTION,
            rec.cid,
            {"rule": compliance.REWARD_VALUE_CAP, "findings": overridden},
            now,
        )
