"""The loyalty slice's storage: points ledgers, the catalogue and the tenant's points policy."""
