"""Subscription-message consent events, keyword limits and the platform channels' settings (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.messaging.rules import messages as m
from chalicelib.platforms.rules import events, xml
from chalicelib.platforms.rules import messages as wire

POPUP = """<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[oBob]]></FromUserName>
<CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[subscribe_msg_popup_event]]></Event>
<SubscribeMsgPopupEvent>
<List><TemplateId><![CDATA[tplA]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>
<PopupScene>2</PopupScene></List>
<List><TemplateId><![CDATA[tplB]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>
<PopupScene>2</PopupScene></List>
</SubscribeMsgPopupEvent></xml>"""


def test_a_popup_is_one_consent_event_per_template_with_a_stable_dedupe_key() -> None:
    fields = xml.parse(POPUP)
    found = events.consent_events(fields, xml.entries(POPUP, "SubscribeMsgPopupEvent"))
    again = events.consent_events(fields, xml.entries(POPUP, "SubscribeMsgPopupEvent"))

    assert [(e.user, e.template_id, e.consent) for e in found] == [
        ("oBob", "tplA", "accept"),
        ("oBob", "tplB", "reject"),
    ]
    assert [e.digest for e in found] == [e.digest for e in again] and found[0].digest != found[1].digest
    assert events.wechat_event(fields) is None  # not a follow: the contact handlers ignore it


def test_too_many_list_entries_are_refused() -> None:
    entry = "<List><TemplateId>t</TemplateId><SubscribeStatusString>accept</SubscribeStatusString></List>"
    body = f"<xml><SubscribeMsgPopupEvent>{entry * 21}</SubscribeMsgPopupEvent></xml>"
    with pytest.raises(xml.XmlRefused):
        xml.entries(body, "SubscribeMsgPopupEvent")


@pytest.mark.parametrize(
    ("key", "value", "sent"),
    [
        ("thing1", "一二三四五六七八九十一二三四五六七八九十一", "一二三四五六七八九十一二三四五六七八九…"),
        ("thing2", "short\nline", "short line"),
        ("phrase3", "配送中已经完成", "配送中已经"),
        ("time4", "2031年1月6日 12:00 ~ 2031年1月7日 12:00", "2031年1月6日 12:00 ~ 2031年1月7日 12:00"),
    ],
)
def test_values_are_cut_to_their_keywords_documented_length(key: str, value: str, sent: str) -> None:
    assert wire.fit(key, value) == sent
    assert wire.bizsend_body("o", "t", {key: value}, None)["data"][key] == {"value": sent}


def test_a_platform_identity_is_read_from_the_external_id() -> None:
    assert wire.user_of("openid:oBob", wire.OPENID_PREFIX) == "oBob"
    assert wire.user_of("wecom:wmX", wire.OPENID_PREFIX) is None
    assert wire.user_of("openid:", wire.OPENID_PREFIX) is None


def test_platform_channels_keep_the_gateway_default_and_check_their_templates() -> None:
    gateway = m.MessagingSettings.model_validate({"channels": {"wechat": {"endpoint": "https://gw.example.cn/wx"}}})
    template = {"template_id": "tplRewardIssued01", "data": {"thing1": "{campaign}"}}
    platform = m.MessagingSettings.model_validate(
        {
            "channels": {
                "wechat": {"provider": "platform", "templates": {"default": template}},
                "wecom": {"provider": "platform"},
            }
        }
    )

    assert gateway.endpoint("wechat") == "https://gw.example.cn/wx" and gateway.platform("wechat") is None
    assert platform.endpoint("wechat") is None and m.not_configured("wechat", platform) is None
    wechat = platform.platform("wechat")
    assert isinstance(wechat, m.WechatChannel) and wechat.template_for("welcome") == wechat.templates["default"]
    for bad in (
        {"provider": "gateway"},
        {"provider": "platform"},
        {"provider": "platform", "templates": {"default": template | {"data": {"title1": "x"}}}},
        {"provider": "platform", "templates": {"default": template | {"template_id": "bad id!"}}},
        {"provider": "platform", "templates": {"nope": template}},
    ):
        with pytest.raises(ValidationError):
            m.MessagingSettings.model_validate({"channels": {"wechat": bad}})
