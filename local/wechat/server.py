"""The stand-in's HTTP server: WeCom, the official account's API, its web login and its QR images on one port
under /qyapi, /api, /open and /mp, plus the control API (/_local/...) and the phone pages (/_local/phone).

docs/wechat-local.md lists every path. Platform answers are HTTP 200 with `errcode`/`errmsg` as the platforms
send them; control calls answer JSON with a 4xx `{"error": ...}` when they cannot be honoured.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from local.wechat import delivery, phone
from local.wechat.crypto import CryptoError, aes_key, new_encoding_aes_key
from local.wechat.world import DATA_FORMAT, ApiError, App, ContactWay, ControlError, Corp, World, openid

PREFIXES = ("qyapi", "api", "open", "mp")
VISITOR_COOKIE = "wx_visitor"
MAX_BODY_BYTES = 1024 * 1024
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    cookies: dict[str, str]

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise DATA_FORMAT from exc
        if not isinstance(value, dict):
            raise DATA_FORMAT
        return value

    def control(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ControlError(400, "the body is not JSON") from exc
        if not isinstance(value, dict):
            raise ControlError(400, "the body is not a JSON object")
        return value

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(errors="replace")).items()}


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(value: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value, ensure_ascii=False).encode())


def _ok(**values: Any) -> Reply:
    return _json({"errcode": 0, "errmsg": "ok", **values})


def _html(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, "text/html; charset=utf-8", dict(headers or {}))


def _redirect(location: str, **headers: str) -> Reply:
    return Reply(303, b"", "text/plain", {"Location": location, **headers})


def _text(value: Any, name: str, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value):
        raise ControlError(400, f"{name} must be a non-empty string")
    return value


def qr_png(text: str) -> bytes:
    """A QR code of `text` as PNG (qrcode and Pillow are imported here only: the stack starts without them)."""
    import qrcode

    image = qrcode.make(text, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)  # PNG
    return out.getvalue()


class WeChatStandIn:
    """The stand-in: a world, the deliveries sent from it, and the HTTP server in front of both."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        attempts: int = delivery.ATTEMPTS,
        timeout: float = delivery.TIMEOUT,
    ) -> None:
        self.world = World()
        self.attempts = attempts
        self.timeout = timeout
        self.deliveries: list[delivery.Delivery] = []
        self._deliveries_lock = threading.Lock()
        handler = type("BoundHandler", (_Handler,), {"standin": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._routes = self._route_table()

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def phone_url(self) -> str:
        return f"{self.url}/_local/phone"

    def environment(self) -> dict[str, str]:
        """The FISSION_* settings that point the product at this stand-in instead of the platforms."""
        return {
            "FISSION_WECOM_API_BASE": f"{self.url}/qyapi",
            "FISSION_WECHAT_API_BASE": f"{self.url}/api",
            "FISSION_WECHAT_OPEN_BASE": f"{self.url}/open",
            "FISSION_WECHAT_MP_BASE": f"{self.url}/mp",
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="wechat-standin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()

    # -- registration and events (also called directly by the demo and tests in-process) ---------------------

    def register_corp(self, values: dict[str, Any]) -> Corp:
        secrets_ = values.get("secrets") or ([values["secret"]] if values.get("secret") else [])
        corp = Corp(
            corp_id=_text(values.get("corp_id"), "corp_id"),
            secrets=[_text(s, "secret") for s in secrets_] or [secrets.token_urlsafe(32)],
            token=_text(values.get("token") or secrets.token_hex(16), "token"),
            encoding_aes_key=self._aes_key(values.get("encoding_aes_key")),
            callback_url=_text(values.get("callback_url", ""), "callback_url", required=False),
            agent_id=str(values.get("agent_id", "")),
            name=_text(values.get("name", "本地企业"), "name"),
            staff=dict(values.get("staff") or {"xiaomei": "店长小美"}),
        )
        if "contact_way_limit" in values:
            corp.contact_way_limit = int(values["contact_way_limit"])
        return self.world.register_corp(corp)

    def register_app(self, values: dict[str, Any]) -> App:
        kind = values.get("kind", "official_account")
        mode = values.get("mode", "safe")
        if kind not in ("official_account", "mini_program") or mode not in ("safe", "plain"):
            raise ControlError(400, "kind is official_account or mini_program; mode is safe or plain")
        app = App(
            app_id=_text(values.get("app_id"), "app_id"),
            secret=_text(values.get("secret") or secrets.token_hex(16), "secret"),
            kind=kind,
            name=_text(values.get("name", "本地公众号" if kind == "official_account" else "本地小程序"), "name"),
            original_id=str(values.get("original_id", "")),
            token=_text(values.get("token") or secrets.token_hex(16), "token"),
            encoding_aes_key=self._aes_key(values.get("encoding_aes_key")),
            callback_url=_text(values.get("callback_url", ""), "callback_url", required=False),
            mode=mode,
            oauth_domain=str(values.get("oauth_domain", "")),
        )
        return self.world.register_app(app)

    @staticmethod
    def _aes_key(value: Any) -> str:
        key = value or new_encoding_aes_key()
        try:
            aes_key(_text(key, "encoding_aes_key"))
        except CryptoError as exc:
            raise ControlError(400, str(exc)) from exc
        return str(key)

    def _send(self, item: delivery.Delivery) -> delivery.Delivery:
        with self._deliveries_lock:
            item.id = len(self.deliveries) + 1
            self.deliveries.append(item)
        return delivery.send(item, self.attempts, self.timeout)

    def _wecom_event(self, corp: Corp, visitor: str, fields: list[tuple[str, str | int]]) -> delivery.Delivery:
        header: list[tuple[str, str | int]] = [
            ("ToUserName", corp.corp_id),
            ("FromUserName", "sys"),
            ("CreateTime", int(self.world.now())),
            ("MsgType", "event"),
            ("Event", "change_external_contact"),
        ]
        inner = delivery.event_xml(header + fields)
        url, body = delivery.wecom_request(corp, inner)
        event = {k: str(v) for k, v in header + fields}
        return self._send(delivery.Delivery(0, "wecom", corp.corp_id, visitor, event, url, body))

    def add_contact(self, values: dict[str, Any]) -> dict[str, Any]:
        """A visitor adds the staff member of a contact way (by config_id, or by state): add_external_contact."""
        visitor = _text(values.get("visitor"), "visitor")
        way = self.world.find_contact_way(
            str(values.get("config_id", "")), str(values.get("state", "")), str(values.get("corp_id", ""))
        )
        relation, code = self.world.add_contact(way, visitor, str(values.get("user_id", "")))
        corp = self.world.corp(way.corp_id)
        fields: list[tuple[str, str | int]] = [
            ("ChangeType", "add_external_contact"),
            ("UserID", relation.user_id),
            ("ExternalUserID", relation.external_userid),
        ]
        if relation.state:
            fields.append(("State", relation.state))
        fields.append(("WelcomeCode", code.code))
        sent = self._wecom_event(corp, visitor, fields)
        return {
            "corp_id": corp.corp_id,
            "user_id": relation.user_id,
            "external_userid": relation.external_userid,
            "state": relation.state,
            "welcome_code": code.code,
            "delivery": sent.summary(),
        }

    def delete_contact(self, values: dict[str, Any]) -> dict[str, Any]:
        """The visitor deletes the staff member (by "customer": del_follow_user) or the staff member deletes the
        visitor (by "staff": del_external_contact)."""
        visitor = _text(values.get("visitor"), "visitor")
        by = values.get("by", "customer")
        if by not in ("customer", "staff"):
            raise ControlError(400, 'by is "customer" or "staff"')
        corp = self.world.corp(_text(values.get("corp_id"), "corp_id"))
        relation = self.world.remove_contact(corp.corp_id, visitor, str(values.get("user_id", "")))
        change = "del_follow_user" if by == "customer" else "del_external_contact"
        fields: list[tuple[str, str | int]] = [
            ("ChangeType", change),
            ("UserID", relation.user_id),
            ("ExternalUserID", relation.external_userid),
        ]
        sent = self._wecom_event(corp, visitor, fields)
        return {
            "change_type": change,
            "user_id": relation.user_id,
            "external_userid": relation.external_userid,
            "delivery": sent.summary(),
        }

    def _mp_event(
        self, app: App, visitor: str, oid: str, fields: list[tuple[str, str | int]], nested: str = ""
    ) -> delivery.Delivery:
        header: list[tuple[str, str | int]] = [
            ("ToUserName", app.original_id),
            ("FromUserName", oid),
            ("CreateTime", int(self.world.now())),
            ("MsgType", "event"),
        ]
        inner = delivery.event_xml(header + fields)
        if nested:  # a list element (the subscription popup's templates) after the flat fields
            inner = inner.removesuffix("</xml>") + nested + "</xml>"
        url, body = delivery.official_account_request(app, inner, oid)
        event = {k: str(v) for k, v in header + fields}
        sent = self._send(delivery.Delivery(0, "official_account", app.app_id, visitor, event, url, body))
        if sent.delivered:
            try:
                sent.reply = delivery.read_reply(app, sent.attempts[-1].answer, oid)
            except ValueError as exc:
                sent.reply_error = str(exc)
            if sent.reply is not None:
                self.world.record_reply(app.app_id, visitor, sent.reply)
        return sent

    def follow(self, values: dict[str, Any]) -> dict[str, Any]:
        """The visitor follows the account (through a parametric QR code's ticket, or plainly): subscribe; a
        follower scanning a code again: SCAN."""
        visitor = _text(values.get("visitor"), "visitor")
        ticket = str(values.get("ticket", ""))
        app_id = self.world.qrcode(ticket).app_id if ticket else _text(values.get("app_id"), "app_id")
        app = self.world.app(app_id)
        event, follower = self.world.follow(app.app_id, visitor, ticket)
        fields: list[tuple[str, str | int]] = [("Event", event)]
        if ticket:
            scene = self.world.qrcode(ticket).scene
            fields += [("EventKey", f"qrscene_{scene}" if event == "subscribe" else scene), ("Ticket", ticket)]
        sent = self._mp_event(app, visitor, follower.openid, fields)
        return {"event": event, "app_id": app.app_id, "openid": follower.openid, "delivery": sent.summary()}

    def unfollow(self, values: dict[str, Any]) -> dict[str, Any]:
        visitor = _text(values.get("visitor"), "visitor")
        app = self.world.app(_text(values.get("app_id"), "app_id"))
        follower = self.world.unfollow(app.app_id, visitor)
        sent = self._mp_event(app, visitor, follower.openid, [("Event", "unsubscribe")])
        return {"event": "unsubscribe", "app_id": app.app_id, "openid": follower.openid, "delivery": sent.summary()}

    def redeliver(self, values: dict[str, Any]) -> dict[str, Any]:
        """The same bytes again (the platforms retry a callback unanswered in 5 s): the last one by default."""
        with self._deliveries_lock:
            if not self.deliveries:
                raise ControlError(404, "nothing was delivered yet")
            wanted = values.get("id")
            original = (
                self.deliveries[-1] if wanted is None else next((d for d in self.deliveries if d.id == wanted), None)
            )
        if original is None:
            raise ControlError(404, f"no delivery {wanted}")
        again = delivery.Delivery(
            0, original.platform, original.owner, original.visitor, original.event, original.url, original.body
        )
        return {"redelivery_of": original.id, **self._send(again).summary()}

    def verify(self, values: dict[str, Any]) -> dict[str, Any]:
        """The URL check a console runs when the callback URL is saved: does the product echo echostr?"""
        if values.get("corp_id"):
            return delivery.verify_url("wecom", self.world.corp(str(values["corp_id"])), self.timeout)
        return delivery.verify_url(
            "official_account", self.world.app(_text(values.get("app_id"), "app_id")), self.timeout
        )

    # -- routing ------------------------------------------------------------------------------------------------

    def _route_table(self) -> dict[tuple[str, str], Callable[[Request], Reply]]:
        post, get = "POST", "GET"
        return {
            # WeCom
            (get, "/qyapi/cgi-bin/gettoken"): self._wecom_gettoken,
            (post, "/qyapi/cgi-bin/externalcontact/add_contact_way"): self._add_contact_way,
            (post, "/qyapi/cgi-bin/externalcontact/get_contact_way"): self._get_contact_way,
            (post, "/qyapi/cgi-bin/externalcontact/del_contact_way"): self._del_contact_way,
            (post, "/qyapi/cgi-bin/externalcontact/send_welcome_msg"): self._send_welcome_msg,
            (post, "/qyapi/cgi-bin/externalcontact/add_msg_template"): self._add_msg_template,
            (post, "/qyapi/cgi-bin/externalcontact/add_corp_tag"): self._add_corp_tag,
            (post, "/qyapi/cgi-bin/externalcontact/get_corp_tag_list"): self._get_corp_tag_list,
            (post, "/qyapi/cgi-bin/externalcontact/mark_tag"): self._mark_tag,
            (get, "/qyapi/cgi-bin/externalcontact/get"): self._get_external_contact,
            (get, "/qyapi/cgi-bin/externalcontact/list"): self._list_external_contacts,
            # Official account and mini program
            (get, "/api/cgi-bin/token"): self._mp_token,
            (post, "/api/cgi-bin/qrcode/create"): self._qrcode_create,
            (get, "/api/cgi-bin/ticket/getticket"): self._getticket,
            (get, "/api/cgi-bin/user/info"): self._user_info,
            (post, "/api/cgi-bin/message/subscribe/bizsend"): self._bizsend,
            (post, "/api/cgi-bin/message/subscribe/send"): self._subscribe_send,
            (get, "/api/sns/oauth2/access_token"): self._oauth_token,
            (get, "/api/sns/userinfo"): self._sns_userinfo,
            (get, "/api/sns/jscode2session"): self._jscode2session,
            (post, "/api/wxa/getwxacodeunlimit"): self._getwxacodeunlimit,
            (get, "/open/connect/oauth2/authorize"): self._authorize,
            (get, "/mp/cgi-bin/showqrcode"): self._showqrcode,
            # Control
            (post, "/_local/reset"): lambda r: self._control(lambda: self._reset()),
            (post, "/_local/corps"): lambda r: self._control(lambda: asdict(self.register_corp(r.control()))),
            (post, "/_local/apps"): lambda r: self._control(lambda: asdict(self.register_app(r.control()))),
            (post, "/_local/tokens/expire"): lambda r: self._control(lambda: {"expired": self.world.expire_tokens()}),
            (post, "/_local/tokens/revoke"): lambda r: self._control(lambda: {"revoked": self.world.revoke_tokens()}),
            (post, "/_local/clock"): lambda r: self._control(lambda: self._clock(r.control())),
            (post, "/_local/limits"): lambda r: self._control(lambda: self._limit(r.control())),
            (post, "/_local/wecom/add"): lambda r: self._control(lambda: self.add_contact(r.control())),
            (post, "/_local/wecom/delete"): lambda r: self._control(lambda: self.delete_contact(r.control())),
            (post, "/_local/mp/subscribe"): lambda r: self._control(lambda: self.follow(r.control())),
            (post, "/_local/mp/scan"): lambda r: self._control(lambda: self.follow(r.control())),
            (post, "/_local/mp/unsubscribe"): lambda r: self._control(lambda: self.unfollow(r.control())),
            (post, "/_local/mp/consent"): lambda r: self._control(lambda: self._consent(r.control())),
            (post, "/_local/oauth/code"): lambda r: self._control(lambda: self._mint_oauth_code(r.control())),
            (post, "/_local/mini/login"): lambda r: self._control(lambda: self._mini_login(r.control())),
            (post, "/_local/redeliver"): lambda r: self._control(lambda: self.redeliver(r.control())),
            (post, "/_local/verify"): lambda r: self._control(lambda: self.verify(r.control())),
            (get, "/_local/inbox"): lambda r: self._control(lambda: self._inbox(r)),
            (get, "/_local/deliveries"): lambda r: self._control(lambda: self._deliveries(r)),
            (get, "/_local/calls"): lambda r: self._control(lambda: dict(self.world.calls)),
            (get, "/_local/state"): lambda r: self._control(self.world.snapshot),
            # The phone
            (get, "/_local/phone"): self._phone,
            (post, "/_local/phone/add"): self._phone_add,
            (post, "/_local/phone/follow"): self._phone_follow,
            (get, "/_local/phone/chat"): self._phone_chat,
            (post, "/_local/phone/leave"): self._phone_leave,
            (post, "/_local/oauth/allow"): self._oauth_allow,
        }

    def handle(self, request: Request) -> Reply:
        route = self._routes.get((request.method, request.path))
        if route is None and request.method == "GET" and request.path.startswith("/_local/qr/contact/"):
            route = self._contact_way_png
        if route is None:
            if any(request.path.startswith(f"/{p}/") for p in PREFIXES):
                return _json({"errcode": 40066, "errmsg": "invalid url"}, 404)
            return _json({"error": f"no route {request.method} {request.path}"}, 404)
        try:
            if request.path.startswith(tuple(f"/{p}/" for p in PREFIXES)):
                self.world.count(request.path)
            return route(request)
        except ApiError as exc:
            return _json({"errcode": exc.errcode, "errmsg": exc.errmsg})
        except ControlError as exc:
            return _json({"error": exc.message}, exc.status)

    @staticmethod
    def _control(action: Callable[[], Any]) -> Reply:
        return _json(action())

    def _reset(self) -> dict[str, Any]:
        self.world.reset()
        with self._deliveries_lock:
            self.deliveries.clear()
        return {"reset": True}

    def _clock(self, values: dict[str, Any]) -> dict[str, Any]:
        seconds = values.get("advance")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ControlError(400, "advance is a number of seconds, at least 0")
        return {"now": self.world.advance(float(seconds))}

    def _limit(self, values: dict[str, Any]) -> dict[str, Any]:
        path, calls = values.get("path"), values.get("calls")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ControlError(400, "path is a request path such as /qyapi/cgi-bin/gettoken")
        with self.world.lock:
            if calls is None:
                self.world.limits.pop(path, None)
            elif isinstance(calls, int) and calls >= 0:
                self.world.limits[path] = calls
            else:
                raise ControlError(400, "calls is how many more calls succeed (null: no limit)")
            return dict(self.world.limits)

    def _consent(self, values: dict[str, Any]) -> dict[str, Any]:
        """The visitor answers a subscription popup for a template (accept or reject), and the account's callback
        gets subscribe_msg_popup_event (set `notify` false to change the stand-in's count alone)."""
        app = self.world.app(_text(values.get("app_id"), "app_id"))
        times = values.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise ControlError(400, "times is at least 1")
        status = values.get("status", "accept")
        if status not in ("accept", "reject"):
            raise ControlError(400, 'status is "accept" or "reject"')
        visitor, template = _text(values.get("visitor"), "visitor"), _text(values.get("template_id"), "template_id")
        if status == "accept":
            left = self.world.grant_consent(app.app_id, visitor, template, times)
        else:
            left = self.world.refuse_consent(app.app_id, visitor, template)
        oid = openid(app.app_id, visitor)
        answer: dict[str, Any] = {"openid": oid, "accepted": left}
        if values.get("notify", True) and app.callback_url:
            entry = delivery.event_xml([("TemplateId", template), ("SubscribeStatusString", status), ("PopupScene", 1)])
            nested = "<SubscribeMsgPopupEvent>" + entry.replace("<xml>", "<List>").replace("</xml>", "</List>")
            sent = self._mp_event(
                app, visitor, oid, [("Event", "subscribe_msg_popup_event")], nested + "</SubscribeMsgPopupEvent>"
            )
            answer["delivery"] = sent.summary()
        return answer

    def _mint_oauth_code(self, values: dict[str, Any]) -> dict[str, Any]:
        app = self.world.app(_text(values.get("app_id"), "app_id"))
        scope = values.get("scope", "snsapi_base")
        if scope not in OAUTH_SCOPES:
            raise ControlError(400, "scope is snsapi_base or snsapi_userinfo")
        visitor = _text(values.get("visitor"), "visitor")
        code = self.world.oauth_code(app.app_id, visitor, scope)
        return {"code": code.code, "openid": openid(app.app_id, visitor)}

    def _mini_login(self, values: dict[str, Any]) -> dict[str, Any]:
        app_id, visitor = _text(values.get("app_id"), "app_id"), _text(values.get("visitor"), "visitor")
        return {"code": self.world.js_code(app_id, visitor).code, "openid": openid(app_id, visitor)}

    def _inbox(self, request: Request) -> list[dict[str, Any]]:
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise ControlError(400, "after is a message id")
        return self.world.messages(request.query.get("visitor", ""), request.query.get("kind", ""), int(after))

    def _deliveries(self, request: Request) -> list[dict[str, Any]]:
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise ControlError(400, "after is a delivery id")
        with self._deliveries_lock:
            return [d.summary() for d in self.deliveries if d.id > int(after)]

    # -- WeCom API ---------------------------------------------------------------------------------------------

    def _wecom_gettoken(self, request: Request) -> Reply:
        token = self.world.wecom_token(request.query.get("corpid", ""), request.query.get("corpsecret", ""))
        return _ok(access_token=token.value, expires_in=7200)

    def _corp_of(self, request: Request) -> str:
        return self.world.check_token("qyapi", request.query.get("access_token", ""))

    def _add_contact_way(self, request: Request) -> Reply:
        corp_id = self._corp_of(request)
        way = self.world.add_contact_way(corp_id, request.json(), f"{self.url}/_local/qr")
        return _ok(config_id=way.config_id, qr_code=way.qr_code)

    def _get_contact_way(self, request: Request) -> Reply:
        corp_id = self._corp_of(request)
        way = self.world.contact_way(corp_id, request.json().get("config_id"))
        data = asdict(way)
        data["user"] = data.pop("users")
        data.pop("corp_id")
        return _ok(contact_way=data)

    def _del_contact_way(self, request: Request) -> Reply:
        self.world.delete_contact_way(self._corp_of(request), request.json().get("config_id"))
        return _ok()

    def _send_welcome_msg(self, request: Request) -> Reply:
        self.world.send_welcome(self._corp_of(request), request.json())
        return _ok()

    def _add_msg_template(self, request: Request) -> Reply:
        failed, msgid = self.world.add_msg_template(self._corp_of(request), request.json())
        return _ok(fail_list=failed, msgid=msgid)

    def _add_corp_tag(self, request: Request) -> Reply:
        return _ok(tag_group=self.world.add_corp_tag(self._corp_of(request), request.json()))

    def _get_corp_tag_list(self, request: Request) -> Reply:
        return _ok(tag_group=self.world.corp_tag_list(self._corp_of(request)))

    def _mark_tag(self, request: Request) -> Reply:
        self.world.mark_tag(self._corp_of(request), request.json())
        return _ok()

    def _get_external_contact(self, request: Request) -> Reply:
        corp_id = self._corp_of(request)
        return _ok(**self.world.external_contact(corp_id, request.query.get("external_userid", "")))

    def _list_external_contacts(self, request: Request) -> Reply:
        corp_id = self._corp_of(request)
        return _ok(external_userid=self.world.external_contacts_of(corp_id, request.query.get("userid", "")))

    # -- official account and mini program API ----------------------------------------------------------------

    def _app_of(self, request: Request) -> str:
        return self.world.check_token("api", request.query.get("access_token", ""))

    def _mp_token(self, request: Request) -> Reply:
        q = request.query
        token = self.world.mp_token(q.get("grant_type", ""), q.get("appid", ""), q.get("secret", ""))
        return _json({"access_token": token.value, "expires_in": 7200})

    def _qrcode_create(self, request: Request) -> Reply:
        code = self.world.create_qrcode(self._app_of(request), request.json(), self.phone_url)
        answer: dict[str, Any] = {"ticket": code.ticket, "url": code.url}
        if code.expires_at is not None:
            answer["expire_seconds"] = round(code.expires_at - self.world.now())
        return _json(answer)

    def _getticket(self, request: Request) -> Reply:
        ticket = self.world.jsapi_ticket(self._app_of(request), request.query.get("type", ""))
        return _ok(ticket=ticket, expires_in=7200)

    def _user_info(self, request: Request) -> Reply:
        return _json(self.world.user_info(self._app_of(request), request.query.get("openid", "")))

    def _bizsend(self, request: Request) -> Reply:
        self.world.send_subscribe_message(self._app_of(request), request.json(), "official_account")
        return _ok()

    def _subscribe_send(self, request: Request) -> Reply:
        message = self.world.send_subscribe_message(self._app_of(request), request.json(), "mini_program")
        return _ok(msgid=message.id)

    def _oauth_token(self, request: Request) -> Reply:
        q = request.query
        token = self.world.oauth_token(
            q.get("appid", ""), q.get("secret", ""), q.get("code", ""), q.get("grant_type", "")
        )
        answer = {
            "access_token": token.value,
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(48),
            "openid": token.openid,
            "scope": token.scope,
            "is_snapshotuser": 0,
        }
        if token.scope == "snsapi_userinfo":
            answer["unionid"] = self.world.sns_userinfo(token.value, token.openid)["unionid"]
        return _json(answer)

    def _sns_userinfo(self, request: Request) -> Reply:
        return _json(self.world.sns_userinfo(request.query.get("access_token", ""), request.query.get("openid", "")))

    def _jscode2session(self, request: Request) -> Reply:
        q = request.query
        session = self.world.jscode2session(
            q.get("appid", ""), q.get("secret", ""), q.get("js_code", ""), q.get("grant_type", "")
        )
        return _json(session)

    def _getwxacodeunlimit(self, request: Request) -> Reply:
        entry = self.world.wxacode(self._app_of(request), request.json(), self.phone_url)
        return Reply(200, qr_png(entry["url"]), "image/png")

    def _showqrcode(self, request: Request) -> Reply:
        try:
            code = self.world.qrcode(request.query.get("ticket", ""))
        except ControlError:
            return Reply(404, b"", "text/plain")
        return Reply(200, qr_png(code.url), "image/png")

    def _contact_way_png(self, request: Request) -> Reply:
        config_id = request.path.removeprefix("/_local/qr/contact/").removesuffix(".png")
        with self.world.lock:
            way = self.world.contact_ways.get(config_id)
        if way is None:
            return Reply(404, b"", "text/plain")
        return Reply(200, qr_png(f"{self.phone_url}?cw={way.config_id}"), "image/png")

    # -- web login -----------------------------------------------------------------------------------------------

    def _visitor(self, request: Request) -> tuple[str, dict[str, str]]:
        """Who holds the phone: `?visitor=` (remembered in a cookie), the cookie, or a new visitor."""
        remembered = unquote(request.cookies.get(VISITOR_COOKIE, ""))
        visitor = request.query.get("visitor") or remembered
        if visitor and visitor == remembered:
            return visitor, {}
        visitor = visitor or f"visitor-{secrets.token_hex(3)}"
        cookie = SimpleCookie()
        cookie[VISITOR_COOKIE] = quote(visitor)  # a header is latin-1: names like 小明 travel percent-encoded
        cookie[VISITOR_COOKIE]["path"] = "/"
        cookie[VISITOR_COOKIE]["samesite"] = "Lax"
        return visitor, {"Set-Cookie": cookie.output(header="").strip()}

    def _authorize(self, request: Request) -> Reply:
        q = request.query
        app = self.world.apps.get(q.get("appid", ""))
        redirect_uri, scope = q.get("redirect_uri", ""), q.get("scope", "")
        if not q.get("appid"):
            return _html(phone.oauth_error(10012, "appid 参数错误"), 400)
        if app is None:
            return _html(phone.oauth_error(10016, "不支持的 appid"), 400)
        if not redirect_uri:
            return _html(phone.oauth_error(10011, "redirect_uri 参数错误"), 400)
        host = urlsplit(redirect_uri).hostname or ""
        if app.oauth_domain and host != app.oauth_domain:
            return _html(phone.oauth_error(10003, "redirect_uri 域名与后台配置不一致"), 400)
        if scope not in OAUTH_SCOPES:
            return _html(phone.oauth_error(10005, "此公众号并没有这些 scope 的权限"), 400)
        if q.get("response_type") != "code":
            return _html(phone.oauth_error(10004, "response_type 参数错误"), 400)
        visitor, cookie = self._visitor(request)
        fields = {"appid": app.app_id, "redirect_uri": redirect_uri, "scope": scope, "state": q.get("state", "")}
        if scope == "snsapi_userinfo":
            return _html(phone.consent(app.name, fields | {"visitor": visitor}), headers=cookie)
        return _redirect(
            self._back(redirect_uri, self.world.oauth_code(app.app_id, visitor, scope).code, fields["state"]), **cookie
        )

    @staticmethod
    def _back(redirect_uri: str, code: str, state: str) -> str:
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return (
            redirect_uri + separator + phone.query(code=code, state=state)
            if code
            else (redirect_uri + separator + phone.query(state=state))
        )

    def _oauth_allow(self, request: Request) -> Reply:
        form = request.form()
        app = self.world.app(form.get("appid", ""))
        redirect_uri, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("decision") != "allow":  # 用户禁止授权: redirected with the state alone
            return _redirect(self._back(redirect_uri, "", state))
        code = self.world.oauth_code(app.app_id, _text(form.get("visitor"), "visitor"), "snsapi_userinfo")
        return _redirect(self._back(redirect_uri, code.code, state))

    # -- the phone -------------------------------------------------------------------------------------------------

    def _phone(self, request: Request) -> Reply:
        visitor, cookie = self._visitor(request)
        q = request.query
        if q.get("cw"):
            with self.world.lock:
                way: ContactWay | None = self.world.contact_ways.get(q["cw"])
            if way is None:
                return _html(phone.page("企业微信", '<div class="card">二维码已失效</div>'), 404, headers=cookie)
            corp = self.world.corp(way.corp_id)
            user = way.users[0]
            chat = None
            with self.world.lock:
                added = any(
                    r.visitor == visitor and k[:2] == (corp.corp_id, user) for k, r in self.world.relations.items()
                )
            if added:
                chat = f"/_local/phone/chat?{phone.query(**{'with': f'wecom:{corp.corp_id}:{user}'})}"
            return _html(
                phone.add_contact(corp.staff.get(user, user), corp.name, way.config_id, visitor, chat), headers=cookie
            )
        if q.get("ticket"):
            try:
                code = self.world.qrcode(q["ticket"])
            except ControlError:
                return _html(phone.page("公众号", '<div class="card">二维码已过期</div>'), 404, headers=cookie)
            app = self.world.app(code.app_id)
            following = (app.app_id, openid(app.app_id, visitor)) in self.world.followers
            return _html(phone.follow(app.name, code.ticket, visitor, following), headers=cookie)
        if q.get("wxacode") and q["wxacode"] in self.world.wxacodes:
            entry = self.world.wxacodes[q["wxacode"]]
            app = self.world.app(entry["app_id"])
            return _html(phone.mini_program(app.name, entry["scene"], entry["page"], visitor), headers=cookie)
        targets = self._targets(visitor)
        return _html(phone.index(visitor, targets), headers=cookie)

    def _targets(self, visitor: str) -> list[tuple[str, str]]:
        with self.world.lock:
            targets = []
            for way in self.world.contact_ways.values():
                corp = self.world.corps[way.corp_id]
                staff = corp.staff.get(way.users[0], way.users[0])
                targets.append((f"企业微信：{staff}（state {way.state or '无'}）", f"/_local/phone?cw={way.config_id}"))
            for code in self.world.qrcodes.values():
                if code.expires_at is None or code.expires_at > self.world.now():
                    name = self.world.apps[code.app_id].name
                    targets.append((f"公众号：{name}（scene {code.scene}）", f"/_local/phone?ticket={code.ticket}"))
            return targets

    def _phone_add(self, request: Request) -> Reply:
        visitor, _ = self._visitor(request)
        result = self.add_contact({"config_id": request.form().get("cw", ""), "visitor": visitor})
        chat = f"wecom:{result['corp_id']}:{result['user_id']}"
        return _redirect(f"/_local/phone/chat?{phone.query(**{'with': chat})}")

    def _phone_follow(self, request: Request) -> Reply:
        visitor, _ = self._visitor(request)
        result = self.follow({"ticket": request.form().get("ticket", ""), "visitor": visitor})
        return _redirect(f"/_local/phone/chat?{phone.query(**{'with': 'mp:' + result['app_id']})}")

    def _phone_chat(self, request: Request) -> Reply:
        visitor, cookie = self._visitor(request)
        target = request.query.get("with", "")
        kind, _, rest = target.partition(":")
        messages = self.world.messages(visitor)
        if kind == "wecom":
            corp_id, _, user = rest.partition(":")
            corp = self.world.corp(corp_id)
            shown = [m for m in messages if m["channel"] == "wecom" and m["sender"] == user]
            title = corp.staff.get(user, user)
            return _html(phone.chat(title, shown, "/_local/phone/leave", {"with": target}), headers=cookie)
        if kind == "mp":
            app = self.world.app(rest)
            shown = [m for m in messages if m["channel"] != "wecom" and m["sender"] == app.app_id]
            return _html(phone.chat(app.name, shown, "/_local/phone/leave", {"with": target}), headers=cookie)
        raise ControlError(400, "with is wecom:<corp_id>:<userid> or mp:<app_id>")

    def _phone_leave(self, request: Request) -> Reply:
        visitor, _ = self._visitor(request)
        kind, _, rest = request.form().get("with", "").partition(":")
        if kind == "wecom":
            corp_id, _, user = rest.partition(":")
            self.delete_contact({"corp_id": corp_id, "user_id": user, "visitor": visitor, "by": "customer"})
        elif kind == "mp":
            self.unfollow({"app_id": rest, "visitor": visitor})
        else:
            raise ControlError(400, "with is wecom:<corp_id>:<userid> or mp:<app_id>")
        return _redirect("/_local/phone")


class _Handler(BaseHTTPRequestHandler):
    standin: WeChatStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(_json({"errcode": 47001, "errmsg": "data format error: body too large"}, 413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        cookies: dict[str, str] = {}
        try:
            jar = SimpleCookie(self.headers.get("Cookie") or "")
            cookies = {name: morsel.value for name, morsel in jar.items()}
        except CookieError:
            pass
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(self.command, parts.path, query, body, cookies)
        try:
            reply = self.standin.handle(request)
        except Exception as exc:  # never leave the socket without an answer
            reply = _json({"error": f"the stand-in failed: {type(exc).__name__}: {exc}"}, 500)
        self._answer(reply)

    do_GET = do_POST = _serve

    def _answer(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
