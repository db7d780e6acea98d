"""Serving a participant's poster: by content hash from the cache, else fetch the avatar and render once.

Pillow, qrcode and the layout models are imported on the first poster request only, so cold starts of
every other route do not pay for them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.campaigns import live
from chalicelib.campaigns.rules.poster_layouts import DEFAULT_LAYOUT
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import PosterRules
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import NotAcceptable, NotFound
from chalicelib.core.observability import logger, metrics
from chalicelib.platforms import codes as platform_codes
from chalicelib.platforms import credentials as platform_credentials
from chalicelib.platforms.rules.credentials import MiniProgramCredentials
from chalicelib.platforms.rules.tokens import PlatformUnreachable
from chalicelib.posters import avatars, cache
from chalicelib.referral import identity, links
from chalicelib.referral.rules.participants import CODE_PATTERN
from chalicelib.referral.rules.records import ParticipantRecord

if TYPE_CHECKING:
    from chalicelib.posters.render import PosterFields

Format = Literal["jpeg", "png"]
CONTENT_TYPES: dict[Format, str] = {"jpeg": "image/jpeg", "png": "image/png"}
_FILE = re.compile(CODE_PATTERN.rstrip("$") + r"\.(jpg|jpeg|png)$")
# Browsers revalidate after a few minutes (the ETag makes that a 304); a CDN may keep it a day.
CACHE_CONTROL = "public, max-age=300, s-maxage=86400"
DEFAULT_NICKNAME = "好友"


@dataclass(frozen=True)
class Poster:
    status: int  # 200, or 304 when the client's copy is current
    body: bytes
    content_type: str
    etag: str


def _layout_id(rec: CampaignRecord) -> str:
    """The poster campaign's layout; campaigns of other modes use the default one."""
    rules = rec.spec.rules
    return rules.layout_id if isinstance(rules, PosterRules) else DEFAULT_LAYOUT


def _fields(rec: CampaignRecord, participant: ParticipantRecord) -> PosterFields:
    from chalicelib.posters.render import PosterFields  # Pillow: loaded by the first poster only

    spec = rec.spec
    ends = spec.ends_at.astimezone(ZoneInfo(spec.timezone))
    rule_line = next((line.strip() for line in spec.rule_text.splitlines() if line.strip()), "")
    return PosterFields(
        nickname=participant.nickname or DEFAULT_NICKNAME,
        title=spec.share.title or spec.title,
        invite_url=links.poster_link(rec, participant.code),
        body=spec.share.text or spec.description,
        tagline="邀请你一起参加",
        qr_caption="长按识别二维码",
        expiry=f"活动截止 {ends:%Y-%m-%d %H:%M}",
        rule=rule_line,
    )


def content_key(
    layout_json: str, fields: PosterFields, avatar_url: str | None, fmt: Format, target: str | None = None
) -> str:
    """Everything the image depends on, hashed: equal keys mean identical posters. `target` names a platform
    code drawn in the QR slot (None: a code of `fields.invite_url`, as before)."""
    document = {"layout": layout_json, "fields": asdict(fields), "avatar_url": avatar_url, "format": fmt}
    if target is not None:
        document["qr_target"] = target
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]


def _hashed(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class QrSlot:
    """What the poster's QR slot shows: the code of `fields.invite_url` (link, official account), or a platform's
    image fetched on a cache miss (`image`), and the name that keys the poster (None for the invite link)."""

    target: str | None
    content: str | None = None  # encoded by our QR encoder instead of the invite link
    image: Callable[[], bytes] | None = None


def _qr_slot(rec: CampaignRecord, code: str, *, create: bool = True) -> QrSlot | None:
    """The QR slot of the campaign's `qr_target`, creating the participant's platform code on first use (with
    `create` False: None when it was never made).

    A platform the tenant has not connected is a 409 PLATFORM_NOT_CONFIGURED."""
    target = rec.spec.qr_target
    who = platform_codes.Participant(rec.tid, rec.cid, code)
    if target == "wechat_oa":
        made = platform_codes.official_account_code(who) if create else platform_codes.existing_official_account(code)
        return QrSlot(f"wechat_oa:{made.ticket}", content=made.content) if made is not None else None
    if target == "wecom_contact":
        way = platform_codes.wecom_contact(who) if create else platform_codes.existing_wecom_contact(code)
        if way is None:
            return None
        url = way.image_url
        return QrSlot(f"wecom_contact:{way.config_id}", image=lambda: _cached_image(url, _fetch_image))
    if target == "miniprogram":
        found = (
            platform_credentials.get_credentials(rec.tid, "miniprogram")
            if create
            else platform_credentials.find_credentials(rec.tid, "miniprogram")
        )
        if not isinstance(found, MiniProgramCredentials):
            return None
        page = rec.spec.qr_page or ""
        name = f"miniprogram:{found.app_id}:{code}:{page}"
        return QrSlot(
            name, image=lambda: _cached_image(name, lambda _: platform_codes.miniprogram_code(who, page or None))
        )
    return QrSlot(None)


def _cached_image(name: str, fetch: Callable[[str], bytes]) -> bytes:
    """A platform code image, kept in the poster cache (by a hash of its name) so a new layout or format does not
    fetch it again."""
    store = cache.get_cache()
    key = _hashed("code-image", name)
    try:
        found = store.get(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a fetch
        logger.exception("code image cache read failed", key=key)
        found = None
    if found is not None:
        return found
    data = fetch(name)
    try:
        store.put(key, data, "image/png")
    except Exception:  # noqa: BLE001
        logger.exception("code image cache write failed", key=key)
    return data


def _fetch_image(url: str) -> bytes:
    """WeCom's QR image, fetched through the egress guard like an avatar (no redirects, capped, short)."""
    settings = get_settings()
    fetched = avatars.fetch(
        url,
        timeout=settings.avatar_timeout_seconds,
        max_bytes=settings.avatar_max_bytes,
        allow_private=not settings.is_cloud,
    )
    if fetched.data is None:
        raise PlatformUnreachable(f"the platform's QR image could not be fetched ({fetched.reason})")
    return fetched.data


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in candidates or "*" in candidates


def _avatar(url: str | None) -> bytes | None:
    if not url:
        return None
    settings = get_settings()
    fetched = avatars.fetch(
        url,
        timeout=settings.avatar_timeout_seconds,
        max_bytes=settings.avatar_max_bytes,
        # The local demo uses avatars served from this machine; the cloud never fetches internal addresses.
        allow_private=not settings.is_cloud,
    )
    if fetched.data is None:
        logger.info("avatar not used", reason=fetched.reason)
        metrics.add_metric(name="PosterAvatarFallback", unit=MetricUnit.Count, value=1)
    return fetched.data


def _acceptable(accept: str | None, content_type: str) -> bool:
    """Whether the client takes the image (API Gateway and Chalice only return binary bodies then)."""
    kinds = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    return bool(kinds & {"*/*", "image/*", content_type})


def serve(cid: str, filename: str, accept: str | None, if_none_match: str | None, now: datetime) -> Poster:
    """The poster of the participant with the invite code in `filename` (`{code}.jpg` or `{code}.png`)."""
    found = _FILE.fullmatch(filename)
    if found is None:
        raise NotFound("no such poster; the path is /v1/posters/{cid}/{code}.jpg or .png", code=Code.POSTER_NOT_FOUND)
    code, extension = filename.rsplit(".", 1)
    fmt: Format = "png" if extension == "png" else "jpeg"
    if not _acceptable(accept, CONTENT_TYPES[fmt]):
        raise NotAcceptable(
            f"a poster is {CONTENT_TYPES[fmt]}; send an Accept header that allows it (e.g. image/* or */*)",
            details={"content_type": CONTENT_TYPES[fmt]},
        )
    rec = live.campaign(cid)
    participant = identity.by_code(code)
    if participant is None or participant.cid != rec.cid:
        raise NotFound("no such invite code in this campaign", code=Code.INVITE_CODE_NOT_FOUND)
    if participant.erased:
        raise identity.erased_error()

    # Pillow and the layout models: the first poster request pays for them, no other route does.
    from chalicelib.posters import layouts, render

    layout = layouts.load(_layout_id(rec))
    fields = _fields(rec, participant)
    slot = _qr_slot(rec, participant.code)
    assert slot is not None
    if slot.content is not None:
        fields = replace(fields, invite_url=slot.content)
    key = content_key(layout.canonical_json(), fields, participant.avatar_url, fmt, slot.target)
    etag = f'"{key}"'
    if _matches(if_none_match, etag):
        return Poster(304, b"", CONTENT_TYPES[fmt], etag)
    store = cache.get_cache()
    try:
        cached = store.get(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a render, never the poster
        logger.exception("poster cache read failed", key=key)
        cached = None
    if cached is not None:
        metrics.add_metric(name="PosterCacheHit", unit=MetricUnit.Count, value=1)
        return Poster(200, cached, CONTENT_TYPES[fmt], etag)
    code_image = slot.image() if slot.image is not None else None
    body = render.render(layout, fields, fmt, _avatar(participant.avatar_url), code_image)
    metrics.add_metric(name="PosterRendered", unit=MetricUnit.Count, value=1)
    try:
        store.put(key, body, CONTENT_TYPES[fmt])
    except Exception:  # noqa: BLE001
        logger.exception("poster cache write failed", key=key)
    return Poster(200, body, CONTENT_TYPES[fmt], etag)


def cached_keys(rec: CampaignRecord, participant: ParticipantRecord) -> set[str]:
    """The cache keys this participant's posters have now (both formats): an erasure deletes them
    while it still knows the nickname and avatar they are hashed from."""
    from chalicelib.posters import layouts  # the layout models, built on first use (see serve)

    layout = layouts.load(_layout_id(rec))
    fields = _fields(rec, participant)
    formats: tuple[Format, ...] = ("jpeg", "png")
    slot = _qr_slot(rec, participant.code, create=False)
    if slot is not None and slot.content is not None:
        fields = replace(fields, invite_url=slot.content)
    target = slot.target if slot is not None else None
    return {content_key(layout.canonical_json(), fields, participant.avatar_url, fmt, target) for fmt in formats}


def forget(poster_keys: set[str]) -> None:
    """Delete cached posters by key (repeating it is harmless)."""
    store = cache.get_cache()
    for key in sorted(poster_keys):
        store.delete(key)
