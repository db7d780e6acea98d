"""The single table: its spec, the connection, every key and model, idempotency and the stream record."""
