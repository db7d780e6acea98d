"""Pure rules of accounts: operator models and what operators may change; the audit chain's hashing."""
