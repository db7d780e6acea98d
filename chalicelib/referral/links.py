"""Links to a participant and their campaign: public API URLs, short invite links, landing pages."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

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
    URL of its own, a campaign uses the built-in landing page (web/l/)."""
    landing = rec.spec.landing_url
    parts = urlsplit(str(landing) if landing is not None else get_settings().site_url("/l/"))
    query = [q for q in parts.query.split("&") if q]
    query.append(urlencode({"campaign": rec.cid, **params}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))
