"""Roles and permissions: the full matrix of who may do what."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.core.rbac import ROLE_PERMISSIONS, Permission, Role, is_allowed

P = Permission
READ = {P.CAMPAIGN_READ, P.STATS_READ, P.ACCOUNT_SELF}

# The intended matrix, written out in full: a change to the roles must change this table too.
EXPECTED: dict[Role, set[Permission]] = {
    Role.OWNER: set(Permission),
    Role.OPERATOR: READ
    | {
        P.CAMPAIGN_WRITE,
        P.CAMPAIGN_PUBLISH,
        P.REVIEW_READ,
        P.AUDIENCE_READ,
        P.AUDIENCE_WRITE,
        P.AUTOMATION_WRITE,
        P.LOYALTY_MANAGE,
        P.GROWTH_MANAGE,
    },
    Role.ANALYST: READ | {P.EXPORT_CREATE, P.AUDIENCE_READ},
    Role.FINANCE: READ | {P.FINANCE_READ, P.EXPORT_CREATE, P.AUDIT_READ, P.PAYOUTS_APPROVE},
    Role.VIEWER: READ,
}


def test_every_role_has_a_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role) == set(EXPECTED)


def test_owner_has_every_permission() -> None:
    assert all(is_allowed(Role.OWNER, permission) for permission in Permission)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE, Role.ANALYST])
def test_read_only_roles_cannot_write_campaigns(role: Role) -> None:
    assert not is_allowed(role, P.CAMPAIGN_WRITE)
    assert not is_allowed(role, P.CAMPAIGN_PUBLISH)


def test_operator_cannot_manage_operators() -> None:
    assert not is_allowed(Role.OPERATOR, P.OPERATOR_MANAGE)


def test_only_the_owner_may_unmask_pii_or_manage_operators() -> None:
    for permission in (P.PII_UNMASK, P.OPERATOR_MANAGE, P.OPERATOR_READ):
        assert [role for role in Role if is_allowed(role, permission)] == [Role.OWNER]


@pytest.mark.parametrize(
    ("role", "permission"), list(itertools.product(Role, Permission)), ids=lambda value: str(value)
)
def test_permission_matrix(role: Role, permission: Permission) -> None:
    assert is_allowed(role, permission) is (permission in EXPECTED[role])


def test_only_the_owner_configures_payouts_and_finance_approves_them() -> None:
    assert [role for role in Role if is_allowed(role, P.PAYOUTS_CONFIGURE)] == [Role.OWNER]
    assert [role for role in Role if is_allowed(role, P.PAYOUTS_APPROVE)] == [Role.OWNER, Role.FINANCE]
