"""Pure rules of the loyalty slice: balances, expiry and what operators and participants send."""
