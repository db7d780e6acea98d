"""Landing domains (pure): what a valid host is, and which of a tenant's domains links are minted on.

A tenant registers several landing domains so that a domain WeChat blocks can be replaced at once:
links are minted on the first healthy domain in the tenant's order, and short links resolve at click
time, so a link shared before a block lands on the domain that is healthy now. docs/domains.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DomainStatus = Literal["healthy", "blocked"]
# Enough to rotate through a blocking wave; few enough to review and to set up in the WeChat console.
MAX_DOMAINS = 20
MAX_PRIORITY = 10_000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class InvalidHost(ValueError):
    """A host that cannot be a landing domain; `reason` is a short machine word, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise_host(given: str, *, reserved: frozenset[str] = frozenset()) -> str:
    """The host in lowercase IDNA (punycode) form, or InvalidHost.

    Accepts a bare host (`m.example.com`, `例子.中国`) or an https origin (`https://m.example.com`, a trailing
    `/` allowed). Refuses another scheme, a path, query, port or user info, IP addresses, single-label names
    and the hosts in `reserved` (the API's own host: a block must never take the API down with it).
    """
    text = given.strip()
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() != "https":
            raise InvalidHost("scheme", "landing domains are served over https only")
        text = text.removesuffix("/")
    if not text:
        raise InvalidHost("empty", "give a host name, e.g. m.example.com")
    if any(ch in text for ch in "/?#@\\") or any(ch.isspace() for ch in text):
        raise InvalidHost("not_a_host", "give a host name only: no path, query, user or spaces")
    if ":" in text or text.startswith("["):
        # A colon is a port or an IPv6 literal; neither can be a landing domain.
        raise InvalidHost("port", "no port or IPv6 address: a landing domain is a host name served on 443")
    text = text.removesuffix(".")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise InvalidHost("ip_address", "an IP address cannot be a landing domain; WeChat needs a host name")
    try:
        host = text.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidHost("idna", f"{given!r} is not a valid internationalised host name") from exc
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253:
        raise InvalidHost("not_a_host", "give a full host name with a dot, at most 253 characters")
    if not all(_LABEL.fullmatch(label) for label in labels) or not _TLD.fullmatch(labels[-1]):
        raise InvalidHost("not_a_host", "each label is letters, digits and inner hyphens; the last one is a TLD")
    if all(part.isdigit() for part in labels):
        raise InvalidHost("ip_address", "an IP address cannot be a landing domain; WeChat needs a host name")
    if host in reserved:
        raise InvalidHost("reserved", "this host serves the API; a landing domain must be another host")
    return host


@dataclass(frozen=True)
class DomainRecord:
    tid: str
    did: str
    host: str  # lowercase IDNA
    status: DomainStatus
    priority: int  # lower first; ties by creation time
    created_at: str
    created_by: str
    blocked_at: str | None = None
    blocked_by: str | None = None
    reason: str | None = None  # why it was blocked, as the operator or monitor said


def ordered(domains: list[DomainRecord]) -> list[DomainRecord]:
    """The tenant's order: priority, then the order they were added."""
    return sorted(domains, key=lambda d: (d.priority, d.created_at, d.did))


def current(domains: list[DomainRecord]) -> DomainRecord | None:
    """The domain links are minted on: the first healthy one in the tenant's order, or None when the tenant
    registered none or every one is blocked (then links use the deployment's default base)."""
    return next((d for d in ordered(domains) if d.status == "healthy"), None)


class DomainCreate(BaseModel):
    """A new landing domain; without a priority it goes last."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    host: str = Field(min_length=1, max_length=300, description="m.example.com or https://m.example.com")
    priority: int | None = Field(default=None, ge=0, le=MAX_PRIORITY)


class DomainBlock(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, min_length=1, max_length=200)
