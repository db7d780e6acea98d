"""Links to a participant and their campaign: public API URLs, short invite links, landing pages."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from chalicelib.accounts import domains
from chalicelib.campaigns import live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import NotFound
from chalicelib.referral import identity
from chalicelib.referral.rules import participants as domain
from chalicelib.referral.store import participants as store
from chalicelib.security import click_tokens


def public_url(path: str) -> str:
    return get_settings().public_base_url.rstrip("/") + path


def follow_link(code: str, channel: str | None, now: datetime) -> str:
    """A short link was opened: record the click and return where to send the visitor
    (the campaign's landing page with the ref code and a signed click token, which the page
    hands back on join so the first click can win)."""
    participant = store.get(code) if re.fullmatch(domain.CODE_PATTERN, code) else None
    if participant is None:
        raise NotFound("no such invite code", code=Code.INVITE_CODE_NOT_FOUND)
    if participant.erased:
        raise identity.erased_error()
    if channel is not None and not re.fullmatch(r"[a-z0-9_]{1,32}", channel):
        channel = None  # an unknown channel tag is dropped, never an error for the visitor
    rec = live.campaign(participant.cid)
    store.record_click(rec.cid, code, channel, now)
    click = click_tokens.issue(code, int(now.timestamp()))
    return landing_link(rec, {"ref": code, **({"ch": channel} if channel else {}), "click": click})


def landing_link(rec: CampaignRecord, params: dict[str, str]) -> str:
    """The campaign's landing page with `campaign` and `params` added to its query. Without a landing
    URL of its own, a campaign uses the built-in landing page (web/l/).

    When the tenant registered landing domains (docs/domains.md), the page is on the first healthy one:
    the built-in page at `https://{host}/l/`, and a campaign landing URL on any of the tenant's domains
    moves to the healthy host with its path kept. A landing URL elsewhere (the merchant's own site) is
    left alone. With every domain blocked, links fall back to the deployment's default base."""
    return _landing_link(rec, params, domains.landing_hosts(rec.tid))


def _landing_link(rec: CampaignRecord, params: dict[str, str], hosts: domains.LandingHosts) -> str:
    landing = rec.spec.landing_url
    parts = urlsplit(str(landing) if landing is not None else get_settings().site_url("/l/"))
    if hosts.current is not None:
        if landing is None:
            parts = urlsplit(f"https://{hosts.current}/l/")
        elif (parts.hostname or "").lower() in hosts.registered:
            parts = parts._replace(scheme="https", netloc=hosts.current)
    query = [q for q in parts.query.split("&") if q]
    query.append(urlencode({"campaign": rec.cid, **params}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))


def poster_link(rec: CampaignRecord, code: str) -> str:
    """What a poster's QR code opens. A QR scanned in WeChat opens its own host inside WeChat, so with
    landing domains it is the landing page on the healthy domain (`ch=poster`); without any, the short
    invite link as before. A poster made before a block has another URL, hence another cache key."""
    hosts = domains.landing_hosts(rec.tid)
    if hosts.current is not None:
        return _landing_link(rec, {"ref": code, "ch": "poster"}, hosts)
    return public_url(f"/v1/i/{code}")
