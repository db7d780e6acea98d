"""Data-subject rights: a participant exports or erases their own data (reaches every slice)."""
