"""WeChat's rule on rewarded sharing: help, shares or likes collected from Moments or group chats."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.campaigns.rules import compliance
from chalicelib.campaigns.rules import spec as campaigns
from tests.conftest import campaign_body

CODE = compliance.WECHAT_MASS_SHARING


def assist(**overrides: Any) -> dict[str, Any]:
    """A clean cut-price assist campaign as stored."""
    document = campaigns.spec_to_document(campaigns.parse_spec(campaign_body("assist")))
    document.update(
        title="好友帮砍价", share={"title": "帮我砍一刀", "text": "点开链接帮我砍价，你也能发起自己的砍价。"},
        rule_text="1. 每位好友限助力一次；2. 24小时内砍到底价即可下单；3. 券7天内有效。",
    )  # fmt: skip
    document.update(overrides)
    return document


def wechat(document: dict[str, Any]) -> list[compliance.Finding]:
    return [f for f in compliance.check(document) if f.code == CODE]


def test_a_clean_assist_campaign_has_no_finding() -> None:
    assert wechat(assist()) == []


@pytest.mark.parametrize(
    ("field", "text", "word"),
    [
        ("rule_text", "好友在朋友圈帮你砍价即可到底价", "朋友圈"),
        ("share.text", "快发到微信群让大家帮我砍", "微信群"),
        ("title", "转发给大家一起砍", "转发"),
        ("description", "Ask your group chat to help you cut the price", "group chat"),
        ("rule_text", "Post it on Moments and collect help", "Moments"),
    ],
)
def test_assist_copy_pointing_to_moments_or_groups_warns_with_the_rule_and_the_way_out(
    field: str, text: str, word: str
) -> None:
    document = assist()
    if field.startswith("share."):
        document["share"] = {**document["share"], field.split(".")[1]: text}
    else:
        document[field] = text
    (finding,) = wechat(document)
    assert (finding.severity, finding.field) == ("warn", field)
    assert finding.details["source"] == "copy" and finding.details["word"] == word
    assert text[finding.details["start"] : finding.details["end"]] == word
    assert "《微信外部链接内容管理规范》" in finding.message and "3.3.1" in finding.message
    assert "one-to-one" in finding.details["how_to_comply"] and finding.details["reward_depends_on"] == "assist"


@pytest.mark.parametrize(
    ("overrides", "field", "channel"),
    [
        ({"channels": ["wechat_friend", "wechat_moments"]}, "channels[1]", "wechat_moments"),
        ({"channels": ["WeChat_Group"]}, "channels[0]", "WeChat_Group"),
        ({"landing_url": "https://m.shop.cn/cut?utm_source=wechat_group"}, "landing_url", "utm_source=wechat_group"),
        ({"landing_url": "https://m.shop.cn/cut?x=1&ch=wechat_moments"}, "landing_url", "ch=wechat_moments"),
    ],
)
def test_an_assist_campaign_set_up_for_moments_or_groups_is_blocked(
    overrides: dict[str, Any], field: str, channel: str
) -> None:
    (finding,) = wechat(assist(**overrides))
    assert (finding.severity, finding.field, finding.details["channel"]) == ("block", field, channel)
    assert finding.details["source"] == "channel"
    assert finding in compliance.blocking(compliance.check(assist(**overrides)))


def test_one_to_one_channels_are_fine() -> None:
    assert wechat(assist(channels=["wechat_friend", "link"], landing_url="https://m.shop.cn/?utm_source=sms")) == []


@pytest.mark.parametrize("action", ["likes", "share_moments", "collect_likes"])
def test_any_reward_that_depends_on_likes_or_shares_collected_is_judged_the_same(action: str) -> None:
    document = campaigns.spec_to_document(campaigns.parse_spec(campaign_body("invite")))
    document["rules"]["qualifying_action"] = action
    document["share"] = {"title": "集赞领券", "text": "发朋友圈集满20个赞"}
    document["channels"] = ["wechat_moments"]
    found = wechat(document)
    assert {(f.severity, f.field) for f in found} >= {("block", "channels[0]"), ("warn", "share.text")}
    assert all(f.details["reward_depends_on"] == f"qualifying_action:{action}" for f in found)


@pytest.mark.parametrize("mode", ["invite", "group_buy", "distribution", "poster"])
def test_modes_that_reward_the_invitees_own_action_are_not_judged_by_this_rule(mode: str) -> None:
    document = campaigns.spec_to_document(campaigns.parse_spec(campaign_body(mode)))
    document["description"] = "把链接转发到朋友圈或微信群，好友注册后你得券"
    document["channels"] = ["wechat_moments", "wechat_group"]
    assert wechat(document) == []


def test_imperative_phrases_stay_forced_sharing_blocks_besides_the_wechat_warning() -> None:
    found = compliance.check(assist(rule_text="必须转发到朋友圈才能砍价，券7天内有效。"))
    codes = {(f.code, f.severity) for f in found}
    assert ("FORCED_SHARING", "block") in codes and (CODE, "warn") in codes
