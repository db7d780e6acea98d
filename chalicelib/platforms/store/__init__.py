"""The platforms' storage: credentials, cached tokens and their refresh lease."""
