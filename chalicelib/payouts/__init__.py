"""Money out: commission wallets, withdrawals and payouts through payment providers (docs/payouts.md)."""
