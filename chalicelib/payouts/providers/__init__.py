"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payouts.md).

`PROVIDERS` maps a payout method to the factory of its provider for one tenant (the tenant's merchant
credentials); a provider module registers itself here. A method with no provider registered is paid by hand:
its approved withdrawals wait for finance to mark them paid.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.payouts.providers.base import Provider

ProviderFactory = Callable[[str], Provider]
PROVIDERS: dict[str, ProviderFactory] = {}


def register(method: str, factory: ProviderFactory) -> None:
    PROVIDERS[method] = factory


def provider_for(method: str, tid: str) -> Provider | None:
    """The tenant's provider for `method`, or None when no provider pays that method (yet)."""
    factory = PROVIDERS.get(method)
    return None if factory is None else factory(tid)


def paid_by_provider(method: str) -> bool:
    """WeChat Pay and Alipay are paid by the schedule (once their provider is registered); bank transfers by hand."""
    return method != "bank"
