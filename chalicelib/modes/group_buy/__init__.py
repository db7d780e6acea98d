"""Group buying (拼团): leaders open groups, friends join until the size or the deadline."""
