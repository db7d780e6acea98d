"""Messaging rules: channels, the tenant's settings, quiet hours and local days, ids, and templates. Pure, no I/O.

The delivery order and why each rule sits where it does are in docs/messaging.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.platforms.rules import messages as platform_messages

Locale = Literal["zh", "en"]
LOCALES: tuple[Locale, ...] = ("zh", "en")

# Channels that reach a person: caps, quiet hours and unsubscribes apply to them.
PERSON_CHANNELS: tuple[str, ...] = ("console", "email", "sms", "wecom", "wechat")
# `webhook` reaches a merchant's system, not a person: only the kill switch applies.
CHANNELS: tuple[str, ...] = (*PERSON_CHANNELS, "webhook")
HTTP_CHANNELS: tuple[str, ...] = ("sms", "wecom", "wechat")
ALL_CHANNELS = "*"

STATUSES: tuple[str, ...] = ("pending", "deferred", "sent", "dead", "suppressed")
OPEN_STATUSES = frozenset({"pending", "deferred"})

SHARDS = 8
DEFAULT_DAILY_CAP = 3
DEFAULT_MAX_ATTEMPTS = 5
MAX_TEXT_LENGTH = 1000

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def message_id(tid: str, message_key: str) -> str:
    """Derived from what the message is for, not when it was queued: a replayed batch yields the same id."""
    digest = hashlib.sha256(f"{tid}|{message_key}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def shard_of(mid: str) -> int:
    return int(hashlib.sha256(mid.encode()).hexdigest(), 16) % SHARDS


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, as the caller knows them; contact details are encrypted when stored."""

    uid: str
    nickname: str | None = None
    phone: str | None = None
    email: str | None = None
    external_id: str | None = None  # the merchant's user id, e.g. a WeChat openid
    locale: Locale | None = None


def address_of(channel: str, recipient: Recipient) -> str | None:
    """The contact a channel needs, or None when the person gave none (console and webhook need none)."""
    if channel == "sms":
        return recipient.phone
    if channel == "email":
        return recipient.email
    if channel in ("wecom", "wechat"):
        return recipient.external_id
    return ""


# --- settings -------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QuietHours(_Strict):
    """A daily window in the tenant's time zone when people are not messaged; it may cross midnight."""

    start: str = Field(examples=["21:00"])
    end: str = Field(examples=["09:00"])

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError("must be HH:MM (24-hour clock)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self

    @property
    def window(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class HttpChannel(_Strict):
    """A provider gateway that receives signed POSTs (sms, wecom, wechat)."""

    endpoint: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")


class EmailChannel(_Strict):
    sender: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


Provider = Literal["gateway", "platform"]
# What a subscription template is chosen for: a built-in template's name, or `default` for any other message.
DEFAULT_PURPOSE = "default"
Purpose = Literal["win_back", "group_deadline", "birthday", "reward_issued", "welcome", "default"]


class PlatformChannel(_Strict):
    """wecom and wechat: the tenant's own gateway (`provider: gateway`, signed POSTs to `endpoint`, the default), or
    the platform connected in `/v1/admin/platforms/{platform}` (`provider: platform`)."""

    provider: Provider = "gateway"
    endpoint: str | None = Field(default=None, min_length=8, max_length=2048, pattern=r"^https?://")

    @model_validator(mode="after")
    def _gateway_needs_endpoint(self) -> PlatformChannel:
        if self.provider == "gateway" and self.endpoint is None:
            raise ValueError('a gateway channel needs an endpoint (or provider "platform")')
        return self


class SubscriptionTemplate(_Strict):
    """An official account subscription template (订阅通知) and what each of its keywords says: a text with the
    message variables, e.g. `{"thing1": "{campaign}", "thing2": "{reward}"}`; each value is cut to its keyword's
    documented length when sent (`thing` 20 characters, `phrase` 5, ...)."""

    template_id: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    data: dict[str, str] = Field(min_length=1, max_length=platform_messages.MAX_DATA_KEYS)

    @field_validator("data")
    @classmethod
    def _keywords(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if platform_messages.data_key_type(key) is None:
                raise ValueError(f"{key!r} is not a subscription keyword (thing1, time2, character_string3, ...)")
            if not text.strip() or len(text) > 200:
                raise ValueError(f"data.{key}: 1..200 characters")
            _check_text(text, f"data.{key}")
        return value


class WechatChannel(PlatformChannel):
    """`provider: platform` sends the official account's subscription messages, one per follower's consent."""

    templates: dict[Purpose, SubscriptionTemplate] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _platform_needs_templates(self) -> WechatChannel:
        if self.provider == "platform" and not self.templates:
            raise ValueError("subscription messages need at least one template (templates.default, templates.welcome)")
        return self

    def template_for(self, purpose: str | None) -> SubscriptionTemplate | None:
        """The template of a message's purpose (its built-in template's name), else the `default` one."""
        for name, template in self.templates.items():
            if name == purpose:
                return template
        return next((t for name, t in self.templates.items() if name == DEFAULT_PURPOSE), None)


class WecomChannel(PlatformChannel):
    """`provider: platform` sends WeCom customer messages as the staff member who added the customer, else as
    `sender` (a WeCom user id)."""

    sender: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class ChannelSettings(_Strict):
    sms: HttpChannel | None = None
    wecom: WecomChannel | None = None
    wechat: WechatChannel | None = None
    email: EmailChannel | None = None


DailyCapChannel = Literal["console", "email", "sms", "wecom", "wechat"]


class MessagingSettings(_Strict):
    """A tenant's messaging settings (`PUT /v1/admin/messaging`): the whole document, replaced at once."""

    paused: bool = False
    quiet_hours: QuietHours | None = None
    daily_caps: dict[DailyCapChannel, int] = Field(default_factory=dict)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1, le=20)
    locale: Locale = "zh"
    channels: ChannelSettings = Field(default_factory=ChannelSettings)

    @field_validator("daily_caps")
    @classmethod
    def _caps(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, cap in value.items():
            if not 0 <= cap <= 100:
                raise ValueError(f"the daily cap of {channel} must be 0..100")
        return value

    def cap(self, channel: str) -> int:
        for name, cap in self.daily_caps.items():
            if name == channel:
                return cap
        return DEFAULT_DAILY_CAP

    def endpoint(self, channel: str) -> str | None:
        """The gateway a channel posts to; None when it has none (or sends through the platform)."""
        configured = getattr(self.channels, channel, None)
        if isinstance(configured, HttpChannel):
            return configured.endpoint
        if isinstance(configured, PlatformChannel) and configured.provider == "gateway":
            return configured.endpoint
        return None

    def platform(self, channel: str) -> PlatformChannel | None:
        """The wecom or wechat settings when the channel sends through the connected platform, else None."""
        configured = getattr(self.channels, channel, None)
        if isinstance(configured, PlatformChannel) and configured.provider == "platform":
            return configured
        return None

    def sender(self) -> str | None:
        return self.channels.email.sender if self.channels.email is not None else None


def not_configured(channel: str, settings: MessagingSettings) -> str | None:
    """Why `channel` cannot send for this tenant, or None when it can (webhook endpoints come with the message)."""
    if channel in HTTP_CHANNELS and settings.endpoint(channel) is None and settings.platform(channel) is None:
        return f"{channel} channel has no endpoint configured"
    if channel == "email" and settings.sender() is None:
        return "email channel has no sender configured"
    if channel not in CHANNELS:
        return f"unknown channel {channel!r}"
    return None


# --- time: quiet hours and local days ---------------------------------------------------------------


def _local(now_utc: datetime, tz: str) -> datetime:
    return now_utc.astimezone(ZoneInfo(tz))


def _at(day: datetime, clock: time, tz: str) -> datetime:
    """The UTC moment of `clock` on the local date of `day`.

    A wall time skipped by a DST change (fold=0 takes the offset before the gap) lands just after the gap; a
    repeated one takes its first occurrence."""
    return datetime.combine(day.date(), clock).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def in_quiet_hours(now_utc: datetime, tz: str, quiet: QuietHours | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet.window
    wall = _local(now_utc, tz).time()
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def next_allowed(now_utc: datetime, tz: str, quiet: QuietHours | None) -> datetime:
    """`now_utc` when outside quiet hours, else the moment the window ends (local wall clock)."""
    if not in_quiet_hours(now_utc, tz, quiet):
        return now_utc
    assert quiet is not None
    start, end = quiet.window
    local = _local(now_utc, tz)
    day = local if (start < end or local.time() < end) else local + timedelta(days=1)
    return max(_at(day, end, tz), now_utc)


def local_day(now_utc: datetime, tz: str) -> str:
    return _local(now_utc, tz).date().isoformat()


def next_day_start(now_utc: datetime, tz: str, quiet: QuietHours | None) -> datetime:
    """The first moment of the next local day that is outside quiet hours (where an over-cap message waits)."""
    midnight = _at(_local(now_utc, tz) + timedelta(days=1), time(0, 0), tz)
    return next_allowed(midnight, tz, quiet)


# --- templates ------------------------------------------------------------------------------------

VARIABLES: frozenset[str] = frozenset({"nickname", "campaign", "progress", "reward", "link", "unsubscribe"})

# name -> locale -> (subject, text). Plain, factual copy: no absolute claims, no pressure to share.
BUILTIN_TEMPLATES: dict[str, dict[Locale, tuple[str, str]]] = {
    "win_back": {
        "zh": (
            "好久不见",
            "{nickname}，好久不见。「{campaign}」还在进行中，有空回来看看：{link} 退订：{unsubscribe}",
        ),
        "en": (
            "It has been a while",
            "Hi {nickname}, it has been a while. {campaign} is still running: {link} Unsubscribe: {unsubscribe}",
        ),
    },
    "group_deadline": {
        "zh": (
            "拼团即将截止",
            "{nickname}，你参与的「{campaign}」拼团快到截止时间了，当前进度：{progress}。查看详情：{link} "
            "退订：{unsubscribe}",
        ),
        "en": (
            "Your group closes soon",
            "Hi {nickname}, your group in {campaign} closes soon. Progress: {progress}. Details: {link} "
            "Unsubscribe: {unsubscribe}",
        ),
    },
    "birthday": {
        "zh": (
            "生日快乐",
            "{nickname}，祝你生日快乐！我们为你准备了一份心意：{reward}。查看：{link} 退订：{unsubscribe}",
        ),
        "en": (
            "Happy birthday",
            "Happy birthday, {nickname}! A small gift is waiting for you: {reward}. See it here: {link} "
            "Unsubscribe: {unsubscribe}",
        ),
    },
    "reward_issued": {
        "zh": (
            "奖励已到账",
            "{nickname}，你在「{campaign}」中获得的{reward}已发放，可在这里查看：{link} 退订：{unsubscribe}",
        ),
        "en": (
            "Your reward is ready",
            "Hi {nickname}, your reward from {campaign} is ready: {reward}. View it here: {link} "
            "Unsubscribe: {unsubscribe}",
        ),
    },
    "welcome": {
        "zh": (
            "欢迎加入",
            "{nickname}，欢迎参加「{campaign}」。活动进度和规则都在这里：{link} 退订：{unsubscribe}",
        ),
        "en": (
            "Welcome",
            "Welcome, {nickname}! Thanks for joining {campaign}. Your progress and the rules are here: {link} "
            "Unsubscribe: {unsubscribe}",
        ),
    },
}

Template = str | Mapping[str, str]

# `{{` and `}}` are literal braces; `{name}` is a variable; any other brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z_]+$")


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str


def _check_text(text: str, where: str) -> None:
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValueError(f"{where}: unbalanced brace at position {match.start()} (write {{{{ or }}}} for a brace)")
        if not _NAME.match(name) or name not in VARIABLES:
            raise ValueError(
                f"{where}: unknown variable {{{name}}} at position {match.start()}; allowed: "
                + ", ".join(f"{{{v}}}" for v in sorted(VARIABLES))
            )


def validate_template(template: object) -> None:
    """Raise ValueError saying exactly what is wrong with a built-in name or a custom {"zh", "en"} template."""
    if isinstance(template, str):
        if template not in BUILTIN_TEMPLATES:
            raise ValueError(f"unknown template {template!r}; built-in templates: {', '.join(BUILTIN_TEMPLATES)}")
        return
    if not isinstance(template, Mapping):
        raise ValueError('a template is a built-in name or an object {"zh": "...", "en": "..."}')
    unknown = sorted(str(k) for k in template if k not in LOCALES)
    if unknown:
        raise ValueError(f"unknown template locale(s) {unknown}; use zh and/or en")
    if not template:
        raise ValueError("a custom template needs text in at least one locale (zh or en)")
    for locale, text in template.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"template.{locale}: must be non-empty text")
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"template.{locale}: at most {MAX_TEXT_LENGTH} characters")
        _check_text(text, f"template.{locale}")


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    """One pass, names only: a value is never parsed again, and no attribute or index lookup exists."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name is None or name not in VARIABLES:
            raise ValueError(f"bad placeholder {token!r}")
        return str(variables.get(name, ""))

    return _TOKEN.sub(replace, text)


def pick_locale(template: Template, preferred: Locale) -> Locale:
    """The preferred locale when the template has it, else the other one."""
    available = BUILTIN_TEMPLATES[template].keys() if isinstance(template, str) else template.keys()
    if preferred in available:
        return preferred
    return next(locale for locale in LOCALES if locale in available)


def render(template: Template, locale: Locale, variables: Mapping[str, str]) -> Rendered:
    validate_template(template)
    chosen = pick_locale(template, locale)
    if isinstance(template, str):
        subject, text = BUILTIN_TEMPLATES[template][chosen]
        return Rendered(_substitute(subject, variables), _substitute(text, variables))
    return Rendered(None, _substitute(template[chosen], variables))


def subscription_data(template: SubscriptionTemplate, variables: Mapping[str, str]) -> dict[str, str]:
    """Each keyword's text with the message's variables filled in (cut to length when the body is built)."""
    return {key: _substitute(text, variables) for key, text in template.data.items()}


class MessagesQuery(_Strict):
    status: Literal["pending", "deferred", "sent", "dead", "suppressed"] | None = None
    channel: Literal["console", "email", "sms", "wecom", "wechat", "webhook"] | None = None


class SubscriptionsUpdate(_Strict):
    """The channels a person has opted out of; `*` is every person channel. Replaces the whole list."""

    unsubscribed: list[Literal["console", "email", "sms", "wecom", "wechat", "*"]] = Field(max_length=6)


class UnsubscribeRequest(_Strict):
    token: str = Field(min_length=1, max_length=512)
