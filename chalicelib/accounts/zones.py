"""A tenant's time zone: on its own, so that what needs only the zone (a dashboard's local days) does not load
the operators' code that `tenants` brings."""

from __future__ import annotations

from chalicelib.accounts.store import tenants as store

DEFAULT_TIMEZONE = "Asia/Shanghai"


def timezone(tid: str) -> str:
    """The tenant's time zone (local days, quiet hours, birthdays); Asia/Shanghai when unset."""
    tenant = store.get_tenant(tid)
    return tenant.timezone if tenant is not None and tenant.timezone else DEFAULT_TIMEZONE
