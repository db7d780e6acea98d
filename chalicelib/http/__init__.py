"""The HTTP edge: request helpers, rate limits and health."""
