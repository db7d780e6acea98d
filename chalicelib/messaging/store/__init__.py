"""The only code that touches the table for messages, their settings and opt-outs, and outbound webhooks."""
