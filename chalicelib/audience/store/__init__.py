"""The only code that touches the table for profiles, tags, segments and automation rules."""
