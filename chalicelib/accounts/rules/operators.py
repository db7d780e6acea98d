"""Operators of a tenant: who they are, what they may change about each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.rbac import Principal, Role
from chalicelib.security.passwords import MIN_LENGTH

# A login identifier, not a mailbox we deliver to: self-hosters use internal domains
# (.local, .lan) that strict deliverability checks reject.
# A practical address: a local part, then DNS labels of at most 63 characters and a letters-only top level.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$",
    ),
]


@dataclass
class Operator:
    tid: str
    email: str
    role: Role
    password_hash: str
    name_enc: str | None
    phone_enc: str | None
    phone_hash: str | None
    disabled: bool
    token_version: int
    version: int
    created_at: str
    updated_at: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginRequest(_Input):
    email: Email
    password: str = Field(min_length=1, max_length=256)
    # Required once the operator has TOTP active; a token from a login with it counts as a step-up.
    totp: str | None = Field(default=None, min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class TotpConfirm(_Input):
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class OperatorCreate(_Input):
    email: Email
    password: str = Field(min_length=MIN_LENGTH, max_length=256)
    role: Role
    name: str | None = Field(default=None, min_length=1, max_length=60)
    phone: str | None = Field(default=None, max_length=24)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return normalize_email(value)


class OperatorPatch(_Input):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=MIN_LENGTH, max_length=256)
    name: str | None = Field(default=None, min_length=1, max_length=60)
    phone: str | None = Field(default=None, max_length=24)
    disabled: bool | None = None


def ensure_not_last_owner(target: Operator, owners: int, *, removing_owner_role: bool) -> None:
    """A tenant always keeps at least one active owner."""
    if target.role is Role.OWNER and not target.disabled and removing_owner_role and owners <= 1:
        raise Conflict("a tenant needs at least one active owner", code=Code.LAST_OWNER)


def ensure_not_self(actor: Principal, target_email: str, what: str) -> None:
    if actor.email == target_email:
        raise Forbidden(f"operators cannot {what} themselves", code=Code.SELF_MODIFICATION)
