"""Rate limits on the public routes and on API keys: the limits as data, fixed-window maths and flush
decisions (pure).

A limit is "at most `limit` requests per `window_seconds` per subject", where the subject is one
client seen through one scope (its IP address, its device id, its participant code, or its API key). Windows
are fixed and aligned to the epoch (a minute window starts on the minute), so every container
agrees on which window a request belongs to without talking to the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    IP = "ip"
    DEVICE = "device"
    PARTICIPANT = "participant"
    API_KEY = "api_key"


class RouteClass(StrEnum):
    """Routes that share limits. Health routes and operators' admin calls have no class and are never limited."""

    JOIN = "join"
    EVENT = "event"
    ACTION = "action"  # assist help, group open and join, reward claim: a participant acting
    LINK = "link"
    POSTER = "poster"
    READ = "read"  # the other public GETs landing pages poll
    # Every request an API key authenticates (the /v1/server/ routes, and admin routes a key's scopes
    # open). Not in ROUTES: the authorisation middleware applies it once the key is verified, so a
    # request naming a key it cannot prove never spends that key's allowance.
    SERVER = "server"


# The route areas: operators' console (tokens, or API keys a scope opens) and merchant back ends (API keys).
ADMIN_PREFIX = "/v1/admin/"
SERVER_PREFIX = "/v1/server/"

# (method, Chalice resource path) -> class. A public route missing here is not limited: so are the platforms'
# callbacks (`/v1/wecom/...`, `/v1/wechat/.../callback`) and the payout providers' (`/v1/payouts/{tid}/.../notify`),
# which come from the providers' few servers, are verified by signature, and must never be refused for volume.
ROUTES: dict[tuple[str, str], RouteClass] = {
    ("POST", "/v1/campaigns/{cid}/participants"): RouteClass.JOIN,
    ("POST", "/v1/campaigns/{cid}/events"): RouteClass.EVENT,
    ("POST", "/v1/campaigns/{cid}/assists/{owner_code}"): RouteClass.ACTION,
    ("POST", "/v1/campaigns/{cid}/groups"): RouteClass.ACTION,
    ("POST", "/v1/groups/{gid}/members"): RouteClass.ACTION,
    ("POST", "/v1/rewards/{rid}/claim"): RouteClass.ACTION,
    ("POST", "/v1/campaigns/{cid}/me/proof"): RouteClass.ACTION,
    ("POST", "/v1/campaigns/{cid}/me/sign-out"): RouteClass.ACTION,
    ("POST", "/v1/campaigns/{cid}/me/withdrawals"): RouteClass.ACTION,
    ("GET", "/v1/i/{code}"): RouteClass.LINK,
    ("GET", "/v1/posters/{cid}/{filename}"): RouteClass.POSTER,
    ("GET", "/v1/campaigns/{cid}/public"): RouteClass.READ,
    ("GET", "/v1/campaigns/{cid}/me"): RouteClass.READ,
    ("GET", "/v1/campaigns/{cid}/me/wallet"): RouteClass.READ,
    ("GET", "/v1/campaigns/{cid}/me/withdrawals"): RouteClass.READ,
    ("GET", "/v1/campaigns/{cid}/leaderboard"): RouteClass.READ,
    ("GET", "/v1/campaigns/{cid}/assists/{owner_code}"): RouteClass.READ,
    ("GET", "/v1/groups/{gid}"): RouteClass.READ,
    ("GET", "/v1/wechat/{tid}/oauth/start"): RouteClass.LINK,
    ("GET", "/v1/wechat/{tid}/oauth/callback"): RouteClass.LINK,
    ("GET", "/v1/wechat/{tid}/jssdk-config"): RouteClass.READ,
    ("POST", "/v1/miniprogram/{tid}/login"): RouteClass.ACTION,
    ("GET", "/v1/campaigns/{cid}/me/points"): RouteClass.READ,
    ("POST", "/v1/campaigns/{cid}/me/redemptions"): RouteClass.ACTION,
    ("GET", "/v1/campaigns/{cid}/catalogue"): RouteClass.READ,
}

WINDOW_UNITS = {"s": 1, "sec": 1, "min": 60, "hour": 3600, "day": 86400}
# Counters outlive their window by this much before DynamoDB's TTL may delete them.
TTL_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class Limit:
    route_class: RouteClass
    scope: Scope
    limit: int
    window_seconds: int

    @property
    def slot(self) -> tuple[RouteClass, Scope, int]:
        """What an override replaces: one class, scope and window length."""
        return (self.route_class, self.scope, self.window_seconds)


DEFAULT_LIMITS: tuple[Limit, ...] = (
    Limit(RouteClass.JOIN, Scope.IP, 30, 60),
    Limit(RouteClass.JOIN, Scope.IP, 500, 86400),
    Limit(RouteClass.JOIN, Scope.DEVICE, 10, 60),
    Limit(RouteClass.EVENT, Scope.IP, 120, 60),
    Limit(RouteClass.ACTION, Scope.PARTICIPANT, 20, 60),
    Limit(RouteClass.LINK, Scope.IP, 120, 60),
    Limit(RouteClass.POSTER, Scope.IP, 120, 60),
    Limit(RouteClass.READ, Scope.IP, 300, 60),
    Limit(RouteClass.SERVER, Scope.API_KEY, 600, 60),
)


def parse_limits(spec: str | None) -> tuple[Limit, ...]:
    """The limits in force: `off`, `on` (the defaults) or overrides of the defaults.

    Overrides are comma-separated `class.scope=N/window`, e.g. `join.ip=60/min,join.device=0/min`;
    window is s, min, hour or day (or a number of seconds). An override replaces the default of the
    same class, scope and window length, or adds one; `N = 0` removes it. Raises ValueError on typos
    (the service then logs an error and keeps the defaults: a typo never silently opens the API).
    """
    text = (spec or "on").strip().lower()
    if text in ("off", "false", "0", "none"):
        return ()
    limits = {limit.slot: limit for limit in DEFAULT_LIMITS}
    if text in ("on", "true", "1", "default", ""):
        return tuple(limits.values())
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            name, _, value = entry.partition("=")
            route_class, _, scope = name.strip().partition(".")
            count, _, unit = value.strip().partition("/")
            seconds = WINDOW_UNITS[unit] if unit in WINDOW_UNITS else int(unit)
            limit = Limit(RouteClass(route_class), Scope(scope), int(count), seconds)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"bad rate limit {entry!r}: use class.scope=N/min|hour|day") from exc
        if limit.limit < 0 or limit.window_seconds < 1:
            raise ValueError(f"bad rate limit {entry!r}: the count must be >= 0 and the window >= 1 s")
        if limit.limit == 0:
            limits.pop(limit.slot, None)
        else:
            limits[limit.slot] = limit
    return tuple(limits.values())


def window_start(now: float, window_seconds: int) -> int:
    """The start (epoch seconds) of the fixed window holding `now`."""
    return int(now // window_seconds) * window_seconds


def retry_after(now: float, window_seconds: int) -> int:
    """Whole seconds until the window holding `now` ends; at least 1, as Retry-After needs."""
    return max(1, math.ceil(window_start(now, window_seconds) + window_seconds - now))


def counter_expiry(start: int, window_seconds: int) -> int:
    """The TTL of a stored counter: the end of its window plus a margin."""
    return start + window_seconds + TTL_MARGIN_SECONDS


@dataclass
class WindowCount:
    """One container's view of one counter: the global total it last learnt plus what it has not
    written yet. The global total only grows within a window, so the view never over-counts."""

    known: int = 0
    pending: int = 0
    pending_since: float | None = None

    @property
    def total(self) -> int:
        return self.known + self.pending

    def count(self, now: float) -> None:
        if self.pending == 0:
            self.pending_since = now
        self.pending += 1

    def uncount(self) -> None:
        self.pending -= 1
        if self.pending == 0:
            self.pending_since = None

    def flushed(self, global_total: int) -> None:
        self.known = max(self.known, global_total)
        self.pending = 0
        self.pending_since = None


def flush_threshold(limit: int, threshold: int) -> int:
    """How many requests a container holds back before writing: the configured threshold, or a tenth
    of a large limit (a 500-a-day counter need not be written every 20 requests: the overshoot this
    allows stays a tenth of the limit per extra container)."""
    return max(threshold, limit // 10)


def flush_age(window_seconds: int, max_age: float) -> float:
    """How old a held-back count may grow: `max_age` for a minute window, proportionally longer for
    longer ones (a day counter a few seconds stale changes nothing; writing it every second would)."""
    return max_age * max(1.0, window_seconds / 60)


def should_flush(
    count: WindowCount, limit: int, window_seconds: int, now: float, *, threshold: int, max_age: float
) -> bool:
    """Whether to write the unflushed count now (it includes the request being decided).

    - `flush_threshold` requests are waiting: a busy subject's steady state, one write per threshold;
    - the oldest waiting request is `flush_age` old: a subject that returns is counted globally soon
      (a subject that never returns to this container costs no write at all);
    - the count reaches the limit: a request that would make the subject hit its limit is decided
      on the global total, so one container alone never lets a subject past its limit.
    """
    if count.pending == 0:
        return False
    if count.pending >= flush_threshold(limit, threshold) or count.total >= limit:
        return True
    return count.pending_since is not None and now - count.pending_since >= flush_age(window_seconds, max_age)


def exceeded(count: WindowCount, limit: int) -> bool:
    return count.total > limit
