"""Roles and the permissions each one grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    ANALYST = "analyst"
    FINANCE = "finance"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    """Who is behind an admin or server request: an operator, or a merchant back end's API key.

    `email` is the actor the audit trail names: the operator's email, or `apikey:{kid}` for a key. A key
    holds no role (its scopes decide what it may call); it carries the least role, so a role check inside
    a use case never opens anything to it.
    """

    tid: str
    email: str
    role: Role
    # When this token's holder last proved a TOTP code; None if the token came from a password alone.
    step_up_at: datetime | None = None
    # The API key's id when a key authenticated the request (docs/api-keys.md); None for an operator.
    api_key: str | None = None


class Permission(StrEnum):
    CAMPAIGN_READ = "campaign:read"
    CAMPAIGN_WRITE = "campaign:write"
    CAMPAIGN_PUBLISH = "campaign:publish"
    STATS_READ = "stats:read"
    FINANCE_READ = "finance:read"
    OPERATOR_READ = "operator:read"
    OPERATOR_MANAGE = "operator:manage"
    PII_UNMASK = "pii:unmask"
    EXPORT_CREATE = "export:create"
    AUDIT_READ = "audit:read"
    # The fraud review queue: reading held facts and their reasons (deciding needs CAMPAIGN_PUBLISH).
    REVIEW_READ = "review:read"
    # An operator's own sign-in security (TOTP enrolment): every role holds it.
    ACCOUNT_SELF = "account:self"
    # Profiles, tags, segments and the message outbox: reading them, and changing them.
    AUDIENCE_READ = "audience:read"
    AUDIENCE_WRITE = "audience:write"
    # Automation rules (they send messages and issue rewards on their own).
    AUTOMATION_WRITE = "automation:write"
    # Deciding where personal data leaves to: channel endpoints, outbound webhook URLs, automations that send
    # messages or call webhooks. Checked by those use cases on top of the route's permission, with a step-up.
    DATA_EGRESS = "data:egress"
    # Connecting WeChat and WeCom: their app secrets act as the merchant on those platforms (owners only).
    PLATFORM_MANAGE = "platform:manage"
    # The tenant's landing domains: where every shared link points (docs/domains.md). Owner only.
    DOMAIN_MANAGE = "domain:manage"
    # Approving, rejecting and marking paid the withdrawals of commission wallets (docs/payouts.md): owner, finance.
    PAYOUTS_APPROVE = "payouts:approve"
    # The tenant's payout policy: fees, limits, methods, automatic approval. Owner only.
    PAYOUTS_CONFIGURE = "payouts:configure"
    # The points policy and the redemption catalogue (docs/retention.md): owner, operator.
    LOYALTY_MANAGE = "loyalty:manage"
    # The tenant's quarterly growth targets (docs/retention.md): owner, operator.
    GROWTH_MANAGE = "growth:manage"


_READ = {Permission.CAMPAIGN_READ, Permission.STATS_READ, Permission.ACCOUNT_SELF}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.OPERATOR: frozenset(
        _READ
        | {
            Permission.CAMPAIGN_WRITE,
            Permission.CAMPAIGN_PUBLISH,
            Permission.REVIEW_READ,
            Permission.AUDIENCE_READ,
            Permission.AUDIENCE_WRITE,
            Permission.AUTOMATION_WRITE,
            Permission.LOYALTY_MANAGE,
            Permission.GROWTH_MANAGE,
        }
    ),
    Role.ANALYST: frozenset(_READ | {Permission.EXPORT_CREATE, Permission.AUDIENCE_READ}),
    Role.FINANCE: frozenset(
        _READ | {Permission.FINANCE_READ, Permission.EXPORT_CREATE, Permission.AUDIT_READ, Permission.PAYOUTS_APPROVE}
    ),
    Role.VIEWER: frozenset(_READ),
}


def is_allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
