"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payouts.md)."""
