"""Operator input validation and the rules operators must follow when changing each other."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chalicelib.accounts.rules.operators import (
    Email,
    LoginRequest,
    Operator,
    OperatorCreate,
    ensure_not_last_owner,
    ensure_not_self,
)
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.rbac import Principal, Role
from chalicelib.security.passwords import MIN_LENGTH

EMAIL: TypeAdapter[str] = TypeAdapter(Email)


@pytest.mark.parametrize("email", ["owner@shop.local", "ops@corp.lan", "a.b+c@example.com.cn", "x@y.co"])
def test_email_accepts_login_identifiers_including_internal_domains(email: str) -> None:
    assert EMAIL.validate_python(email) == email


@pytest.mark.parametrize(
    "email", ["no-at-sign", "a@b", "@shop.local", "owner@", "a b@shop.local", "a@@shop.local", "a@shop.", ""]
)
def test_email_rejects_strings_that_are_not_an_address(email: str) -> None:
    with pytest.raises(ValidationError):
        EMAIL.validate_python(email)


def test_email_is_stripped_before_it_is_checked() -> None:
    assert EMAIL.validate_python("  owner@shop.local ") == "owner@shop.local"


def create(**fields: Any) -> OperatorCreate:
    return OperatorCreate.model_validate(
        {"email": "ops@shop.local", "password": "x" * MIN_LENGTH, "role": "operator", **fields}
    )


def test_operator_create_lowercases_the_email() -> None:
    assert create(email="  Ops@Shop.LOCAL ").email == "ops@shop.local"


def test_operator_create_accepts_a_password_of_minimum_length() -> None:
    assert create(password="p" * MIN_LENGTH).password == "p" * MIN_LENGTH


def test_operator_create_rejects_a_password_shorter_than_the_minimum() -> None:
    with pytest.raises(ValidationError) as caught:
        create(password="p" * (MIN_LENGTH - 1))

    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("password",), "string_too_short")]


def test_operator_create_rejects_unknown_roles_and_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        create(role="admin", nickname="boss")

    assert sorted(e["type"] for e in caught.value.errors()) == ["enum", "extra_forbidden"]


def test_login_request_needs_a_password() -> None:
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"email": "owner@shop.local", "password": ""})


def operator(role: Role = Role.OWNER, *, disabled: bool = False, email: str = "boss@shop.local") -> Operator:
    return Operator(
        tid="t1",
        email=email,
        role=role,
        password_hash="hash",
        name_enc=None,
        phone_enc=None,
        phone_hash=None,
        disabled=disabled,
        token_version=1,
        version=1,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


def test_removing_the_only_active_owner_is_a_conflict() -> None:
    with pytest.raises(Conflict) as caught:
        ensure_not_last_owner(operator(), owners=1, removing_owner_role=True)

    assert caught.value.code == "LAST_OWNER"


@pytest.mark.parametrize(
    ("target", "owners", "removing"),
    [
        (operator(), 2, True),
        (operator(), 1, False),
        (operator(Role.OPERATOR), 1, True),
        (operator(disabled=True), 1, True),
    ],
    ids=["another-owner-remains", "not-removing-the-role", "target-not-an-owner", "target-already-disabled"],
)
def test_changes_that_keep_an_active_owner_are_allowed(target: Operator, owners: int, removing: bool) -> None:
    ensure_not_last_owner(target, owners, removing_owner_role=removing)


def test_an_operator_cannot_change_themselves() -> None:
    actor = Principal(tid="t1", email="boss@shop.local", role=Role.OWNER)

    with pytest.raises(Forbidden) as caught:
        ensure_not_self(actor, "boss@shop.local", "disable")

    assert caught.value.code == "SELF_MODIFICATION"
    assert "disable" in caught.value.message


def test_an_operator_may_change_someone_else() -> None:
    actor = Principal(tid="t1", email="boss@shop.local", role=Role.OWNER)

    ensure_not_self(actor, "ops@shop.local", "disable")
