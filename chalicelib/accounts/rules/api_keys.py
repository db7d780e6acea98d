"""API keys for merchant back ends (pure): the scopes, the routes each one opens, the key format.

A key is `fsk_{key id}_{secret}`: the id finds the stored key in one read, the secret (32 random bytes,
64 hex characters) is kept only as its SHA-256 and compared in constant time. docs/api-keys.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.core.clock import parse_iso
from chalicelib.core.rbac import Permission
from chalicelib.http.rules import ADMIN_PREFIX as ADMIN_PREFIX  # the route areas, re-exported
from chalicelib.http.rules import SERVER_PREFIX as SERVER_PREFIX

KEY_PREFIX = "fsk_"
KEY_ID_PREFIX = "ak"
SECRET_BYTES = 32
# A tenant's active keys at once: enough for one per back end and stage, few enough to review.
MAX_ACTIVE_KEYS = 20
# How stale a key's `last_used_at` may grow: it is written when it is older than this, not per request.
LAST_USED_EVERY = timedelta(seconds=60)

# How long a key's usage log keeps each use (TTL): past a year, so a yearly review still finds the last one.
USE_RETENTION = timedelta(days=400)
# The usage listing: its default span (from `to` back), its page size, and the days one page reads at most
# (one query each), so a page of a sparse key over a long span stays a bounded read.
USAGE_SPAN = timedelta(days=7)
MAX_USAGE_PAGE = 100
USAGE_DAYS_PER_PAGE = 31

_KEY = re.compile(rf"^{KEY_PREFIX}({KEY_ID_PREFIX}_[0-9a-z]{{19}})_([0-9a-f]{{{SECRET_BYTES * 2}}})$")


class ApiScope(StrEnum):
    """What a key may do; an owner grants each one deliberately (the list is fixed)."""

    # Register the merchant's logged-in users as participants: POST /v1/server/campaigns/{cid}/participants; and
    # report existing customers, who count for nobody: POST /v1/server/campaigns/{cid}/existing-customers.
    PARTICIPANTS_WRITE = "participants:write"
    # Report paid and refunded orders, as the signed orders webhook does: POST /v1/server/orders.
    ORDERS_WRITE = "orders:write"
    # Read a campaign's statistics and referral tree: the admin routes that need `stats:read`.
    STATS_READ = "stats:read"
    # Queue, poll and download CSV exports: the admin routes that need `export:create`. Granting it needs
    # the owner's fresh TOTP step-up, since a key has no TOTP of its own (STEP_UP_SCOPES).
    EXPORTS_CREATE = "exports:create"


# The admin routes a scope opens: every admin route that requires this permission, and no other.
SCOPE_PERMISSIONS: dict[ApiScope, Permission] = {
    ApiScope.STATS_READ: Permission.STATS_READ,
    ApiScope.EXPORTS_CREATE: Permission.EXPORT_CREATE,
}

# The server routes (method, Chalice resource path) and the scope each needs. They take API keys only;
# a server route missing here is closed to every key.
SERVER_ROUTES: dict[tuple[str, str], ApiScope] = {
    ("POST", "/v1/server/campaigns/{cid}/participants"): ApiScope.PARTICIPANTS_WRITE,
    ("POST", "/v1/server/campaigns/{cid}/existing-customers"): ApiScope.PARTICIPANTS_WRITE,
    ("POST", "/v1/server/orders"): ApiScope.ORDERS_WRITE,
}

# Scopes whose routes need an operator's TOTP step-up: the owner proves one when granting them, and the
# key's calls then skip it (a key cannot hold a second factor).
STEP_UP_SCOPES = frozenset({ApiScope.EXPORTS_CREATE})


def scope_for(method: str, path: str, permission: Permission | None) -> ApiScope | None:
    """The scope a key needs for a route, or None when no key may call it.

    `path` is the route's resource path (`/v1/admin/campaigns/{cid}/stats`) and `permission` the one
    the admin route declares (None for an anonymous route or a route outside /v1/admin/).
    """
    if path.startswith(SERVER_PREFIX):
        return SERVER_ROUTES.get((method, path))
    if not path.startswith(ADMIN_PREFIX) or permission is None:
        return None
    return next((scope for scope, granted in SCOPE_PERMISSIONS.items() if granted is permission), None)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64, description="What the key is for, e.g. `shop back end (prod)`.")
    scopes: list[ApiScope] = Field(
        min_length=1, max_length=len(ApiScope), description="What the key may do; see docs/api-keys.md."
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, value: list[ApiScope]) -> list[ApiScope]:
        if len(set(value)) != len(value):
            raise ValueError("each scope once")
        return sorted(value)


class UsageQuery(BaseModel):
    """`GET /v1/admin/api-keys/{kid}/usage`: a span (default: the USAGE_SPAN up to now) and a page."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: datetime | None = Field(default=None, alias="from", description="Uses at or after this time.")
    until: datetime | None = Field(default=None, alias="to", description="Uses at or before this time.")
    limit: int = Field(default=50, ge=1, le=MAX_USAGE_PAGE)
    cursor: str | None = Field(default=None, max_length=512)

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)  # a time without a zone is UTC, like every time Fission answers with


def format_key(kid: str, secret: str) -> str:
    return f"{KEY_PREFIX}{kid}_{secret}"


def is_api_key(authorization: str | None) -> bool:
    """Whether an Authorization header carries an API key (rather than an operator token)."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and token.strip().startswith(KEY_PREFIX)


def parse_key(authorization: str | None) -> tuple[str, str] | None:
    """(key id, secret) of `Authorization: Bearer fsk_...`, or None when it is not a well-formed key."""
    scheme, _, token = (authorization or "").partition(" ")
    found = _KEY.match(token.strip()) if scheme.lower() == "bearer" else None
    return (found.group(1), found.group(2)) if found else None


def secret_hash(secret: str) -> str:
    """What is stored of a key's secret. A plain SHA-256 suffices: the secret is 256 random bits, so no
    dictionary or brute force reaches it (a password hash's slowness would only cost every request)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), secret_hash(secret).encode())


def last_used_due(last_used_at: str | None, now: datetime) -> bool:
    """Whether a use at `now` should be written: the stored time is missing or older than LAST_USED_EVERY."""
    if last_used_at is None:
        return True
    return parse_iso(last_used_at) <= now - LAST_USED_EVERY
