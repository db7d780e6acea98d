"""The only code that touches the table for day counters, beacons and export jobs; export files."""
