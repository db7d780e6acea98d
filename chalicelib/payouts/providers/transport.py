"""One HTTP exchange with a payout provider, through the egress guard: a timeout, a size cap, no redirects, and
an HTTP error status returned as an answer (the providers put their error codes in 4xx and 5xx bodies).

Anything without a complete answer (a timeout, a reset, a refused address) raises `ProviderUnreachable`: the
request may or may not have arrived, so the caller asks the provider before sending it again.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger
from chalicelib.payouts.providers.base import ProviderUnreachable
from chalicelib.security import egress

MAX_ANSWER_BYTES = 1024 * 1024
USER_AGENT = "Fission/1.0"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def allow_private() -> bool:
    """Only the local and test stacks talk to providers on this machine (their fakes)."""
    return get_settings().stage in ("local", "test")


def _read(response: http.client.HTTPResponse | urllib.error.HTTPError, path: str) -> bytes:
    raw = response.read(MAX_ANSWER_BYTES + 1)
    if len(raw) > MAX_ANSWER_BYTES:
        raise ProviderUnreachable(f"the provider's answer on {path} is too large")
    return bytes(raw)


def exchange(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Answer:
    """Send one request; the provider's answer whatever its status, or ProviderUnreachable without one."""
    path = urlsplit(url).path  # URLs may carry parameters: only the path is logged
    sent = urllib.request.Request(url, data=body, headers={"User-Agent": USER_AGENT, **headers}, method=method)
    try:
        with egress.open_url(sent, timeout=timeout, allow_private=allow_private()) as response:
            return Answer(response.status, dict(response.headers.items()), _read(response, path))
    except urllib.error.HTTPError as exc:
        try:
            with exc:
                return Answer(exc.code, dict(exc.headers.items()), _read(exc, path))
        except (OSError, http.client.HTTPException) as cut:
            logger.warning("payout provider call failed", path=path, error=type(cut).__name__)
            raise ProviderUnreachable(f"the provider's answer on {path} was cut ({type(cut).__name__})") from None
    # Timeouts and resets are OSErrors; a cut or garbled answer (IncompleteRead, BadStatusLine) is an HTTPException.
    except (egress.EgressRefused, urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        logger.warning("payout provider call failed", path=path, error=type(exc).__name__)
        raise ProviderUnreachable(f"the provider did not answer on {path} ({type(exc).__name__})") from None
