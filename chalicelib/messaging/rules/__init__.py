"""Pure rules of messaging: channels, quiet hours, templates, webhook event types and retry backoff."""
