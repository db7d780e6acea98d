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
