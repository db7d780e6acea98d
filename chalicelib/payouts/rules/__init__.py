"""Pure rules of payouts: wallet balances, the payout policy and the withdrawal states (no I/O)."""
