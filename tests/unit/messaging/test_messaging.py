"""Messaging rules: quiet hours across midnight and DST, local days, caps, settings, templates, tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import compliance
from chalicelib.messaging.rules import messages as m

pytestmark = pytest.mark.unit

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
NIGHT = m.QuietHours(start="21:00", end="09:00")
LUNCH = m.QuietHours(start="12:00", end="14:00")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        ("2026-11-24T12:59:00", False),  # 20:59 in Shanghai
        ("2026-11-24T13:00:00", True),  # 21:00
        ("2026-11-24T15:59:00", True),  # 23:59
        ("2026-11-24T16:00:00", True),  # 00:00
        ("2026-11-25T00:59:00", True),  # 08:59
        ("2026-11-25T01:00:00", False),  # 09:00
    ],
)
def test_quiet_hours_cross_midnight_in_the_tenants_zone(moment: str, quiet: bool) -> None:
    assert m.in_quiet_hours(utc(moment), SHANGHAI, NIGHT) is quiet


def test_a_daytime_window_and_no_window() -> None:
    assert m.in_quiet_hours(utc("2026-11-24T04:30:00"), SHANGHAI, LUNCH)  # 12:30
    assert not m.in_quiet_hours(utc("2026-11-24T06:00:00"), SHANGHAI, LUNCH)  # 14:00
    assert not m.in_quiet_hours(utc("2026-11-24T04:30:00"), SHANGHAI, None)
    assert m.next_allowed(utc("2026-11-24T04:30:00"), SHANGHAI, None) == utc("2026-11-24T04:30:00")
    assert m.next_allowed(utc("2026-11-24T04:30:00"), SHANGHAI, LUNCH) == utc("2026-11-24T06:00:00")


def test_next_allowed_is_the_window_end_before_and_after_midnight() -> None:
    # 22:00 local -> 09:00 the next local day; 03:00 local -> 09:00 the same day.
    assert m.next_allowed(utc("2026-11-24T14:00:00"), SHANGHAI, NIGHT) == utc("2026-11-25T01:00:00")
    assert m.next_allowed(utc("2026-11-24T19:00:00"), SHANGHAI, NIGHT) == utc("2026-11-25T01:00:00")
    # Outside the window: now.
    assert m.next_allowed(utc("2026-11-24T05:00:00"), SHANGHAI, NIGHT) == utc("2026-11-24T05:00:00")


def test_quiet_hours_follow_daylight_saving_time() -> None:
    # New York: EDT (UTC-4) until 2026-11-01 02:00, EST (UTC-5) after.
    before = utc("2026-10-31T03:00:00")  # 23:00 EDT on Oct 30
    assert m.in_quiet_hours(before, NEW_YORK, NIGHT)
    # The window ends 09:00 local on Oct 31 (still EDT) = 13:00 UTC.
    assert m.next_allowed(before, NEW_YORK, NIGHT) == utc("2026-10-31T13:00:00")
    across = utc("2026-11-01T03:00:00")  # 23:00 EDT on Oct 31; the window ends 09:00 EST on Nov 1
    assert m.next_allowed(across, NEW_YORK, NIGHT) == utc("2026-11-01T14:00:00")
    spring = utc("2027-03-14T06:30:00")  # 01:30 EST on the night clocks go forward
    assert m.next_allowed(spring, NEW_YORK, NIGHT) == utc("2027-03-14T13:00:00")  # 09:00 EDT


def test_a_window_starting_in_a_skipped_hour_still_ends() -> None:
    gap = m.QuietHours(start="01:00", end="02:30")  # 02:30 does not exist on 2027-03-14 in New York
    moment = utc("2027-03-14T06:30:00")  # 01:30 EST
    assert m.in_quiet_hours(moment, NEW_YORK, gap)
    allowed = m.next_allowed(moment, NEW_YORK, gap)
    assert allowed > moment
    assert not m.in_quiet_hours(allowed, NEW_YORK, gap)


def test_local_day_and_the_next_days_first_allowed_moment() -> None:
    late = utc("2026-11-24T17:00:00")  # 01:00 on the 25th in Shanghai, still the 24th in UTC
    assert m.local_day(late, SHANGHAI) == "2026-11-25"
    assert m.local_day(late, "UTC") == "2026-11-24"
    # Next local day starts at midnight, inside quiet hours, so the first allowed moment is 09:00.
    assert m.next_day_start(utc("2026-11-24T04:00:00"), SHANGHAI, NIGHT) == utc("2026-11-25T01:00:00")
    assert m.next_day_start(utc("2026-11-24T04:00:00"), SHANGHAI, None) == utc("2026-11-24T16:00:00")
    # 23:00 EDT on Oct 31: the next local midnight is still EDT; a day later it is EST.
    assert m.next_day_start(utc("2026-11-01T03:00:00"), NEW_YORK, None) == utc("2026-11-01T04:00:00")
    assert m.next_day_start(utc("2026-11-01T12:00:00"), NEW_YORK, None) == utc("2026-11-02T05:00:00")


def test_settings_defaults_and_limits() -> None:
    settings = m.MessagingSettings()
    assert settings.cap("sms") == m.DEFAULT_DAILY_CAP and settings.max_attempts == 5 and settings.locale == "zh"
    assert m.MessagingSettings(daily_caps={"sms": 2}).cap("sms") == 2
    for bad in (
        {"daily_caps": {"sms": 101}},
        {"daily_caps": {"fax": 1}},
        {"max_attempts": 0},
        {"max_attempts": 21},
        {"locale": "fr"},
        {"quiet_hours": {"start": "25:00", "end": "09:00"}},
        {"quiet_hours": {"start": "09:00", "end": "09:00"}},
        {"channels": {"sms": {"endpoint": "ftp://x.example"}}},
        {"channels": {"email": {"sender": "not-an-address"}}},
        {"channels": {"fax": {"endpoint": "https://x.example"}}},
        {"surprise": True},
    ):
        with pytest.raises(ValidationError):
            m.MessagingSettings.model_validate(bad)


def test_not_configured_names_the_missing_piece() -> None:
    settings = m.MessagingSettings.model_validate(
        {"channels": {"sms": {"endpoint": "https://sms.example.cn/send"}, "email": {"sender": "shop@example.cn"}}}
    )
    assert m.not_configured("sms", settings) is None
    assert m.not_configured("email", settings) is None
    assert m.not_configured("console", settings) is None
    assert m.not_configured("webhook", settings) is None
    assert m.not_configured("wecom", settings) == "wecom channel has no endpoint configured"
    assert m.not_configured("email", m.MessagingSettings()) == "email channel has no sender configured"


def test_message_ids_are_derived_from_tenant_and_key() -> None:
    assert m.message_id("t1", "run-1|0") == m.message_id("t1", "run-1|0")
    assert m.message_id("t1", "run-1|0") != m.message_id("t2", "run-1|0")
    assert 0 <= m.shard_of(m.message_id("t1", "x")) < m.SHARDS


@pytest.mark.parametrize("name", list(m.BUILTIN_TEMPLATES))
def test_builtin_templates_exist_in_both_locales_and_pass_the_compliance_words(name: str) -> None:
    for locale in m.LOCALES:
        subject, text = m.BUILTIN_TEMPLATES[name][locale]
        m.validate_template({locale: text})
        assert not compliance.find_words(subject + " " + text), (name, locale)
        assert "{unsubscribe}" in text


def test_render_picks_the_locale_and_falls_back_to_the_other() -> None:
    values = {"nickname": "小王", "campaign": "冬季邀请", "link": "https://x.example/c", "unsubscribe": "U"}
    zh = m.render("welcome", "zh", values)
    assert zh.subject == "欢迎加入" and "小王" in zh.text and "「冬季邀请」" in zh.text and zh.text.endswith("U")
    en = m.render("welcome", "en", values)
    assert en.subject == "Welcome" and en.text.startswith("Welcome, 小王!")
    only_en = m.render({"en": "Hi {nickname}"}, "zh", values)
    assert only_en == m.Rendered(None, "Hi 小王")
    assert m.pick_locale({"zh": "你好"}, "en") == "zh"


def test_render_is_one_pass_and_never_evaluates() -> None:
    hostile = {"nickname": "{campaign} {nickname.__class__}", "campaign": "C"}
    out = m.render({"en": "{{literal}} {nickname} / {campaign} / {reward}"}, "en", hostile)
    assert out.text == "{literal} {campaign} {nickname.__class__} / C / "


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("promo", "unknown template 'promo'"),
        ({"en": "Hi {name}"}, "template.en: unknown variable {name}"),
        ({"en": "Hi {nickname.__class__}"}, "unknown variable {nickname.__class__}"),
        ({"en": "Hi {0}"}, "unknown variable {0}"),
        ({"en": "Hi {nickname"}, "template.en: unbalanced brace at position 3"),
        ({"zh": "好 }"}, "template.zh: unbalanced brace at position 2"),
        ({"fr": "Salut"}, "unknown template locale(s) ['fr']"),
        ({}, "at least one locale"),
        ({"en": "  "}, "template.en: must be non-empty text"),
        ({"en": "x" * 1001}, "at most 1000 characters"),
        (42, "a template is a built-in name"),
    ],
)
def test_validate_template_says_what_is_wrong(template: object, message: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        m.validate_template(template)
    assert message in str(caught.value)


def test_addresses_by_channel() -> None:
    person = m.Recipient(uid="u_1", phone="13800000000", email="a@example.cn", external_id="openid-1")
    assert m.address_of("sms", person) == "13800000000"
    assert m.address_of("email", person) == "a@example.cn"
    assert m.address_of("wechat", person) == "openid-1" and m.address_of("wecom", person) == "openid-1"
    assert m.address_of("console", person) == "" and m.address_of("webhook", person) == ""
    assert m.address_of("sms", m.Recipient(uid="u_2")) is None


def test_unsubscribe_tokens_round_trip_and_refuse_tampering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.security import keyring, unsubscribe_tokens

    monkeypatch.setattr(unsubscribe_tokens, "get_keyring", lambda: keyring.FileKeyring(tmp_path))
    token = unsubscribe_tokens.issue("t-abc", "u_0123abcd", "sms")
    assert unsubscribe_tokens.verify(token) == unsubscribe_tokens.Unsubscribe("t-abc", "u_0123abcd", "sms")
    tampered = token.replace(".sms.", ".email.")
    assert unsubscribe_tokens.verify(tampered) is None
    assert unsubscribe_tokens.verify("u1.a.b.c") is None
    assert unsubscribe_tokens.verify("x" * 300) is None
    with pytest.raises(ValueError):
        unsubscribe_tokens.issue("t.a", "u_1", "sms")
