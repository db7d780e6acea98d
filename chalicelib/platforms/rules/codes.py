"""A participant's platform codes: the documented requests, reading the answers, and the quotas (pure).

- WeCom contact way (渠道活码, `externalcontact/add_contact_way`): scene 2 (a QR code), its `state` naming the
  participant; the answer's `qr_code` is the URL of a QR image WeCom hosts. At most 500,000 contact ways per corp
  made through the API (deleted ones free their place: `del_contact_way`).
- Official account parametric QR code (`qrcode/create`): permanent (`QR_LIMIT_STR_SCENE`), because posters are
  shared and printed for longer than a temporary code's 30 days, and a code that expires would leave dead
  posters behind. Permanent codes are limited to 100,000 per account and cannot be deleted.
- Mini-program code (`wxa/getwxacodeunlimit`): unlimited in number, answered as image bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.platforms.rules.tokens import PlatformUnreachable

# The platforms whose codes are stored per participant (a mini-program code is an image, kept with the posters).
StoredPlatform = Literal["wecom", "wechat"]
STORED: tuple[StoredPlatform, ...] = ("wecom", "wechat")

ADD_CONTACT_WAY = "/cgi-bin/externalcontact/add_contact_way"
DEL_CONTACT_WAY = "/cgi-bin/externalcontact/del_contact_way"
QRCODE_CREATE = "/cgi-bin/qrcode/create"
WXACODE_UNLIMITED = "/wxa/getwxacodeunlimit"

# The documented limits: contact ways made through the API per corp, permanent QR codes per official account.
LIMITS: dict[StoredPlatform, int] = {"wecom": 500_000, "wechat": 100_000}

# How long the container that creates a code may take (a token fetch and the call, each up to the platform
# timeout) before another may take over; how long the others wait for it.
LEASE_SECONDS = 15.0
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1

REMARK_LENGTH = 30  # WeCom's limit on a contact way's remark
UNKNOWN_CONFIG_ID = 41044  # del_contact_way of a config_id WeCom does not know (deleted already)


class CodeQuotaReached(Conflict):
    def __init__(self, platform: StoredPlatform, used: int) -> None:
        super().__init__(
            f"{platform} allows {LIMITS[platform]} codes per account and this tenant has made {used}; "
            "use the invite link (qr_target: link) for further participants",
            code=Code.PLATFORM_CODE_QUOTA,
            details={"platform": platform, "used": used, "limit": LIMITS[platform]},
        )


class StaffMissing(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "WeCom channel codes need the staff who receive the contacts: set staff_user_ids "
            "(PUT /v1/admin/platforms/wecom)",
            code=Code.WECOM_STAFF_MISSING,
        )


def contact_way_request(scene: str, staff_user_ids: list[str], remark: str) -> dict[str, Any]:
    """`add_contact_way`'s body: a QR code (scene 2) with the participant in `state`, added without the staff's
    confirmation. One member is type 1 (单人); several are type 2 (多人), WeCom spreading contacts among them."""
    if not staff_user_ids:
        raise StaffMissing()
    return {
        "type": 1 if len(staff_user_ids) == 1 else 2,
        "scene": 2,
        "style": 1,
        "remark": remark[:REMARK_LENGTH],
        "skip_verify": True,
        "state": scene,
        "user": list(staff_user_ids),
    }


def qrcode_request(scene: str) -> dict[str, Any]:
    return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}


def wxacode_request(scene: str, page: str | None) -> dict[str, Any]:
    """`getwxacodeunlimit`'s body; `check_path` off so a page of an unpublished version is accepted."""
    body: dict[str, Any] = {"scene": scene, "check_path": False}
    if page:
        body["page"] = page
    return body


def _text(answer: dict[str, Any], field: str, path: str) -> str:
    value = answer.get(field)
    if not isinstance(value, str) or not value:
        raise PlatformUnreachable(f"the platform's answer on {path} has no {field}")
    return value


def read_contact_way(answer: dict[str, Any]) -> tuple[str, str]:
    """(config_id, qr_code image URL)."""
    return _text(answer, "config_id", ADD_CONTACT_WAY), _text(answer, "qr_code", ADD_CONTACT_WAY)


def read_qrcode(answer: dict[str, Any]) -> tuple[str, str]:
    """(ticket, url: the content the QR code encodes)."""
    return _text(answer, "ticket", QRCODE_CREATE), _text(answer, "url", QRCODE_CREATE)


def usage(counts: dict[StoredPlatform, int]) -> list[dict[str, Any]]:
    return [{"platform": platform, "used": counts.get(platform, 0), "limit": LIMITS[platform]} for platform in STORED]
