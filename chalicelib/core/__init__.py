"""The kernel every slice stands on: settings, errors, observability, clock, ids, validation, roles."""
