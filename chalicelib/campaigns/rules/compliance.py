"""The compliance checker: what a campaign document must not do before it goes live. Pure, no I/O but the word list.

`check` works on the raw document (a dict), not on the validated model, so it can also report a document the
model would refuse (a distribution three levels deep, a reward that qualifies on a share). Every finding names
the field by JSON path and, for words, the character offsets in that field's text as the operator wrote it.
The rules and their reasons are in docs/compliance.md.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.campaigns.rules.costs import DEFAULT_K, DEFAULT_PARTICIPANTS

Severity = Literal["block", "warn"]
WORDS_FILE = Path(__file__).resolve().parent / "sensitive_words.json"

FORCED_SHARING = "FORCED_SHARING"
REWARD_VALUE_CAP = "REWARD_VALUE_CAP"
VALUE_CAP_UNKNOWN = "VALUE_CAP_UNKNOWN"
DISTRIBUTION_DEPTH = "DISTRIBUTION_DEPTH"
SENSITIVE_WORD = "SENSITIVE_WORD"
AUTO_FILL_UNDISCLOSED = "AUTO_FILL_UNDISCLOSED"
EXPIRY_REQUIRED = "EXPIRY_REQUIRED"
RULE_TEXT_REQUIRED = "RULE_TEXT_REQUIRED"
WECHAT_MASS_SHARING = "WECHAT_MASS_SHARING"
PLATFORM_NOT_CONFIGURED = "PLATFORM_NOT_CONFIGURED"
WECOM_STAFF_MISSING = "WECOM_STAFF_MISSING"
FOLLOW_WITHOUT_PLATFORM = "FOLLOW_WITHOUT_PLATFORM"

DEFAULT_VALUE_CAP_PERCENT = 30
# Without a product value the cap cannot be computed; cash or coupons above this still deserve a second look.
UNKNOWN_VALUE_THRESHOLD_FEN = 10_000  # 100 yuan
MIN_RULE_TEXT_CHARS = 10
MAX_DISTRIBUTION_LEVELS = 2
INDUCED_SHARING = "induced_sharing"  # the word category reported as FORCED_SHARING
# Qualifying actions a reward may never depend on (the model knows none of them; a raw document might).
SHARE_ACTIONS = frozenset({"share", "share_moments", "share_group", "forward", "post_moments"})

# Qualifying actions that make a reward depend on likes collected (集赞), not on a friend's own action.
LIKE_ACTIONS = frozenset({"like", "likes", "collect_likes"})

# WeChat's rules on rewarded sharing (docs/wechat-rules.md has the text, the penalties and the way to comply).
WECHAT_RULES = (
    "《微信外部链接内容管理规范》 (upgrade in force since 2019-10-28), 诱导分享/利益诱导: no rewards for sharing, "
    "for inviting friends to help (助力, 砍价, 加速) or for collection tasks (集赞, 集卡); "
    "《微信公众平台运营规范》 3.3.1 诱导分享: no forcing or inducing users to share to Moments"
)
WECHAT_COMPLY = (
    "reward the invitee's own action (a join, follow or first paid order) rather than the share; let people send "
    "the link one-to-one to a friend (wechat_friend), and do not ask for, count or reward posts to Moments or groups"
)
# Channels (analytics channel names, UTM sources) that are Moments and group chats.
MASS_SHARING_CHANNELS = frozenset({"wechat_moments", "wechat_group", "moments", "timeline", "wechat_timeline"})
CHANNEL_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "ch", "channel")

# How a rule text discloses that groups may be completed with virtual members, and how it states validity.
AUTO_FILL_DISCLOSURES = (
    "自动成团", "系统补位", "系统自动补齐", "系统自动补位", "虚拟成员", "系统成员", "机器人成员", "模拟成团",
    "auto-fill", "auto fill", "autofill", "system members", "virtual members", "completed by the system",
)  # fmt: skip
VALIDITY_WORDS = (
    "有效期", "内有效", "天内", "日内", "过期", "到期", "截止", "前使用", "内使用",
    "valid", "expire", "expiry", "expiration",
)  # fmt: skip

# Characters people put between the characters of a word to slip past a filter; ignored when matching.
_SEPARATORS = frozenset(" \t\r\n\u3000·・.。,，-_—*~|/\\'\"`、\u200b\u200c\u200d\ufeff")


# --- the word list ------------------------------------------------------------------------------


class WordCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z_]{1,40}$")
    name: str = Field(min_length=1)
    severity: Severity
    reason: str = Field(min_length=1)
    words: list[str] = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _matchable(cls, words: list[str]) -> list[str]:
        for word in words:
            if len(_fold(word)) < 2:
                raise ValueError(f"{word!r} is too short to match reliably")
        if len({_fold(w) for w in words}) != len(words):
            raise ValueError("a word is listed twice (after normalising)")
        return words


class WordList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    about: str
    categories: list[WordCategory] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, categories: list[WordCategory]) -> list[WordCategory]:
        if len({c.id for c in categories}) != len(categories):
            raise ValueError("category ids must be unique")
        return categories


@cache
def word_list(path: Path = WORDS_FILE) -> WordList:
    """The sensitive-word list, validated once per process (a broken file fails loudly, not silently)."""
    return WordList.model_validate(json.loads(path.read_text(encoding="utf-8")))


# Copy that points to Moments or group chats. Broader than the induced_sharing words (which block outright):
# a mention alone is not an instruction to share for a reward, so these warn for a person to read.
@cache
def mass_sharing_words() -> WordList:
    """The Moments and group-chat wording, validated like the shipped list (once, on first use)."""
    return WordList.model_validate(_MASS_SHARING)


_MASS_SHARING: dict[str, Any] = (
    {
        "version": 1,
        "about": "Moments and group-chat wording, for campaigns whose reward depends on help, shares or likes",
        "categories": [
            {
                "id": "wechat_mass_sharing",
                "name": "Moments or group sharing",
                "severity": "warn",
                "reason": WECHAT_RULES,
                "words": [
                    "朋友圈", "微信群", "群聊", "转发到群", "分享到群", "发到群", "转发群", "发群", "集赞", "点赞",
                    "转发", "moments", "wechat group", "wechat groups", "group chat", "group chats", "repost",
                    "forward", "likes",
                ],
            }
        ],
    }
)  # fmt: skip


# --- findings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    field: str
    message: str
    details: dict[str, Any] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "field": self.field,
            "message": self.message,
            "details": self.details,
        }


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "block"]


# --- matching -----------------------------------------------------------------------------------


def _fold_char(ch: str) -> str:
    """NFKC (full-width to half-width), case-folded, separators dropped (after NFKC: `．` is a `.` too)."""
    return "".join(c for c in unicodedata.normalize("NFKC", ch).casefold() if c not in _SEPARATORS)


def _fold(text: str) -> str:
    return "".join(_fold_char(ch) for ch in text)


def _folded_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the offset of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for folded in _fold_char(ch):
            chars.append(folded)
            origin.append(index)
    return "".join(chars), origin


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@dataclass(frozen=True)
class Hit:
    word: str
    category: WordCategory
    start: int  # offsets in the original text, end exclusive
    end: int


def find_words(text: str, words: WordList | None = None) -> list[Hit]:
    """Every listed word in `text`, positions in the original string; a hit inside a longer hit is dropped.

    Latin words match whole words only ("best" is not found in "bestseller"); CJK words match anywhere.
    """
    listed = words or word_list()
    folded, origin = _folded_with_offsets(text)
    hits: list[Hit] = []
    for category in listed.categories:
        for word in category.words:
            needle = _fold(word)
            at = folded.find(needle)
            while at >= 0:
                start, end = origin[at], origin[at + len(needle) - 1] + 1
                bounded = not _is_word_char(needle[0]) or start == 0 or not _is_word_char(text[start - 1])
                bounded = bounded and (
                    not _is_word_char(needle[-1]) or end == len(text) or not _is_word_char(text[end])
                )
                if bounded:
                    hits.append(Hit(word, category, start, end))
                at = folded.find(needle, at + 1)
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Hit] = []
    for hit in hits:
        if any(k.start <= hit.start and hit.end <= k.end for k in kept):
            continue
        kept.append(hit)
    return kept


def _mentions(text: str, phrases: tuple[str, ...]) -> bool:
    folded = _fold(text)
    return any(_fold(phrase) in folded for phrase in phrases)


# --- walking the document -----------------------------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rewards(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every reward in the document with its path: ladder milestones, invitee reward, leader perk, prize, variants."""
    rules = _obj(document.get("rules"))
    for i, milestone in enumerate(rules.get("milestones") or []):
        reward = _obj(_obj(milestone).get("reward"))
        if reward:
            yield f"rules.milestones[{i}].reward", reward
    for name in ("invitee_reward", "leader_perk", "prize"):
        reward = _obj(rules.get(name))
        if reward:
            yield f"rules.{name}", reward
    for v, variant in enumerate(_obj(document.get("experiment")).get("variants") or []):
        for i, milestone in enumerate(_obj(variant).get("milestones") or []):
            reward = _obj(_obj(milestone).get("reward"))
            if reward:
                yield f"experiment.variants[{v}].milestones[{i}].reward", reward


def _copy_fields(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every text a participant reads: the page, the share card and poster (share title/text, rule line), rewards."""
    for name in ("title", "description", "rule_text"):
        yield name, _text(document.get(name))
    share = _obj(document.get("share"))
    yield "share.title", _text(share.get("title"))
    yield "share.text", _text(share.get("text"))
    for v, variant in enumerate(_obj(document.get("experiment")).get("variants") or []):
        variant_share = _obj(_obj(variant).get("share"))
        yield f"experiment.variants[{v}].share.title", _text(variant_share.get("title"))
        yield f"experiment.variants[{v}].share.text", _text(variant_share.get("text"))
    rules = _obj(document.get("rules"))
    yield "rules.product.name", _text(_obj(rules.get("product")).get("name"))
    for path, reward in _rewards(document):
        yield f"{path}.name", _text(reward.get("name"))
        # A raw document may carry a condition on a reward; the model would refuse it, the checker reports it.
        for key in ("condition", "requires"):
            if key in reward:
                yield f"{path}.{key}", _text(reward.get(key))


# --- the rules ----------------------------------------------------------------------------------


def _word_findings(document: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for path, text in _copy_fields(document):
        for hit in find_words(text):
            details = {
                "word": text[hit.start : hit.end],
                "listed": hit.word,
                "category": hit.category.id,
                "start": hit.start,
                "end": hit.end,
            }
            if hit.category.id == INDUCED_SHARING:
                findings.append(
                    Finding(
                        FORCED_SHARING,
                        "block",
                        path,
                        f"asks people to post to Moments or a group ({hit.word}): {hit.category.reason}",
                        details,
                    )
                )
            else:
                findings.append(
                    Finding(
                        SENSITIVE_WORD,
                        hit.category.severity,
                        path,
                        f"{hit.category.name}: {text[hit.start : hit.end]!r}. {hit.category.reason}",
                        details,
                    )
                )
    return findings


def _qualifying_findings(document: dict[str, Any]) -> list[Finding]:
    action = _text(_obj(document.get("rules")).get("qualifying_action"))
    if action.lower() in SHARE_ACTIONS:
        return [
            Finding(
                FORCED_SHARING,
                "block",
                "rules.qualifying_action",
                "a reward may not qualify on sharing; count a join, follow or first paid order instead",
                {"qualifying_action": action},
            )
        ]
    return []


@dataclass(frozen=True)
class PlatformFacts:
    """What the tenant has connected (docs/wechat.md): the platforms, and whether WeCom names its staff."""

    connected: frozenset[str]
    wecom_staff: bool


# The platform each poster QR target needs (`link` needs none).
QR_TARGET_PLATFORMS = {"wecom_contact": "wecom", "wechat_oa": "wechat", "miniprogram": "miniprogram"}
LOGIN_PLATFORMS = frozenset({"wechat", "miniprogram"})


def _platform_findings(document: dict[str, Any], facts: PlatformFacts | None) -> list[Finding]:
    """Settings whose platform is not connected: posters that cannot render and logins that cannot happen block
    (each would otherwise surface as a 409 to the first participant); a follow campaign with neither WeCom nor the
    official account connected warns, since the merchant's follows webhook may feed it."""
    if facts is None:
        return []
    found = []
    target = _text(document.get("qr_target"))
    needed = QR_TARGET_PLATFORMS.get(target)
    if needed is not None and needed not in facts.connected:
        found.append(Finding(
            PLATFORM_NOT_CONFIGURED, "block", "qr_target",
            f"posters with qr_target {target} need the {needed} platform connected (PUT /v1/admin/platforms/{needed}); "
            "until then every poster answers 409 PLATFORM_NOT_CONFIGURED",
            {"platform": needed, "qr_target": target},
        ))  # fmt: skip
    elif needed == "wecom" and not facts.wecom_staff:
        found.append(Finding(
            WECOM_STAFF_MISSING, "block", "qr_target",
            "WeCom channel codes need the staff who receive the contacts: set staff_user_ids "
            "(PUT /v1/admin/platforms/wecom); until then every poster answers 409 WECOM_STAFF_MISSING",
            {"platform": "wecom", "qr_target": target},
        ))  # fmt: skip
    identity = _obj(document.get("identity"))
    login = _text(identity.get("platform"))
    if _text(identity.get("mode")) == "platform" and login in LOGIN_PLATFORMS and login not in facts.connected:
        found.append(Finding(
            PLATFORM_NOT_CONFIGURED, "block", "identity.platform",
            f"the {login} login needs the {login} platform connected (PUT /v1/admin/platforms/{login}); "
            "until then nobody can join",
            {"platform": login},
        ))  # fmt: skip
    action = _text(_obj(document.get("rules")).get("qualifying_action"))
    if action == "follow" and not {"wecom", "wechat"} & facts.connected:
        found.append(Finding(
            FOLLOW_WITHOUT_PLATFORM, "warn", "rules.qualifying_action",
            "invites count on a follow, and neither WeCom nor the official account is connected: only the "
            "merchant's follows webhook (POST /v1/hooks/{tid}/follows) can make them count",
            {"platforms": ["wecom", "wechat"]},
        ))  # fmt: skip
    return found


def _product_value(document: dict[str, Any]) -> int | None:
    given = _int(_obj(document.get("compliance")).get("product_value_fen"))
    if given:
        return given
    price = _int(_obj(document.get("rules")).get("original_price_fen"))
    return price or None


def _cap_percent(document: dict[str, Any]) -> int:
    given = _int(_obj(document.get("compliance")).get("value_cap_percent"))
    return given if given is not None and 1 <= given <= 100 else DEFAULT_VALUE_CAP_PERCENT


def _value_findings(document: dict[str, Any], override: bool) -> list[Finding]:
    product, percent = _product_value(document), _cap_percent(document)
    severity: Severity = "warn" if override else "block"
    findings: list[Finding] = []
    for path, reward in _rewards(document):
        value = _int(reward.get("value_fen")) or 0
        if product is None:
            if reward.get("type") in ("cash", "coupon") and value > UNKNOWN_VALUE_THRESHOLD_FEN:
                findings.append(
                    Finding(
                        VALUE_CAP_UNKNOWN,
                        "warn",
                        path,
                        f"worth {value} fen but no product value is known to check the "
                        f"{percent}% cap against; set compliance.product_value_fen",
                        {"value_fen": value, "threshold_fen": UNKNOWN_VALUE_THRESHOLD_FEN},
                    )
                )
            continue
        if value * 100 > product * percent:
            findings.append(
                Finding(
                    REWARD_VALUE_CAP,
                    severity,
                    path,
                    f"worth {value} fen, more than {percent}% of the product value ({product} fen)",
                    {
                        "value_fen": value,
                        "product_value_fen": product,
                        "cap_percent": percent,
                        "cap_fen": product * percent // 100,
                        "overridden": override,
                    },
                )
            )
    if document.get("mode") == "distribution":
        for i, rate in enumerate(_obj(document.get("rules")).get("rates_bp") or []):
            rate_bp = _int(rate) or 0
            if rate_bp > percent * 100:
                findings.append(
                    Finding(
                        REWARD_VALUE_CAP,
                        severity,
                        f"rules.rates_bp[{i}]",
                        f"a commission of {rate_bp / 100:g}% is more than the {percent}% cap",
                        {"rate_bp": rate_bp, "cap_percent": percent, "overridden": override},
                    )
                )
    return findings


def _depth_findings(document: dict[str, Any]) -> list[Finding]:
    if document.get("mode") != "distribution":
        return []
    rules = _obj(document.get("rules"))
    levels = _int(rules.get("levels")) or 1
    given = rules.get("rates_bp")
    rates: list[Any] = given if isinstance(given, list) else []
    deepest = max(levels, len(rates))
    if deepest <= MAX_DISTRIBUTION_LEVELS:
        return []
    path = "rules.levels" if levels > MAX_DISTRIBUTION_LEVELS else "rules.rates_bp"
    return [
        Finding(
            DISTRIBUTION_DEPTH,
            "block",
            path,
            f"distribution {deepest} levels deep; at most {MAX_DISTRIBUTION_LEVELS} levels are allowed",
            {"levels": deepest, "max_levels": MAX_DISTRIBUTION_LEVELS},
        )
    ]


def _auto_fill_findings(document: dict[str, Any]) -> list[Finding]:
    rules = _obj(document.get("rules"))
    if document.get("mode") != "group_buy" or rules.get("auto_fill") is not True:
        return []
    if _mentions(_text(document.get("rule_text")), AUTO_FILL_DISCLOSURES):
        return []
    return [
        Finding(
            AUTO_FILL_UNDISCLOSED,
            "block",
            "rules.auto_fill",
            "groups may be completed with virtual members, and the rule text must say so "
            "(e.g. 未成团的由系统补位自动成团 / unfilled groups are auto-filled by the system)",
            {"accepted_phrases": list(AUTO_FILL_DISCLOSURES)},
        )
    ]


def _expiry_findings(document: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    if not document.get("ends_at"):
        findings.append(Finding(EXPIRY_REQUIRED, "block", "ends_at", "the campaign needs an end time"))
    coupons = [path for path, reward in _rewards(document) if reward.get("type") == "coupon"]
    if coupons and not _mentions(_text(document.get("rule_text")), VALIDITY_WORDS):
        findings.append(
            Finding(
                EXPIRY_REQUIRED,
                "warn",
                "rule_text",
                "the rewards include coupons; say in the rule text how long they stay valid",
                {"rewards": coupons},
            )
        )
    return findings


def _rule_text_findings(document: dict[str, Any]) -> list[Finding]:
    text = _text(document.get("rule_text")).strip()
    if len(text) >= MIN_RULE_TEXT_CHARS:
        return []
    return [
        Finding(
            RULE_TEXT_REQUIRED,
            "block",
            "rule_text",
            f"participants need the rules in writing: at least {MIN_RULE_TEXT_CHARS} characters",
            {"length": len(text), "min_length": MIN_RULE_TEXT_CHARS},
        )
    ]


def _collects_help(document: dict[str, Any]) -> str | None:
    """Why the campaign's reward depends on what others do for a participant (help, shares, likes), or None.

    An assist campaign rewards help collected (助力, 砍价); a raw document may qualify on shares or likes.
    Invite, poster, group buy and distribution reward the invitee's own join or order, which WeChat allows."""
    if document.get("mode") == "assist":
        return "assist"
    action = _text(_obj(document.get("rules")).get("qualifying_action")).lower()
    if action in SHARE_ACTIONS or action in LIKE_ACTIONS:
        return f"qualifying_action:{action}"
    return None


def _channel_signals(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, channel) for every Moments or group channel the campaign is set up for: a raw `channels` list,
    and the UTM or `ch` parameters of its landing URL."""
    given = document.get("channels")
    for i, channel in enumerate(given if isinstance(given, list) else []):
        if isinstance(channel, str) and channel.strip().lower() in MASS_SHARING_CHANNELS:
            yield f"channels[{i}]", channel
    landing = _text(document.get("landing_url"))
    for name, values in parse_qs(urlsplit(landing).query).items():
        if name.lower() in CHANNEL_PARAMS:
            for value in values:
                if value.strip().lower() in MASS_SHARING_CHANNELS:
                    yield "landing_url", f"{name}={value}"


def _wechat_sharing_findings(document: dict[str, Any]) -> list[Finding]:
    """A reward that depends on help, shares or likes collected, promoted in Moments or groups.

    A channel setting is a block: the campaign is configured to collect rewarded help from Moments or groups,
    which is the case WeChat's rules name. A word in the copy is a warning: it may say "do not post to Moments"
    as well as the opposite, and the imperative phrases are already blocked as FORCED_SHARING."""
    why = _collects_help(document)
    if why is None:
        return []
    basis = {"reward_depends_on": why, "rules": WECHAT_RULES, "how_to_comply": WECHAT_COMPLY}
    findings = [
        Finding(
            WECHAT_MASS_SHARING,
            "block",
            path,
            f"the reward depends on help or shares collected and the campaign is set up for Moments or group "
            f"chats ({channel}); WeChat forbids it: {WECHAT_RULES}. To comply: {WECHAT_COMPLY}",
            {**basis, "source": "channel", "channel": channel},
        )
        for path, channel in _channel_signals(document)
    ]
    for path, text in _copy_fields(document):
        for hit in find_words(text, mass_sharing_words()):
            findings.append(
                Finding(
                    WECHAT_MASS_SHARING,
                    "warn",
                    path,
                    f"the reward depends on help or shares collected and the copy mentions "
                    f"{text[hit.start : hit.end]!r}; WeChat forbids rewarding shares to Moments or groups: "
                    f"{WECHAT_RULES}. To comply: {WECHAT_COMPLY}",
                    {
                        **basis,
                        "source": "copy",
                        "word": text[hit.start : hit.end],
                        "listed": hit.word,
                        "start": hit.start,
                        "end": hit.end,
                    },  # fmt: skip
                )
            )
    return findings


def check(
    document: dict[str, Any], *, override_value_cap: bool = False, platforms: PlatformFacts | None = None
) -> list[Finding]:
    """Every finding for a campaign document, blocking ones first, then in document order.

    `override_value_cap` (the owner's override) turns REWARD_VALUE_CAP findings into warnings marked
    `overridden`; nothing else can be overridden. `platforms`, when given, checks the settings that need a
    connected platform.
    """
    findings = [
        *_platform_findings(document, platforms),
        *_rule_text_findings(document),
        *_expiry_findings(document),
        *_qualifying_findings(document),
        *_depth_findings(document),
        *_value_findings(document, override_value_cap),
        *_auto_fill_findings(document),
        *_word_findings(document),
        *_wechat_sharing_findings(document),
    ]
    return sorted(findings, key=lambda f: f.severity != "block")


# --- the preview request ------------------------------------------------------------------------


class PreviewRequest(BaseModel):
    """What to simulate: seed participant counts, the viral coefficient K and, for commission, an order value."""

    model_config = ConfigDict(extra="forbid")

    participants: list[Annotated[int, Field(ge=1, le=100_000_000)]] = Field(
        default_factory=lambda: list(DEFAULT_PARTICIPANTS), min_length=1, max_length=10
    )
    k: float = Field(default=DEFAULT_K, ge=0, le=10, allow_inf_nan=False)
    average_order_fen: int | None = Field(default=None, ge=1, le=100_000_000_00)
