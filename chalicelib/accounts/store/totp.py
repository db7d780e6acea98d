"""Operators' TOTP enrolments (`T#{tid}` / `TOTP#{email}`)."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import OperatorTotpItem


@dataclass(frozen=True)
class Enrolment:
    tid: str
    email: str
    secret_enc: str
    status: str  # pending | active
    last_step: int
    created_at: str
    activated_at: str | None


def get(tid: str, email: str) -> Enrolment | None:
    item = get_entity(OperatorTotpItem, keys.tenant_pk(tid), keys.operator_totp_sk(email), consistent=True)
    if item is None:
        return None
    return Enrolment(
        tid=item.tid,
        email=item.email,
        secret_enc=item.secret_enc,
        status=item.status,
        last_step=int(item.last_step),
        created_at=item.created_at,
        activated_at=item.activated_at,
    )


def put_pending(tid: str, email: str, secret_enc: str, created_at: str) -> bool:
    """Start (or restart) an enrolment; False if an active one is in place (never overwritten)."""
    ensure_bound()
    item = OperatorTotpItem(
        PK=keys.tenant_pk(tid),
        SK=keys.operator_totp_sk(email),
        tid=tid,
        email=email,
        secret_enc=secret_enc,
        status="pending",
        last_step=0,
        created_at=created_at,
    )
    return save_if(item, OperatorTotpItem.PK.does_not_exist() | (OperatorTotpItem.status == "pending"), "totp enrol")


def accept_step(tid: str, email: str, step: int, *, status: str, activate_at: str | None = None) -> bool:
    """Record `step` as used, only if it is later than the last one and the enrolment is in
    `status`; optionally activate. False means a replayed (or concurrently used) code."""
    ensure_bound()
    item = OperatorTotpItem(PK=keys.tenant_pk(tid), SK=keys.operator_totp_sk(email))
    actions: list[Action] = [OperatorTotpItem.last_step.set(step)]
    if activate_at is not None:
        actions += [OperatorTotpItem.status.set("active"), OperatorTotpItem.activated_at.set(activate_at)]
    condition = OperatorTotpItem.PK.exists() & (OperatorTotpItem.status == status) & (OperatorTotpItem.last_step < step)
    try:
        with unavailable_on_failure("totp accept"):
            item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def delete(tid: str, email: str) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("totp delete"):
            OperatorTotpItem(PK=keys.tenant_pk(tid), SK=keys.operator_totp_sk(email)).delete()
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
