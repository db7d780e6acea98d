"""Messages to people, outbound webhooks to merchant systems, and the channel adapters that carry them."""
