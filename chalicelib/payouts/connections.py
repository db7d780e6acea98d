"""A tenant's payout provider credentials (WeChat Pay, Alipay): set by the owner, audited, never shown in clear.

Stored as the platforms' credentials are (chalicelib/platforms/credentials.py): the whole document encrypted with
the PII key, bound to the tenant and the provider; the view and the audit trail carry fingerprints of the secrets,
never the secrets. Changing them needs a fresh TOTP step-up: whoever holds them moves the merchant's money.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import NotFound
from chalicelib.core.rbac import Principal
from chalicelib.payouts import providers
from chalicelib.payouts.providers import wechatpay
from chalicelib.payouts.rules import credentials as rules
from chalicelib.payouts.rules.credentials import Credentials, key_fingerprint, load_private_key, load_public_key
from chalicelib.payouts.store import providers as store
from chalicelib.security.pii import get_cipher

NOTIFY_PATH = "/v1/payouts/{tid}/{provider}/notify"


def known(provider: str) -> str:
    """`provider` if it is one (`wechatpay`, `alipay`), else a 404."""
    if provider not in rules.INPUTS:
        raise NotFound(f"no payout provider {provider!r}: wechatpay or alipay", code=Code.NOT_FOUND)
    return provider


def fingerprint(value: str) -> str:
    """A secret as the view and the audit trail show it: keyed, so equal secrets match and a guess cannot be
    tested by someone who reads them."""
    return get_cipher().blind_index(value, "payout-provider-secret")[:12]


def _shown(found: Credentials, fields: list[str] | None = None) -> dict[str, Any]:
    """The document's fields as an audit entry shows them: ids in clear, secrets by keyed fingerprint, public keys
    by their own fingerprint."""
    shown: dict[str, Any] = {}
    for key, value in found.model_dump().items():
        if key == "provider" or value is None or (fields is not None and key not in fields):
            continue
        if key in rules.KEYED_SECRETS:
            shown[key] = fingerprint(value)
        elif key in rules.PRIVATE_KEYS:
            shown[key] = key_fingerprint(load_private_key(value).public_key())
        elif key in rules.PUBLIC_KEYS:
            shown[key] = key_fingerprint(load_public_key(value))
        else:
            shown[key] = value
    return shown


def notify_url(tid: str, provider: str) -> str:
    """Where the provider's callbacks go: WeChat Pay is told with each transfer; Alipay's message service is set
    to it in the open platform."""
    return get_settings().public_base_url.rstrip("/") + NOTIFY_PATH.format(tid=tid, provider=provider)


def _view(tid: str, provider: str, found: Credentials | None, updated_at: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "provider": provider,
        "method": rules.METHODS[provider],
        "connected": found is not None,
        "credentials": None,
        "updated_at": updated_at,
        "notify_url": notify_url(tid, provider),
    }
    if provider == "wechatpay":
        view["notify_url"] = wechatpay.default_notify_url(tid)  # None in the cloud without an https base URL
    if found is not None:
        keyed = {f"{key}_fingerprint": fingerprint(value) for key, value in found.model_dump().items()
                 if key in rules.KEYED_SECRETS}  # fmt: skip
        view["credentials"] = {**found.public_view(), **keyed}
    return view


def read(actor: Principal, provider: str) -> dict[str, Any]:
    found, stored = providers.stored_credentials(actor.tid, known(provider))
    return _view(actor.tid, provider, found, stored.updated_at if stored else None)


def _save(tid: str, by: str, found: Credentials, now: datetime) -> tuple[bool, str]:
    """Write `found` over what is stored (audited); (whether anything changed, the time of the stored version)."""
    provider = found.provider
    current, stored = providers.stored_credentials(tid, provider)
    changed = rules.changed_fields(current, found)
    if stored is not None and not changed:
        return False, stored.updated_at
    at = iso(now)
    sealed = get_cipher().encrypt(found.model_dump_json(), rules.sealed_context(tid, provider))
    store.put(tid, provider, sealed, at, stored.version if stored else None)
    action = "payout_provider.connect" if stored is None else "payout_provider.update"
    audit.record(tid, by, action, provider, {"provider": provider, "changed": changed,
                                             "values": _shown(found, changed)}, now)  # fmt: skip
    return True, at


def update(actor: Principal, provider: str, body: Credentials, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """Connect the provider, or replace its credentials whole (checked before the step-up is asked for, so a typo
    spends no code)."""
    known(provider)
    totp.require_step_up(actor, totp_code, now)
    _changed, at = _save(actor.tid, actor.email, body, now)
    return _view(actor.tid, provider, body, at)


def disconnect(actor: Principal, provider: str, totp_code: str | None, now: datetime) -> None:
    """Forget the credentials: the method's approved withdrawals wait for finance again (paid by hand)."""
    known(provider)
    totp.require_step_up(actor, totp_code, now)
    if store.delete(actor.tid, provider):
        audit.record(actor.tid, actor.email, "payout_provider.disconnect", provider, {"provider": provider}, now)


def connect_for_local_seed(tid: str, found: Credentials, now: datetime) -> bool:
    """Store `found` as the tenant's credentials with no operator and no step-up: for `make run`'s demo seed only
    (local/demo.py), which has no one to ask for a code. No route reaches it. Audited as the system; True when
    something was written (the same credentials again write nothing)."""
    return _save(tid, audit.SYSTEM, found, now)[0]
