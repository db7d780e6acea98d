"""The only code that touches the table for participants, rewards, fraud windows, leaderboards and reviews."""
