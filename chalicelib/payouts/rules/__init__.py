"""Pure payout rules: wallet balances, the payout policy, the withdrawal states, and the providers' wire formats
and signatures (no I/O)."""
