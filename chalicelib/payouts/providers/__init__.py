"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payout-providers.md)."""

from __future__ import annotations

from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.base import Provider
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.payouts.rules.credentials import AlipayConfig, WeChatPayConfig


def provider_for(config: WeChatPayConfig | AlipayConfig) -> Provider:
    """The provider that speaks for these credentials, with the hosts and timeout from the settings."""
    if isinstance(config, WeChatPayConfig):
        return WeChatPay(config)
    return Alipay(config)
