"""Referral: joins, identity, links, progress, rewards, leaderboards, fraud, reviews and the referral tree."""
