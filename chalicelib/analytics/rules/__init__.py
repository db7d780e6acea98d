"""Pure rules of analytics: what each fact counts, the stats report's maths and export rows."""
