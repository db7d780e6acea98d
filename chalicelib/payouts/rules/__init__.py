"""Pure payout rules: provider wire formats and signatures, no I/O."""
