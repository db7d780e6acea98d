"""The only code that touches the table for wallets, withdrawals and the tenant's payout settings."""
