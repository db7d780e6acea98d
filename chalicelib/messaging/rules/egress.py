"""Where personal data leaves Fission: which settings change a destination, and how the audit shows one. Pure.

The rule (docs/messaging.md, "Who may send personal data where"): pointing a channel at a new endpoint, adding an
outbound webhook, and an automation that sends messages or calls a webhook are the owner's, with a TOTP step-up;
everything that only sends less (a cap, quiet hours, the kill switch, switching a channel off) stays with operators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chalicelib.core.codes import Code
from chalicelib.core.errors import Forbidden
from chalicelib.core.rbac import Permission, Principal, is_allowed
from chalicelib.messaging.rules.messages import HTTP_CHANNELS, MessagingSettings

# A channel whose messages stay inside Fission (the message item is the record): nothing leaves through it.
INTERNAL_CHANNELS = frozenset({"console"})


def new_endpoints(before: MessagingSettings, after: MessagingSettings) -> list[str]:
    """The HTTP channels `after` points at an endpoint `before` did not: each would send phone numbers or user ids
    somewhere new. Removing an endpoint or keeping it as it was is not among them."""
    return [c for c in HTTP_CHANNELS if after.endpoint(c) is not None and after.endpoint(c) != before.endpoint(c)]


def sends_out(action: Mapping[str, Any]) -> bool:
    """An automation action that takes a person's data out of Fission: a webhook call, or a message on a channel
    other than console (the gateway or SES receives the address and the rendered text)."""
    kind = action.get("type")
    return kind == "call_webhook" or (kind == "send_message" and action.get("channel") not in INTERNAL_CHANNELS)


def audit_url(url: str, fingerprint: Callable[[str], str]) -> str:
    """The URL as the audit trail records it: scheme, host, port and path in the clear (where the data goes), the
    values of the query, a password in it and a fragment as keyed fingerprints (credentials are often put there),
    so a changed secret shows as a changed fingerprint without the trail ever holding the secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username:
        user = parts.username + (f":{_hidden(parts.password, fingerprint)}" if parts.password else "")
        netloc = f"{user}@{netloc}"
    out = f"{parts.scheme}://{netloc}{parts.path}"
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        out += "?" + "&".join(f"{name}={_hidden(value, fingerprint)}" if value else name for name, value in pairs)
    if parts.fragment:
        out += f"#{_hidden(parts.fragment, fingerprint)}"
    return out


def _hidden(value: str, fingerprint: Callable[[str], str]) -> str:
    return f"<secret:{fingerprint(value)}>"


def audit_settings(document: Mapping[str, Any], fingerprint: Callable[[str], str]) -> dict[str, Any]:
    """The whole settings document for the audit trail, each channel endpoint through `audit_url`."""
    channels: dict[str, Any] = {}
    for name, config in dict(document.get("channels") or {}).items():
        if isinstance(config, Mapping) and isinstance(config.get("endpoint"), str):
            channels[name] = {**config, "endpoint": audit_url(config["endpoint"], fingerprint)}
        else:
            channels[name] = config
    return {**document, "channels": channels}


def audit_actions(actions: Sequence[Mapping[str, Any]], fingerprint: Callable[[str], str]) -> list[dict[str, Any]]:
    """An automation's actions in full for the audit trail (templates, rewards, tags), webhook URLs through
    `audit_url`."""
    out: list[dict[str, Any]] = []
    for action in actions:
        shown = dict(action)
        if shown.get("type") == "call_webhook" and isinstance(shown.get("url"), str):
            shown["url"] = audit_url(shown["url"], fingerprint)
        out.append(shown)
    return out


def check_role(actor: Principal, changes: list[str]) -> None:
    """Refuse anyone but an owner (`data:egress`) a change that sends personal data somewhere new; `changes` names
    what in the request does (for the answer). The step-up comes after the request is validated."""
    if not is_allowed(actor.role, Permission.DATA_EGRESS):
        raise Forbidden(
            f"only an owner may send personal data somewhere new ({', '.join(changes)})",
            code=Code.EGRESS_OWNER_ONLY,
            details={"permission": Permission.DATA_EGRESS.value, "role": actor.role.value, "changes": changes},
        )
