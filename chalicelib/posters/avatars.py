"""Fetching a participant's avatar for a poster: short, capped, checked, and never fatal.

The URL is the participant's own input, so the fetch goes through the egress guard (no
private or loopback targets in the cloud, no redirects) with a total deadline and a size
cap. Any failure returns no bytes and a reason; the poster then draws a generated avatar.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from chalicelib.security import egress

CHUNK = 64 * 1024
ACCEPT = "image/jpeg, image/png, image/webp, image/gif;q=0.5"
USER_AGENT = "FissionPoster/1.0"


@dataclass(frozen=True)
class Fetched:
    """The avatar bytes, or None and why not (for logs and metrics)."""

    data: bytes | None
    reason: str | None = None


def fetch(url: str, *, timeout: float, max_bytes: int, allow_private: bool) -> Fetched:
    """GET `url` within `timeout` seconds in all (a slow trickle is cut off too) and `max_bytes`."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": USER_AGENT})
    try:
        with egress.open_url(request, timeout=timeout, allow_private=allow_private) as response:
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if not kind.startswith("image/"):
                return Fetched(None, f"not an image ({kind or 'no content type'})")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                return Fetched(None, f"too big ({declared} bytes)")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    return Fetched(None, "too slow")
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    return Fetched(None, f"too big (over {max_bytes} bytes)")
    except egress.EgressRefused as exc:
        return Fetched(None, f"refused: {exc}")
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError; timeouts are OSErrors
        return Fetched(None, f"unreachable: {exc}")
    if not body:
        return Fetched(None, "empty")
    return Fetched(bytes(body))
