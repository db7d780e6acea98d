"""Payout providers: one module per provider, each speaking the provider's own protocol (docs/payouts.md,
docs/payout-providers.md).

`for_config` is the provider that speaks for a set of merchant credentials. `provider_for(method, tid)` is the
tenant's provider for a payout method: the one built from the credentials the owner connected
(`PUT /v1/admin/payouts/providers/{provider}`), or none, and then the method is paid by hand: its approved
withdrawals wait for finance to mark them paid. `PROVIDERS` maps a method to a factory taking the tenant id that
is used instead of the stored credentials (a test's stand-in).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.base import Provider
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.payouts.rules import credentials as rules
from chalicelib.payouts.rules.credentials import AlipayConfig, Credentials, WeChatPayConfig
from chalicelib.payouts.store import providers as store
from chalicelib.payouts.store.providers import StoredProvider
from chalicelib.security.pii import get_cipher

ProviderFactory = Callable[[str], Provider]
PROVIDERS: dict[str, ProviderFactory] = {}


def for_config(config: WeChatPayConfig | AlipayConfig) -> Provider:
    """The provider that speaks for these credentials, with the hosts and timeout from the settings."""
    if isinstance(config, WeChatPayConfig):
        return WeChatPay(config)
    return Alipay(config)


def register(method: str, factory: ProviderFactory) -> None:
    PROVIDERS[method] = factory


def stored_credentials(tid: str, provider: str) -> tuple[Credentials | None, StoredProvider | None]:
    """The tenant's credentials for `provider` (`wechatpay`, `alipay`) in clear, and the item they came from."""
    stored = store.get(tid, provider)
    if stored is None:
        return None, None
    document = get_cipher().decrypt(stored.document_enc, rules.sealed_context(tid, provider))
    return rules.load(provider, document), stored


def provider_for(method: str, tid: str) -> Provider | None:
    """The tenant's provider for `method`, or None when the tenant has connected no provider that pays it."""
    factory = PROVIDERS.get(method)
    if factory is not None:
        return factory(tid)
    provider = rules.PROVIDER_OF.get(method)
    if provider is None:
        return None
    found, _stored = stored_credentials(tid, provider)
    return None if found is None else for_config(found.to_config())


def paid_by_provider(method: str) -> bool:
    """WeChat Pay and Alipay are paid by the schedule (once the tenant connects them); bank transfers by hand."""
    return method != "bank"
