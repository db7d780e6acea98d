"""Tenants and their operators: login, roles, TOTP, the audit trail and the webhook signing secret."""
