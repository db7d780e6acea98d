"""Account records the stores return that other slices may read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityKeyRecord:
    """A tenant's identity-assertion key; the secret stays encrypted outside the moment it is made."""

    tid: str
    kid: str
    secret_enc: str
    status: str  # active | retired
    created_at: str
    created_by: str
    retired_at: str | None = None


@dataclass(frozen=True)
class ApiKeyRecord:
    """A merchant back end's API key; of its secret only the SHA-256 is ever stored."""

    tid: str
    kid: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    status: str  # active | revoked
    created_at: str
    created_by: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    last_used_at: str | None = None


@dataclass(frozen=True)
class ApiKeyUse:
    """One request an API key made: what it called and how it was answered."""

    kid: str
    at: str
    method: str
    route: str
    status: int
    ref: str
    request_id: str | None = None
    client_ip: str | None = None
