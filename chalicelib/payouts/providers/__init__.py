"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payouts.md,
docs/payout-providers.md).

`for_config` is the provider that speaks for a set of merchant credentials. `PROVIDERS` maps a payout method to
the factory of its provider for one tenant; a method with no provider registered is paid by hand: its approved
withdrawals wait for finance to mark them paid.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.base import Provider
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.payouts.rules.credentials import AlipayConfig, WeChatPayConfig

ProviderFactory = Callable[[str], Provider]
PROVIDERS: dict[str, ProviderFactory] = {}


def for_config(config: WeChatPayConfig | AlipayConfig) -> Provider:
    """The provider that speaks for these credentials, with the hosts and timeout from the settings."""
    if isinstance(config, WeChatPayConfig):
        return WeChatPay(config)
    return Alipay(config)


def register(method: str, factory: ProviderFactory) -> None:
    PROVIDERS[method] = factory


def provider_for(method: str, tid: str) -> Provider | None:
    """The tenant's provider for `method`, or None when no provider pays that method (yet)."""
    factory = PROVIDERS.get(method)
    return None if factory is None else factory(tid)


def paid_by_provider(method: str) -> bool:
    """WeChat Pay and Alipay are paid by the schedule (once their provider is registered); bank transfers by hand."""
    return method != "bank"
