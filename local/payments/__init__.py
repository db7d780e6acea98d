"""Local stand-ins for the payout providers (WeChat Pay, Alipay): docs/payouts-local.md."""
