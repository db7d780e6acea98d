"""The only code that touches the table for tenants, operators, TOTP enrolments and the audit chain."""
