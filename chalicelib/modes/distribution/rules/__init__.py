"""Pure rules of distribution: the orders webhook payload and who earns what commission."""
