"""The audience: profiles built from the stream, tags, segments and automation rules."""
