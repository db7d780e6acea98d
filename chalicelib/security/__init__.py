"""Tokens, RBAC enforcement helpers, PII crypto and secrets."""
