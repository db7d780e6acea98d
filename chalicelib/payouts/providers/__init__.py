"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payouts.md)."""

from __future__ import annotations

from chalicelib.payouts.providers.base import Provider
from chalicelib.payouts.rules.credentials import AlipayConfig, WeChatPayConfig


def provider_for(config: WeChatPayConfig | AlipayConfig) -> Provider:
    """The provider that speaks for these credentials, with the hosts and timeout from the settings."""
    if isinstance(config, WeChatPayConfig):
        from chalicelib.payouts.providers.wechatpay import WeChatPay

        return WeChatPay(config)
    from chalicelib.payouts.providers.alipay import Alipay

    return Alipay(config)
