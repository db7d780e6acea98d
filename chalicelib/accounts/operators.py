"""Owners manage the operators of their tenant.

Making or removing an owner, changing anyone's role and removing an operator who has an authenticator (which
resets it) need a fresh TOTP step-up (docs/operations.md): a password-only owner token must not mint an owner,
whose own login would then pass every step-up, nor take over an enrolled login."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.accounts.rules.operators import (
    Operator,
    OperatorCreate,
    OperatorPatch,
    ensure_not_last_owner,
    ensure_not_self,
    normalize_email,
)
from chalicelib.accounts.store import tenants as store
from chalicelib.accounts.store import totp as totp_store
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.rbac import Principal, Role
from chalicelib.security import passwords
from chalicelib.security.pii import get_cipher, mask_name, mask_phone, normalize_phone
from chalicelib.table.idempotency import run_once


def _context(tid: str, email: str, field: str) -> str:
    return f"operator:{tid}:{email}:{field}"


def _protect_phone(tid: str, email: str, phone: str) -> tuple[str, str]:
    try:
        digits = normalize_phone(phone)
    except ValueError:
        raise ValidationFailed(
            "phone: not a phone number",
            details={"errors": [{"field": "phone", "type": "phone", "message": "not a phone number"}]},
        ) from None
    cipher = get_cipher()
    return cipher.encrypt(digits, _context(tid, email, "phone")), cipher.blind_index(digits, "phone")


def view(op: Operator, *, unmask: bool = False) -> dict[str, Any]:
    cipher = get_cipher()
    name = cipher.decrypt(op.name_enc, _context(op.tid, op.email, "name")) if op.name_enc else None
    phone = cipher.decrypt(op.phone_enc, _context(op.tid, op.email, "phone")) if op.phone_enc else None
    return {
        "email": op.email,
        "role": op.role.value,
        "name": (name if unmask else mask_name(name)) if name else None,
        "phone": (phone if unmask else mask_phone(phone)) if phone else None,
        "disabled": op.disabled,
        "created_at": op.created_at,
        "updated_at": op.updated_at,
    }


def new_operator(tid: str, request: OperatorCreate, now: datetime) -> Operator:
    stamp = iso(now)
    phone_enc = phone_hash = None
    if request.phone:
        phone_enc, phone_hash = _protect_phone(tid, request.email, request.phone)
    name_enc = get_cipher().encrypt(request.name, _context(tid, request.email, "name")) if request.name else None
    return Operator(
        tid=tid,
        email=request.email,
        role=request.role,
        password_hash=passwords.hash_password(request.password),
        name_enc=name_enc,
        phone_enc=phone_enc,
        phone_hash=phone_hash,
        disabled=False,
        token_version=1,
        version=1,
        created_at=stamp,
        updated_at=stamp,
    )


def create(
    actor: Principal,
    request: OperatorCreate,
    now: datetime,
    idempotency_key: str | None = None,
    totp_code: str | None = None,
) -> dict[str, Any]:
    if request.role is Role.OWNER:
        # Checked before the idempotency record: a replay never stands in for the step-up.
        totp.require_step_up(actor, totp_code, now)

    def make() -> dict[str, Any]:
        operator = new_operator(actor.tid, request, now)
        store.create_operator(operator)
        audit.record(actor.tid, actor.email, "operator.create", operator.email, {"role": operator.role.value}, now)
        return view(operator)

    # The password stays out of what the idempotency record fingerprints.
    fingerprint = request.model_dump(mode="json", exclude={"password"})
    return run_once(f"operator.create:{actor.tid}", idempotency_key, fingerprint, make)


def list_all(actor: Principal) -> dict[str, Any]:
    return {"items": [view(op) for op in store.list_operators(actor.tid)]}


def _load(actor: Principal, email: str) -> Operator:
    operator = store.get_operator(actor.tid, normalize_email(email), consistent=True)
    if operator is None:
        raise NotFound("no such operator", code=Code.OPERATOR_NOT_FOUND)
    return operator


def owner_emails(tid: str) -> list[str]:
    """The tenant's active owners: whom an alert about the tenant's money reaches (docs/retention.md)."""
    return sorted(op.email for op in store.list_operators(tid) if op.role is Role.OWNER and not op.disabled)


def _active_owners(tid: str) -> int:
    return sum(1 for op in store.list_operators(tid) if op.role is Role.OWNER and not op.disabled)


def update(
    actor: Principal, email: str, patch: OperatorPatch, now: datetime, totp_code: str | None = None
) -> dict[str, Any]:
    operator = _load(actor, email)
    expected = operator.version
    demoting = patch.role is not None and patch.role is not Role.OWNER
    disabling = patch.disabled is True
    if demoting or disabling:
        ensure_not_self(actor, operator.email, "demote or disable")
        ensure_not_last_owner(operator, _active_owners(actor.tid), removing_owner_role=True)
    # A role change decides who may do everything; disabling an owner locks them out as removing one would, and
    # setting another owner's password takes their account over: each needs the step-up a password-only owner
    # token lacks.
    other_owner = operator.role is Role.OWNER and operator.email != actor.email
    if (
        (patch.role is not None and patch.role is not operator.role)
        or (disabling and operator.role is Role.OWNER and not operator.disabled)
        or (patch.password is not None and other_owner)
    ):
        totp.require_step_up(actor, totp_code, now)
    revoke = False
    if patch.role is not None and patch.role is not operator.role:
        operator.role, revoke = patch.role, True
    if patch.password is not None:
        operator.password_hash, revoke = passwords.hash_password(patch.password), True
    if patch.disabled is not None and patch.disabled != operator.disabled:
        operator.disabled, revoke = patch.disabled, True
    if patch.name is not None:
        operator.name_enc = get_cipher().encrypt(patch.name, _context(operator.tid, operator.email, "name"))
    if patch.phone is not None:
        operator.phone_enc, operator.phone_hash = _protect_phone(operator.tid, operator.email, patch.phone)
    if revoke:
        # Tokens carry the version they were issued for: bumping it logs the operator out everywhere.
        operator.token_version += 1
    operator.version = expected + 1
    operator.updated_at = iso(now)
    store.replace_operator(operator, expected)
    # Field names only: the new password, name or phone never reach the trail.
    changed = sorted(patch.model_dump(exclude_none=True))
    details: dict[str, Any] = {"fields": changed, "role": operator.role.value, "disabled": operator.disabled}
    audit.record(actor.tid, actor.email, "operator.update", operator.email, details, now)
    return view(operator)


def remove(actor: Principal, email: str, now: datetime | None = None, totp_code: str | None = None) -> None:
    now = now or utcnow()
    operator = _load(actor, email)
    ensure_not_self(actor, operator.email, "remove")
    ensure_not_last_owner(operator, _active_owners(actor.tid), removing_owner_role=True)
    # Removing and re-making an operator is how an authenticator is reset, and removing an owner is a role
    # change: both need the step-up a password-only owner token lacks.
    if operator.role is Role.OWNER or totp.is_active(actor.tid, operator.email):
        totp.require_step_up(actor, totp_code, now)
    store.delete_operator(operator)
    # A later operator with the same email starts without an authenticator.
    totp_store.delete(actor.tid, operator.email)
    details = {"role": operator.role.value}
    audit.record(actor.tid, actor.email, "operator.delete", operator.email, details, now)
