"""Points (积分): a ledger per person and tenant, earned from rewards and spent in the redemption catalogue."""
