"""A tenant's WeCom, official account and mini program credentials: their shapes, merging, and the view (pure).

The stored document is the full, validated model; a PUT carries any subset of the fields and keeps the others,
so an owner can change the callback token without pasting the app secret again. The view never holds a secret:
ids in clear, each secret as whether it is set, a keyed fingerprint and its last four characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.platforms.rules.crypto import valid_aes_key

Platform = Literal["wecom", "wechat", "miniprogram"]
PLATFORMS: tuple[Platform, ...] = ("wecom", "wechat", "miniprogram")

# WeCom corp ids are `ww` (older ones `wx`) + 16 characters; official account and mini program app ids `wx` + 16.
CORP_ID = r"^w[wx][0-9A-Za-z]{16}$"
APP_ID = r"^wx[0-9A-Za-z]{16}$"
# Secrets as the consoles issue them (WeCom's are 43 characters, app secrets 32 hex), with room to spare.
SECRET = r"^[0-9A-Za-z_\-]{16,128}$"
# The callback token: letters and digits, at most 32 (both consoles' rule).
CALLBACK_TOKEN = r"^[0-9A-Za-z]{3,32}$"
# A WeCom member's userid (帐号): 1-64 letters, digits and `_-.@`; a contact way takes at most 100 members.
StaffUserId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_\-.@]{1,64}$")]
MAX_STAFF = 100


def _aes_key(value: str | None) -> str | None:
    if value is not None and not valid_aes_key(value):
        raise ValueError("an EncodingAESKey is 43 characters of letters and digits that decode to 32 bytes")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class WecomCredentials(_Strict):
    corp_id: str = Field(pattern=CORP_ID)
    contact_secret: str = Field(pattern=SECRET)  # 客户联系 secret
    callback_token: str = Field(pattern=CALLBACK_TOKEN)
    encoding_aes_key: str
    agent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    # The members who receive the contacts of channel codes (they need the customer-contact feature).
    staff_user_ids: list[StaffUserId] = Field(default_factory=list, max_length=MAX_STAFF)

    _aes = field_validator("encoding_aes_key")(_aes_key)


class WechatCredentials(_Strict):
    app_id: str = Field(pattern=APP_ID)
    app_secret: str = Field(pattern=SECRET)
    callback_token: str = Field(pattern=CALLBACK_TOKEN)
    # plain: 明文模式; safe: 安全模式 (encrypted with the EncodingAESKey, which it then needs).
    message_mode: Literal["plain", "safe"] = "safe"
    encoding_aes_key: str | None = None

    _aes = field_validator("encoding_aes_key")(_aes_key)

    @model_validator(mode="after")
    def _safe_mode_has_key(self) -> WechatCredentials:
        if self.message_mode == "safe" and self.encoding_aes_key is None:
            raise ValueError("safe mode needs the encoding_aes_key")
        return self


class MiniProgramCredentials(_Strict):
    app_id: str = Field(pattern=APP_ID)
    app_secret: str = Field(pattern=SECRET)


Credentials = WecomCredentials | WechatCredentials | MiniProgramCredentials

MODELS: dict[Platform, type[_Strict]] = {
    "wecom": WecomCredentials,
    "wechat": WechatCredentials,
    "miniprogram": MiniProgramCredentials,
}
# The fields shown only as fingerprints, per platform; every other field is shown as it is.
SECRETS: dict[Platform, tuple[str, ...]] = {
    "wecom": ("contact_secret", "callback_token", "encoding_aes_key"),
    "wechat": ("app_secret", "callback_token", "encoding_aes_key"),
    "miniprogram": ("app_secret",),
}
# The id the platform names as the receiver inside encrypted callbacks, and the one its tokens are fetched for.
APP_ID_FIELD: dict[Platform, str] = {"wecom": "corp_id", "wechat": "app_id", "miniprogram": "app_id"}


AES_KEY_PATTERN = r"^[A-Za-z0-9+/]{43}$"


class WecomUpdate(_Strict):
    """Any of the WeCom fields; the ones left out keep their values (all but `agent_id` are needed at first)."""

    corp_id: str | None = Field(default=None, pattern=CORP_ID)
    contact_secret: str | None = Field(default=None, pattern=SECRET)
    callback_token: str | None = Field(default=None, pattern=CALLBACK_TOKEN)
    encoding_aes_key: str | None = Field(default=None, pattern=AES_KEY_PATTERN)
    agent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    staff_user_ids: list[StaffUserId] | None = Field(default=None, max_length=MAX_STAFF)


class WechatUpdate(_Strict):
    """Any of the official account's fields; the ones left out keep their values."""

    app_id: str | None = Field(default=None, pattern=APP_ID)
    app_secret: str | None = Field(default=None, pattern=SECRET)
    callback_token: str | None = Field(default=None, pattern=CALLBACK_TOKEN)
    message_mode: Literal["plain", "safe"] | None = None
    encoding_aes_key: str | None = Field(default=None, pattern=AES_KEY_PATTERN)


class MiniProgramUpdate(_Strict):
    """Any of the mini program's fields; the ones left out keep their values."""

    app_id: str | None = Field(default=None, pattern=APP_ID)
    app_secret: str | None = Field(default=None, pattern=SECRET)


UPDATES: dict[Platform, type[_Strict]] = {
    "wecom": WecomUpdate,
    "wechat": WechatUpdate,
    "miniprogram": MiniProgramUpdate,
}


def merged(platform: Platform, current: dict[str, Any] | None, update: BaseModel) -> Credentials:
    """The credentials after `update`: its fields set over the current ones, validated as a whole.

    Raises pydantic's ValidationError (a 422 at the route) when the result is incomplete or malformed."""
    document = dict(current or {})
    document.update(update.model_dump(exclude_unset=True))
    document = {key: value for key, value in document.items() if value is not None}
    model = MODELS[platform]
    return model.model_validate(document)  # type: ignore[return-value]


def load(platform: Platform, document: dict[str, Any]) -> Credentials:
    return MODELS[platform].model_validate(document)  # type: ignore[return-value]


def receive_id(platform: Platform, credentials: Credentials) -> str:
    return str(getattr(credentials, APP_ID_FIELD[platform]))


def changed_fields(platform: Platform, before: Credentials | None, after: Credentials) -> list[str]:
    old = before.model_dump() if before is not None else {}
    return sorted(key for key, value in after.model_dump().items() if old.get(key) != value)


def view(
    platform: Platform,
    credentials: Credentials | None,
    fingerprint: Callable[[str], str],
    callback_url: str | None,
    updated_at: str | None,
) -> dict[str, Any]:
    """What the console shows: ids in clear, secrets only as set / fingerprint / last four."""
    document = credentials.model_dump() if credentials is not None else {}
    fields: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for name in MODELS[platform].model_fields:
        value = document.get(name)
        if name in SECRETS[platform]:
            secrets[name] = (
                {"set": True, "fingerprint": fingerprint(value), "last4": value[-4:]}
                if value
                else {"set": False, "fingerprint": None, "last4": None}
            )
        else:
            fields[name] = value
    return {
        "platform": platform,
        "connected": credentials is not None,
        **fields,
        "secrets": secrets,
        "callback_url": callback_url,
        "updated_at": updated_at,
    }


_TID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def callback_path(platform: Platform, tid: str) -> str | None:
    """The path the merchant pastes into the console; the mini program receives no callbacks here."""
    if platform == "miniprogram" or not _TID.match(tid):
        return None
    return f"/v1/{platform}/{tid}/callback"
