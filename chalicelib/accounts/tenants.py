"""Provisioning tenants with their first owner (CLI and the local demo seed)."""

from __future__ import annotations

import re
from datetime import datetime

from chalicelib.accounts import zones
from chalicelib.accounts.operators import new_operator
from chalicelib.accounts.rules.operators import OperatorCreate, normalize_email
from chalicelib.accounts.store import tenants as store
from chalicelib.core.rbac import Role
from chalicelib.security import passwords

_TID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")


def ensure_tenant(tid: str, name: str, owner_email: str, owner_password: str, now: datetime) -> bool:
    """Create the tenant and its owner unless present; make sure the owner's password is the one given.

    Returns True if the tenant was created. Safe to run on every start.
    """
    if not _TID_RE.match(tid):
        raise ValueError("tenant id: 3-40 lower-case letters, digits or '-'")
    email = normalize_email(owner_email)
    owner = new_operator(tid, OperatorCreate(email=email, password=owner_password, role=Role.OWNER), now)
    if store.get_tenant(tid) is None:
        store.create_tenant(tid, name, "Asia/Shanghai", owner.created_at, owner)
        return True
    existing = store.get_operator(tid, email, consistent=True)
    if existing is None:
        store.create_operator(owner)
    elif (
        existing.disabled
        or existing.role is not Role.OWNER
        or not passwords.verify_password(existing.password_hash, owner_password)
    ):
        expected = existing.version
        existing.password_hash, existing.role, existing.disabled = owner.password_hash, Role.OWNER, False
        existing.token_version += 1
        existing.version += 1
        store.replace_operator(existing, expected)
    return False


# The zone lives in `zones` (light to import); it stays reachable here for the use cases that hold `tenants`.
DEFAULT_TIMEZONE = zones.DEFAULT_TIMEZONE
timezone = zones.timezone
