"""Fission: a serverless referral-growth engine."""
