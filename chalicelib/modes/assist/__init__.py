"""Assists (助力/砍价): friends help a participant cut a price or unlock a prize."""
