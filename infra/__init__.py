"""Deployment of Fission to AWS with CDK (never imported by the app)."""
