"""Which changes send personal data somewhere new, and how the audit trail shows a destination."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.audience.rules.automations import egress_changes
from chalicelib.core.errors import Forbidden
from chalicelib.core.rbac import Principal, Role
from chalicelib.messaging.rules.egress import audit_actions, audit_url, check_role, new_endpoints, sends_out
from chalicelib.messaging.rules.messages import MessagingSettings

pytestmark = pytest.mark.unit


def fp(value: str) -> str:
    return f"fp({value})"


def settings(**channels: Any) -> MessagingSettings:
    return MessagingSettings.model_validate({"channels": channels})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://gw.example.cn/sms", "https://gw.example.cn/sms"),
        ("https://gw.example.cn:8443/a/b?key=k1&x=", "https://gw.example.cn:8443/a/b?key=<secret:fp(k1)>&x"),
        ("https://user:pw@gw.example.cn/x#frag", "https://user:<secret:fp(pw)>@gw.example.cn/x#<secret:fp(frag)>"),
        ("http://[::1]:9/x", "http://[::1]:9/x"),
    ],
)
def test_the_audit_shows_where_data_goes_and_only_fingerprints_of_secrets(url: str, shown: str) -> None:
    assert audit_url(url, fp) == shown


def test_only_an_endpoint_that_is_new_counts_as_a_new_destination() -> None:
    before = settings(sms={"endpoint": "https://a.example.cn/sms"}, wecom={"endpoint": "https://a.example.cn/wc"})
    assert new_endpoints(before, before) == []
    assert new_endpoints(before, settings(sms={"endpoint": "https://a.example.cn/sms"})) == []  # wecom switched off
    assert new_endpoints(before, settings(sms={"endpoint": "https://evil.example/sms"})) == ["sms"]
    assert new_endpoints(settings(), settings(wechat={"endpoint": "https://a.example.cn/wx"})) == ["wechat"]
    assert new_endpoints(before, settings(email={"sender": "news@shop.example.cn"})) == []


def test_actions_that_send_data_out() -> None:
    assert sends_out({"type": "call_webhook", "url": "https://x.example/"})
    assert sends_out({"type": "send_message", "channel": "sms", "template": "welcome"})
    assert sends_out({"type": "send_message", "channel": "email", "template": "welcome"})
    assert not sends_out({"type": "send_message", "channel": "console", "template": "welcome"})
    assert not sends_out({"type": "add_tag", "tag": "vip"})
    assert not sends_out({"type": "issue_reward", "reward": {"type": "points", "name": "p", "points": 1}})
    shown = audit_actions([{"type": "call_webhook", "url": "https://x.example/h?t=1"}], fp)
    assert shown == [{"type": "call_webhook", "url": "https://x.example/h?t=<secret:fp(1)>"}]


CALL = {"type": "call_webhook", "url": "https://x.example/h"}
TAG = {"type": "add_tag", "tag": "vip"}


def rule(*actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "trigger": {"type": "joined"}, "conditions": None, "actions": list(actions), **extra}


def test_an_automation_sends_data_somewhere_new_when_its_egress_changes() -> None:
    assert egress_changes(None, rule(TAG)) == []
    assert egress_changes(None, rule(TAG, CALL)) == ["actions[1].call_webhook"]
    assert egress_changes(None, rule(CALL, enabled=False)) == []  # off: nothing goes out
    owned = rule(CALL)
    assert egress_changes(owned, rule(CALL, TAG)) == []  # a tag more
    assert egress_changes(owned, rule(CALL, enabled=False)) == []
    assert egress_changes(rule(CALL, enabled=False), owned) == ["actions[0].call_webhook"]  # switched back on
    assert egress_changes(owned, rule({**CALL, "url": "https://y.example/"})) != []
    assert egress_changes(owned, rule(CALL, trigger={"type": "order.paid"})) != []  # about others, at other times
    assert egress_changes(owned, rule(CALL, conditions="spend >= 1")) != []


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST, Role.FINANCE, Role.VIEWER])
def test_only_owners_decide_where_data_goes(role: Role) -> None:
    check_role(Principal("t", "o@t", Role.OWNER), ["x"])
    with pytest.raises(Forbidden) as refused:
        check_role(Principal("t", "o@t", role), ["channels.sms.endpoint"])
    assert refused.value.code == "EGRESS_OWNER_ONLY"
    assert refused.value.details["changes"] == ["channels.sms.endpoint"]
