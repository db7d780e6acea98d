"""Analytics: beacons, stream-aggregated day counters, the stats report and CSV exports."""
