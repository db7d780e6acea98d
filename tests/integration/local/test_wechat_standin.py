"""The WeChat / WeCom stand-in (local/wechat/) over HTTP: its API answers, its callbacks checked with wechatpy
(an independent implementation), and its control API; a tiny HTTP server in the test is the callback target."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto as OfficialAccountCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import check_signature

from local.wechat.server import WeChatStandIn

CORP = "wwtest0000000001"
APP = "wxtest0000000001"
MINI = "wxtestmini000001"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """The product's callback route, played by the test: records requests, answers as `answer` says."""

    url: str
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], tuple[int, bytes]] = lambda r: (200, b"success")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got = Received(self.command, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, body)
            box[0].received.append(got)
            status, answer = box[0].answer(got)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/callback"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


class Client:
    def __init__(self, standin: WeChatStandIn) -> None:
        self.standin = standin

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.standin.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return json.loads(self.raw(method, path, body)[2])

    def wecom_token(self) -> str:
        return str(self.call("GET", f"/qyapi/cgi-bin/gettoken?corpid={CORP}&corpsecret=contact-secret")["access_token"])

    def mp_token(self, app: str = APP) -> str:
        query = urlencode({"grant_type": "client_credential", "appid": app, "secret": f"{app}-secret"})
        return str(self.call("GET", f"/api/cgi-bin/token?{query}")["access_token"])

    def contact_way(self, state: str = "inv_alice", token: str | None = None) -> dict[str, Any]:
        body = {"type": 1, "scene": 2, "state": state, "user": ["xiaomei"], "skip_verify": True}
        path = f"/qyapi/cgi-bin/externalcontact/add_contact_way?access_token={token or self.wecom_token()}"
        return dict(self.call("POST", path, body))


@pytest.fixture
def standin() -> Iterator[WeChatStandIn]:
    server = WeChatStandIn(attempts=3, timeout=0.5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wx(standin: WeChatStandIn, receiver: Receiver) -> Client:
    client = Client(standin)
    client.call("POST", "/_local/corps", {
        "corp_id": CORP, "secret": "contact-secret", "token": "wecomtoken", "encoding_aes_key": KEY,
        "callback_url": receiver.url, "agent_id": "1000002",
    })  # fmt: skip
    client.call("POST", "/_local/apps", {
        "app_id": APP, "secret": f"{APP}-secret", "token": "mptoken", "encoding_aes_key": KEY,
        "callback_url": receiver.url, "original_id": "gh_test00000001", "name": "测试服务号",
    })  # fmt: skip
    client.call("POST", "/_local/apps", {"app_id": MINI, "secret": f"{MINI}-secret", "kind": "mini_program"})
    return client


def wecom_event(got: Received) -> dict[str, str]:
    """What the product's WeCom callback sees, decrypted and signature-checked by wechatpy."""
    crypto = WeComCrypto("wecomtoken", KEY, CORP)
    inner = crypto.decrypt_message(got.body, got.query["msg_signature"], got.query["timestamp"], got.query["nonce"])
    return dict(xmltodict.parse(inner)["xml"])


def mp_event(got: Received) -> dict[str, str]:
    check_signature("mptoken", got.query["signature"], got.query["timestamp"], got.query["nonce"])
    crypto = OfficialAccountCrypto("mptoken", KEY, APP)
    inner = crypto.decrypt_message(got.body, got.query["msg_signature"], got.query["timestamp"], got.query["nonce"])
    return dict(xmltodict.parse(inner)["xml"])


# -- tokens ------------------------------------------------------------------------------------------------------


def test_gettoken_answers_a_7200_second_token_and_the_call_is_counted(wx: Client) -> None:
    answer = wx.call("GET", f"/qyapi/cgi-bin/gettoken?corpid={CORP}&corpsecret=contact-secret")
    wx.wecom_token()

    assert answer["errcode"] == 0 and answer["errmsg"] == "ok" and answer["expires_in"] == 7200
    assert wx.call("GET", "/_local/calls")["/qyapi/cgi-bin/gettoken"] == 2


def test_a_wrong_corpid_or_secret_or_appid_answers_the_documented_errcode(wx: Client) -> None:
    assert wx.call("GET", "/qyapi/cgi-bin/gettoken?corpid=wwnobody&corpsecret=x")["errcode"] == 40013
    assert wx.call("GET", f"/qyapi/cgi-bin/gettoken?corpid={CORP}&corpsecret=wrong")["errcode"] == 40001
    assert wx.call("GET", "/api/cgi-bin/token?grant_type=client_credential&appid=wxnobody&secret=x")["errcode"] == 40013
    assert wx.call("GET", f"/api/cgi-bin/token?grant_type=client_credential&appid={APP}&secret=x")["errcode"] == 40001


def test_expired_tokens_answer_42001_and_revoked_ones_40014_or_40001(wx: Client) -> None:
    wecom, mp = wx.wecom_token(), wx.mp_token()
    wx.call("POST", "/_local/tokens/expire", {})

    assert wx.contact_way(token=wecom)["errcode"] == 42001
    assert wx.call("GET", f"/api/cgi-bin/ticket/getticket?access_token={mp}&type=jsapi")["errcode"] == 42001
    wx.call("POST", "/_local/tokens/revoke", {})
    assert wx.contact_way(token=wecom)["errcode"] == 40014
    assert wx.call("GET", f"/api/cgi-bin/ticket/getticket?access_token={mp}&type=jsapi")["errcode"] == 40001
    assert wx.call("POST", "/qyapi/cgi-bin/externalcontact/add_contact_way", {})["errcode"] == 41001


def test_a_token_expires_7200_seconds_after_it_was_issued(wx: Client) -> None:
    token = wx.wecom_token()
    wx.call("POST", "/_local/clock", {"advance": 7199})
    assert wx.contact_way(token=token)["errcode"] == 0

    wx.call("POST", "/_local/clock", {"advance": 2})
    assert wx.contact_way(token=token)["errcode"] == 42001


def test_a_path_past_its_quota_answers_45009(wx: Client) -> None:
    wx.call("POST", "/_local/limits", {"path": "/qyapi/cgi-bin/gettoken", "calls": 1})

    wx.wecom_token()
    assert wx.call("GET", f"/qyapi/cgi-bin/gettoken?corpid={CORP}&corpsecret=contact-secret")["errcode"] == 45009


# -- WeCom: contact ways, the customer-contact callback, welcome messages, tags -------------------------------


def test_adding_through_a_contact_way_posts_add_external_contact_encrypted_as_wecom_does(
    wx: Client, receiver: Receiver
) -> None:
    way = wx.contact_way("inv_alice")
    status, headers, image = wx.raw("GET", urlsplit(way["qr_code"]).path)

    added = wx.call("POST", "/_local/wecom/add", {"config_id": way["config_id"], "visitor": "bob"})

    assert way["errcode"] == 0 and way["config_id"] and status == 200 and image.startswith(PNG)
    assert added["delivery"]["delivered"] and len(receiver.received) == 1
    got = receiver.received[0]
    assert got.method == "POST" and set(got.query) == {"msg_signature", "timestamp", "nonce"}
    outer = xmltodict.parse(got.body)["xml"]
    assert outer["ToUserName"] == CORP and outer["AgentID"] == "1000002" and outer["Encrypt"]
    event = wecom_event(got)
    assert event == {
        "ToUserName": CORP,
        "FromUserName": "sys",
        "CreateTime": event["CreateTime"],
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "xiaomei",
        "ExternalUserID": added["external_userid"],
        "State": "inv_alice",
        "WelcomeCode": added["welcome_code"],
    }
    assert event["CreateTime"].isdigit() and event["ExternalUserID"].startswith("wm")


def test_a_contact_way_can_be_named_by_its_state_and_read_back(wx: Client) -> None:
    token = wx.wecom_token()
    way = wx.contact_way("inv_carol", token=token)

    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_carol", "visitor": "dave"})
    read = wx.call(
        "POST", f"/qyapi/cgi-bin/externalcontact/get_contact_way?access_token={token}", {"config_id": way["config_id"]}
    )
    contact = wx.call(
        "GET", f"/qyapi/cgi-bin/externalcontact/get?access_token={token}&external_userid={added['external_userid']}"
    )

    assert read["contact_way"]["state"] == "inv_carol" and read["contact_way"]["user"] == ["xiaomei"]
    assert contact["follow_user"][0]["state"] == "inv_carol" and contact["external_contact"]["unionid"]


def test_a_welcome_code_sends_once(wx: Client) -> None:
    token = wx.wecom_token()
    wx.contact_way("inv_alice", token=token)
    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": "bob"})
    path = f"/qyapi/cgi-bin/externalcontact/send_welcome_msg?access_token={token}"
    body = {"welcome_code": added["welcome_code"], "text": {"content": "欢迎！这是你的专属邀请海报"}}

    first, second = wx.call("POST", path, body), wx.call("POST", path, body)

    assert first == {"errcode": 0, "errmsg": "ok"}
    assert second["errcode"] == 41051
    inbox = wx.call("GET", "/_local/inbox?visitor=bob")
    assert [(m["kind"], m["sender"], m["content"]["text"]["content"]) for m in inbox] == [
        ("welcome", "xiaomei", "欢迎！这是你的专属邀请海报")
    ]


def test_a_welcome_code_is_spent_20_seconds_after_the_event(wx: Client) -> None:
    token = wx.wecom_token()
    wx.contact_way("inv_alice", token=token)
    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": "bob"})
    wx.call("POST", "/_local/clock", {"advance": 21})

    answer = wx.call(
        "POST",
        f"/qyapi/cgi-bin/externalcontact/send_welcome_msg?access_token={token}",
        {"welcome_code": added["welcome_code"], "text": {"content": "too late"}},
    )

    assert answer["errcode"] == 41051
    assert wx.call("GET", "/_local/inbox?visitor=bob") == []


def test_a_corp_past_its_contact_way_limit_is_refused(wx: Client, receiver: Receiver) -> None:
    wx.call(
        "POST",
        "/_local/corps",
        {
            "corp_id": CORP,
            "secret": "contact-secret",
            "token": "wecomtoken",
            "encoding_aes_key": KEY,
            "callback_url": receiver.url,
            "contact_way_limit": 2,
        },
    )
    token = wx.wecom_token()

    answers = [wx.contact_way(f"inv_{n}", token=token)["errcode"] for n in range(3)]

    assert answers == [0, 0, 45009]


def test_a_contact_way_is_checked_as_documented(wx: Client) -> None:
    token = wx.wecom_token()
    path = f"/qyapi/cgi-bin/externalcontact/add_contact_way?access_token={token}"

    assert wx.call("POST", path, {"scene": 2, "user": ["xiaomei"]})["errcode"] == 41037
    assert wx.call("POST", path, {"type": 1, "scene": 2, "user": ["nobody"]})["errcode"] == 60111
    assert wx.call("POST", path, {"type": 1, "scene": 2, "user": ["xiaomei"], "state": "s" * 31})["errcode"] == 40058
    assert (
        wx.raw("POST", path)[2]
        and wx.call("POST", path.replace("add_contact_way", "del_contact_way"), {"config_id": "x"})["errcode"] == 41044
    )


def test_deleting_sends_del_follow_user_or_del_external_contact(wx: Client, receiver: Receiver) -> None:
    wx.contact_way("inv_alice")
    for visitor in ("bob", "erin"):
        wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": visitor})

    by_customer = wx.call("POST", "/_local/wecom/delete", {"corp_id": CORP, "visitor": "bob", "by": "customer"})
    by_staff = wx.call("POST", "/_local/wecom/delete", {"corp_id": CORP, "visitor": "erin", "by": "staff"})
    again = wx.raw("POST", "/_local/wecom/delete", {"corp_id": CORP, "visitor": "bob"})

    events = [wecom_event(r) for r in receiver.received[2:]]
    assert [(e["ChangeType"], e["ExternalUserID"]) for e in events] == [
        ("del_follow_user", by_customer["external_userid"]),
        ("del_external_contact", by_staff["external_userid"]),
    ]
    assert all("WelcomeCode" not in e and e["UserID"] == "xiaomei" for e in events)
    assert again[0] == 404


def test_tags_are_marked_on_a_contact(wx: Client) -> None:
    token = wx.wecom_token()
    wx.contact_way("inv_alice", token=token)
    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": "bob"})
    group = wx.call("POST", f"/qyapi/cgi-bin/externalcontact/add_corp_tag?access_token={token}",
                    {"group_name": "裂变", "tag": [{"name": "邀请达人"}]})["tag_group"]  # fmt: skip
    mark = f"/qyapi/cgi-bin/externalcontact/mark_tag?access_token={token}"
    body = {"userid": "xiaomei", "external_userid": added["external_userid"], "add_tag": [group["tag"][0]["id"]]}

    again = wx.call("POST", f"/qyapi/cgi-bin/externalcontact/add_corp_tag?access_token={token}",
                    {"group_id": group["group_id"], "tag": [{"name": "邀请达人"}]})  # fmt: skip

    assert again["errcode"] == 40071  # a tag of that name is already in the group
    assert wx.call("POST", mark, body)["errcode"] == 0
    assert wx.call("POST", mark, body | {"add_tag": ["etunknown"]})["errcode"] == 40068
    assert wx.call("POST", mark, body | {"external_userid": "wmnobody"})["errcode"] == 84061
    contact = wx.call(
        "GET", f"/qyapi/cgi-bin/externalcontact/get?access_token={token}&external_userid={added['external_userid']}"
    )
    assert [t["tag_name"] for t in contact["follow_user"][0]["tags"]] == ["邀请达人"]


# -- delivery: retries, redelivery, URL verification --------------------------------------------------------------


def test_an_unanswered_callback_is_tried_three_times_and_redelivered_on_request(wx: Client, receiver: Receiver) -> None:
    wx.contact_way("inv_alice")
    receiver.answer = lambda r: (500, b"")

    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": "bob"})
    receiver.answer = lambda r: (200, b"")
    again = wx.call("POST", "/_local/redeliver", {})

    assert not added["delivery"]["delivered"] and [a["status"] for a in added["delivery"]["attempts"]] == [500] * 3
    assert again["delivered"] and again["redelivery_of"] == added["delivery"]["id"]
    assert len(receiver.received) == 4 and len({(r.path, str(r.query), r.body) for r in receiver.received}) == 1


def test_the_url_check_passes_only_when_the_product_echoes_the_decrypted_echostr(
    wx: Client, receiver: Receiver
) -> None:
    def echo(got: Received) -> tuple[int, bytes]:
        crypto = WeComCrypto("wecomtoken", KEY, CORP)
        plain = crypto.check_signature(
            got.query["msg_signature"], got.query["timestamp"], got.query["nonce"], got.query["echostr"]
        )
        return 200, plain.encode() if isinstance(plain, str) else plain

    receiver.answer = echo
    passed = wx.call("POST", "/_local/verify", {"corp_id": CORP})
    receiver.answer = lambda r: (200, r.query["echostr"].encode())  # echoing the ciphertext is wrong
    failed = wx.call("POST", "/_local/verify", {"corp_id": CORP})
    plain_echo = wx.call("POST", "/_local/verify", {"app_id": APP})  # the official account's echostr is plain

    assert passed["ok"] and not failed["ok"] and plain_echo["ok"]
    assert receiver.received[0].method == "GET"


# -- the official account ---------------------------------------------------------------------------------------


def test_following_through_a_parametric_qr_code_posts_subscribe_then_scan(wx: Client, receiver: Receiver) -> None:
    token = wx.mp_token()
    created = wx.call("POST", f"/api/cgi-bin/qrcode/create?access_token={token}", {
        "expire_seconds": 604800, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "inv_alice"}},
    })  # fmt: skip
    status, headers, image = wx.raw("GET", f"/mp/cgi-bin/showqrcode?ticket={quote(created['ticket'])}")

    followed = wx.call("POST", "/_local/mp/subscribe", {"ticket": created["ticket"], "visitor": "bob"})
    scanned = wx.call("POST", "/_local/mp/scan", {"ticket": created["ticket"], "visitor": "bob"})
    left = wx.call("POST", "/_local/mp/unsubscribe", {"app_id": APP, "visitor": "bob"})

    assert created["expire_seconds"] == 604800 and created["url"] and status == 200 and image.startswith(PNG)
    assert (followed["event"], scanned["event"], left["event"]) == ("subscribe", "SCAN", "unsubscribe")
    events = [mp_event(r) for r in receiver.received]
    assert events[0] == {
        "ToUserName": "gh_test00000001",
        "FromUserName": followed["openid"],
        "CreateTime": events[0]["CreateTime"],
        "MsgType": "event",
        "Event": "subscribe",
        "EventKey": "qrscene_inv_alice",
        "Ticket": created["ticket"],
    }
    assert (events[1]["Event"], events[1]["EventKey"]) == ("SCAN", "inv_alice")
    assert events[2]["Event"] == "unsubscribe" and "EventKey" not in events[2]
    assert (
        receiver.received[0].query["encrypt_type"] == "aes"
        and receiver.received[0].query["openid"] == followed["openid"]
    )
    outer = xmltodict.parse(receiver.received[0].body)["xml"]
    assert set(outer) == {"ToUserName", "Encrypt"}


def test_a_temporary_qr_code_expires(wx: Client) -> None:
    token = wx.mp_token()
    created = wx.call("POST", f"/api/cgi-bin/qrcode/create?access_token={token}", {
        "expire_seconds": 60, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "x"}},
    })  # fmt: skip
    wx.call("POST", "/_local/clock", {"advance": 61})

    assert wx.raw("GET", f"/mp/cgi-bin/showqrcode?ticket={quote(created['ticket'])}")[0] == 404
    assert wx.raw("POST", "/_local/mp/subscribe", {"ticket": created["ticket"], "visitor": "bob"})[0] == 404


def test_a_plain_mode_account_posts_the_message_itself(wx: Client, receiver: Receiver) -> None:
    wx.call("POST", "/_local/apps", {"app_id": APP, "secret": f"{APP}-secret", "token": "mptoken", "mode": "plain",
                                     "callback_url": receiver.url, "original_id": "gh_test00000001"})  # fmt: skip

    wx.call("POST", "/_local/mp/subscribe", {"app_id": APP, "visitor": "bob"})

    got = receiver.received[0]
    check_signature("mptoken", got.query["signature"], got.query["timestamp"], got.query["nonce"])
    assert "encrypt_type" not in got.query and xmltodict.parse(got.body)["xml"]["Event"] == "subscribe"


def test_a_passive_reply_encrypted_by_wechatpy_reaches_the_visitor(wx: Client, receiver: Receiver) -> None:
    def reply(got: Received) -> tuple[int, bytes]:
        event = mp_event(got)
        text = (
            f"<xml><ToUserName><![CDATA[{event['FromUserName']}]]></ToUserName>"
            f"<FromUserName><![CDATA[{event['ToUserName']}]]></FromUserName><CreateTime>1700000000</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[感谢关注]]></Content></xml>"
        )
        return 200, OfficialAccountCrypto("mptoken", KEY, APP).encrypt_message(text, "42").encode()

    receiver.answer = reply
    followed = wx.call("POST", "/_local/mp/subscribe", {"app_id": APP, "visitor": "bob"})

    assert followed["delivery"]["reply"] == {"MsgType": "text", "Content": "感谢关注"}
    assert [m["content"]["Content"] for m in wx.call("GET", "/_local/inbox?visitor=bob&kind=reply")] == ["感谢关注"]


def test_a_subscription_message_needs_the_visitors_consent_for_each_send(wx: Client) -> None:
    token = wx.mp_token()
    openid = wx.call("POST", "/_local/mp/consent", {"app_id": APP, "visitor": "bob", "template_id": "tpl1"})["openid"]
    path = f"/api/cgi-bin/message/subscribe/bizsend?access_token={token}"
    body = {"touser": openid, "template_id": "tpl1", "data": {"thing1": {"value": "好友助力成功"}}}

    first, second = wx.call("POST", path, body), wx.call("POST", path, body)

    assert first["errcode"] == 0 and second["errcode"] == 43101
    assert wx.call("POST", path, body | {"touser": "onobody"})["errcode"] == 40003
    inbox = wx.call("GET", "/_local/inbox?visitor=bob&kind=subscribe_message")
    assert [m["content"]["data"]["thing1"]["value"] for m in inbox] == ["好友助力成功"]


def test_a_consent_posts_the_popup_event_encrypted_and_a_refusal_stops_the_sends(
    wx: Client, receiver: Receiver
) -> None:
    token = wx.mp_token()
    given = wx.call("POST", "/_local/mp/consent", {"app_id": APP, "visitor": "bob", "template_id": "tplReward01"})
    wx.call(
        "POST",
        "/_local/mp/consent",
        {"app_id": APP, "visitor": "bob", "template_id": "tplReward01", "status": "reject"},
    )
    path = f"/api/cgi-bin/message/subscribe/bizsend?access_token={token}"
    body = {"touser": given["openid"], "template_id": "tplReward01", "data": {"thing1": {"value": "好友助力成功"}}}

    popup, refusal = (dict[str, Any](mp_event(got)) for got in receiver.received)  # the list is nested

    assert popup["Event"] == "subscribe_msg_popup_event" and popup["FromUserName"] == given["openid"]
    assert popup["SubscribeMsgPopupEvent"]["List"] == {
        "TemplateId": "tplReward01",
        "SubscribeStatusString": "accept",
        "PopupScene": "1",
    }
    assert refusal["SubscribeMsgPopupEvent"]["List"]["SubscribeStatusString"] == "reject"
    assert wx.call("POST", path, body)["errcode"] == 43101
    too_long = body | {"data": {"thing1": {"value": "一" * 21}}}
    not_a_keyword = body | {"data": {"title": {"value": "x"}}}
    wx.call("POST", "/_local/mp/consent", {"app_id": APP, "visitor": "bob", "template_id": "tplReward01"})
    assert [wx.call("POST", path, b)["errcode"] for b in (too_long, not_a_keyword)] == [47003, 47003]


def test_a_customer_message_reaches_the_senders_contacts_and_names_the_others_in_fail_list(wx: Client) -> None:
    token = wx.wecom_token()
    wx.contact_way("inv_alice", token=token)
    added = wx.call("POST", "/_local/wecom/add", {"state": "inv_alice", "visitor": "bob"})
    path = f"/qyapi/cgi-bin/externalcontact/add_msg_template?access_token={token}"
    stranger = "wmnotacontact000000"
    body = {"chat_type": "single", "external_userid": [added["external_userid"], stranger], "sender": "xiaomei",
            "text": {"content": "你的奖励已发放"}}  # fmt: skip

    answer = wx.call("POST", path, body)

    assert answer["errcode"] == 0 and answer["fail_list"] == [stranger] and answer["msgid"]
    inbox = wx.call("GET", "/_local/inbox?visitor=bob&kind=customer_message")
    assert [(m["to"], m["sender"], m["content"]["text"]["content"]) for m in inbox] == [
        (added["external_userid"], "xiaomei", "你的奖励已发放")
    ]
    assert wx.call("POST", path, body | {"text": {}})["errcode"] == 44004
    assert wx.call("POST", path, body | {"sender": ""})["errcode"] == 40003


# -- web login, JS-SDK and the mini program ------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def open_no_redirect(url: str, data: bytes | None = None, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def exchange_path(code: str) -> str:
    grant = {"appid": APP, "secret": f"{APP}-secret", "code": code, "grant_type": "authorization_code"}
    return f"/api/sns/oauth2/access_token?{urlencode(grant)}"


def code_from(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_base_web_login_redirects_at_once_with_a_one_time_code(wx: Client) -> None:
    query = urlencode({"appid": APP, "redirect_uri": "http://shop.example/back?x=1", "response_type": "code",
                       "scope": "snsapi_base", "state": "st8", "visitor": "bob"})  # fmt: skip
    status, headers, _ = open_no_redirect(f"{wx.standin.url}/open/connect/oauth2/authorize?{query}#wechat_redirect")
    back = code_from(headers["Location"])
    exchange = exchange_path(back["code"])

    first, second = wx.call("GET", exchange), wx.call("GET", exchange)

    assert status == 303 and headers["Location"].startswith("http://shop.example/back?x=1&") and back["state"] == "st8"
    assert first["scope"] == "snsapi_base" and first["expires_in"] == 7200 and first["openid"].startswith("o")
    assert second["errcode"] == 40163
    assert (
        wx.call("GET", f"/api/sns/userinfo?access_token={first['access_token']}&openid={first['openid']}")["errcode"]
        == 48001
    )


def test_a_userinfo_web_login_asks_for_consent_and_gives_the_profile(wx: Client) -> None:
    query = urlencode({"appid": APP, "redirect_uri": "http://shop.example/back", "response_type": "code",
                       "scope": "snsapi_userinfo", "state": "s", "visitor": "bob"})  # fmt: skip
    status, _, page = open_no_redirect(f"{wx.standin.url}/open/connect/oauth2/authorize?{query}")
    form = {"appid": APP, "redirect_uri": "http://shop.example/back", "scope": "snsapi_userinfo", "state": "s",
            "visitor": "bob"}  # fmt: skip
    _, allowed, _ = open_no_redirect(
        f"{wx.standin.url}/_local/oauth/allow", urlencode(form | {"decision": "allow"}).encode()
    )
    _, denied, _ = open_no_redirect(
        f"{wx.standin.url}/_local/oauth/allow", urlencode(form | {"decision": "deny"}).encode()
    )
    code = code_from(allowed["Location"])["code"]
    token = wx.call("GET", exchange_path(code))
    profile = wx.call("GET", f"/api/sns/userinfo?access_token={token['access_token']}&openid={token['openid']}")

    assert status == 200 and "申请获得你的公开信息" in page.decode()
    assert code_from(denied["Location"]) == {"state": "s"}
    assert profile["nickname"] == "bob" and profile["unionid"] == token["unionid"]


def test_an_oauth_code_lives_five_minutes(wx: Client) -> None:
    code = wx.call("POST", "/_local/oauth/code", {"app_id": APP, "visitor": "bob"})["code"]
    wx.call("POST", "/_local/clock", {"advance": 301})

    answer = wx.call("GET", exchange_path(code))

    assert answer["errcode"] == 40029


def test_an_unknown_appid_gets_the_error_page(wx: Client) -> None:
    status, _, page = open_no_redirect(
        f"{wx.standin.url}/open/connect/oauth2/authorize?appid=wxnobody&redirect_uri=http://x/&response_type=code&scope=snsapi_base"
    )

    assert status == 400 and "10016" in page.decode()


def test_the_jsapi_ticket_is_stable_until_tokens_are_revoked(wx: Client) -> None:
    token = wx.mp_token()
    path = f"/api/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"

    first, second = wx.call("GET", path), wx.call("GET", path)

    assert first["errcode"] == 0 and first["expires_in"] == 7200 and first["ticket"] == second["ticket"]


def test_the_mini_program_logs_in_once_per_code_and_draws_unlimited_codes(wx: Client) -> None:
    login = wx.call("POST", "/_local/mini/login", {"app_id": MINI, "visitor": "bob"})
    grant = {"appid": MINI, "secret": f"{MINI}-secret", "js_code": login["code"], "grant_type": "authorization_code"}
    path = f"/api/sns/jscode2session?{urlencode(grant)}"
    token = wx.mp_token(MINI)
    draw = f"/api/wxa/getwxacodeunlimit?access_token={token}"

    session, again = wx.call("GET", path), wx.call("GET", path)
    status, headers, image = wx.raw("POST", draw, {"scene": "inv=alice", "page": "pages/index/index"})

    assert session["openid"] == login["openid"] and session["session_key"] and session["unionid"]
    assert again["errcode"] == 40163
    assert status == 200 and headers["Content-Type"] == "image/png" and image.startswith(PNG)
    assert wx.call("POST", draw, {"scene": "x" * 33})["errcode"] == 40169
    unionid = wx.call("POST", "/_local/oauth/code", {"app_id": APP, "visitor": "bob"})
    assert unionid["openid"] != login["openid"]  # an openid per app; the unionid is the visitor's


# -- the phone -----------------------------------------------------------------------------------------------------


def test_the_phone_adds_the_staff_member_and_shows_the_welcome_message(wx: Client, receiver: Receiver) -> None:
    token = wx.wecom_token()
    way = wx.contact_way("inv_alice", token=token)

    def welcome(got: Received) -> tuple[int, bytes]:
        event = wecom_event(got)
        if event["ChangeType"] == "add_external_contact":
            wx.call("POST", f"/qyapi/cgi-bin/externalcontact/send_welcome_msg?access_token={token}",
                    {"welcome_code": event["WelcomeCode"], "text": {"content": "欢迎光临"}})  # fmt: skip
        return 200, b""

    receiver.answer = welcome
    _, headers, page = wx.raw("GET", f"/_local/phone?cw={way['config_id']}&visitor=%E5%B0%8F%E6%98%8E")
    cookie = headers["Set-Cookie"].split(";")[0]  # the page remembers the visitor for the next requests
    form = urlencode({"cw": way["config_id"]}).encode()
    status, added, _ = open_no_redirect(f"{wx.standin.url}/_local/phone/add", form, cookie)
    _, _, chat = open_no_redirect(wx.standin.url + added["Location"], cookie=cookie)

    assert "添加 店长小美 为企业微信联系人" in page.decode()
    assert status == 303 and added["Location"].startswith("/_local/phone/chat?")
    assert "欢迎光临" in chat.decode()
    assert [m["visitor"] for m in wx.call("GET", "/_local/inbox?kind=welcome")] == ["小明"]
