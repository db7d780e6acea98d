"""Reading a participant's PII in the clear: owner-only, behind a TOTP step-up, always audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.core.rbac import Principal
from chalicelib.referral import identity
from chalicelib.security.pii import get_cipher


def participant_pii(actor: Principal, code: str, totp_code: str | None, now: datetime) -> dict[str, Any]:
    totp.require_step_up(actor, totp_code, now)
    rec = identity.by_code(code)
    if rec is None or rec.tid != actor.tid:
        # Another tenant's participant is indistinguishable from a missing one.
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    phone = None
    if rec.phone_enc:
        phone = get_cipher().decrypt(rec.phone_enc, f"participant:{rec.cid}:{rec.identity}:phone")
    # The trail says who looked at whom and what was revealed, not the value itself.
    audit.record(actor.tid, actor.email, "pii.unmask", code, {"campaign_id": rec.cid, "fields": ["phone"]}, now)
    return {"code": rec.code, "campaign_id": rec.cid, "nickname": rec.nickname, "phone": phone}
