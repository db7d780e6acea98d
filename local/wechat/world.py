"""The stand-in's in-memory world: registered corps and apps, tokens, contact ways, contacts, QR codes, codes,
the inbox and the call counters, behind one lock.

Every rule the platforms document that a product can trip over lives here with its errcode: token expiry
(7200 s), one-time OAuth and js codes (5 minutes), a WelcomeCode valid once and for 20 s, the contact-way
ceiling per corp, temporary QR codes that expire. Time is `time.time()` plus an offset a control call can
advance, so tests cross those limits without sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TOKEN_SECONDS = 7200  # access tokens, jsapi tickets and web-login tokens (获取access_token: expires_in 7200)
CODE_SECONDS = 300  # OAuth codes and mini-program login codes: five minutes, once
WELCOME_CODE_SECONDS = 20  # 发送新客户欢迎语: "仅可在收到相关事件后20秒内调用，且只可调用一次"
CONTACT_WAY_LIMIT = 500_000  # 配置客户联系「联系我」方式: "每个企业可通过API最多配置50万个「联系我」"
PERMANENT_QR_LIMIT = 100_000  # 生成带参数的二维码: at most 100,000 permanent codes per account
TEMP_QR_DEFAULT = 60  # a temporary code's default expire_seconds
TEMP_QR_MAX = 2_592_000  # and its ceiling: 30 days
DEFAULT_STAFF = {"xiaomei": "店长小美"}

AppKind = Literal["official_account", "mini_program"]
Host = Literal["qyapi", "api"]


class ApiError(Exception):
    """A platform error: answered as HTTP 200 with `{"errcode": ..., "errmsg": ...}`, as the platforms do."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class ControlError(Exception):
    """A control call the world cannot honour (unknown corp, visitor already a contact...): a JSON 4xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# The errcodes the stand-in answers, by name (the platforms' global error code tables).
ACCESS_TOKEN_MISSING = ApiError(41001, "access_token missing")
WECOM_INVALID_TOKEN = ApiError(40014, "invalid access_token")
MP_INVALID_TOKEN = ApiError(40001, "invalid credential, access_token is invalid or not latest")
TOKEN_EXPIRED = ApiError(42001, "access_token expired")
API_LIMIT = ApiError(45009, "reach max api daily quota limit")
DATA_FORMAT = ApiError(47001, "data format error")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def external_userid(corp_id: str, visitor: str) -> str:
    """A visitor's stable external contact id in one corp (WeCom's are 32 characters starting "wm")."""
    return "wm" + _digest("external", corp_id, visitor)[:30]


# The documented length limit of a subscription keyword's value, by type (characters).
KEYWORD_LIMITS = {
    "thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
    "car_number": 8, "name": 10, "phrase": 5,
}  # fmt: skip
KEYWORD_TYPES = (
    "character_string", "phone_number", "car_number", "thing", "number", "letter", "symbol", "time", "date",
    "amount", "name", "phrase", "enum",
)  # fmt: skip


def _keyword_problem(key: str, entry: Any) -> str:
    """Why a subscription message's `data.{key}` is refused (47003), or "" when it is fine."""
    kind = next((k for k in KEYWORD_TYPES if key.startswith(k) and key[len(k) :].isdigit()), None)
    if kind is None:
        return "is not a keyword of the template"
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"]:
        return "is missing"
    limit = KEYWORD_LIMITS.get(kind)
    if limit is not None and len(entry["value"]) > limit:
        return f"is longer than {limit} characters"
    return ""


def openid(app_id: str, visitor: str) -> str:
    """A visitor's stable openid in one app (28 characters, one per app)."""
    return "o" + _digest("openid", app_id, visitor)[:27]


def unionid(visitor: str) -> str:
    """A visitor's unionid: the same across every app (they are all bound to one open-platform account here)."""
    return "oU" + _digest("unionid", visitor)[:26]


@dataclass
class Corp:
    corp_id: str
    secrets: list[str]
    token: str
    encoding_aes_key: str
    callback_url: str = ""
    agent_id: str = ""
    name: str = "本地企业"
    staff: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STAFF))
    contact_way_limit: int = CONTACT_WAY_LIMIT


@dataclass
class App:
    app_id: str
    secret: str
    kind: AppKind = "official_account"
    name: str = "本地公众号"
    original_id: str = ""  # gh_...: the ToUserName of the official account's callbacks
    token: str = ""
    encoding_aes_key: str = ""
    callback_url: str = ""
    mode: Literal["safe", "plain"] = "safe"
    oauth_domain: str = ""  # when set, an OAuth redirect_uri must be on this host (10003 otherwise)


@dataclass
class Token:
    value: str
    host: Host
    owner: str  # corp_id or app_id
    expires_at: float


@dataclass
class ContactWay:
    config_id: str
    corp_id: str
    type: int
    scene: int
    state: str
    users: list[str]
    qr_code: str
    remark: str = ""
    skip_verify: bool = True
    style: int = 0


@dataclass
class Relation:
    """A customer (visitor) and the staff member they added, with the tags the corp marked on them."""

    corp_id: str
    user_id: str
    external_userid: str
    visitor: str
    state: str
    created_at: int
    tags: list[str] = field(default_factory=list)


@dataclass
class WelcomeCode:
    code: str
    corp_id: str
    user_id: str
    external_userid: str
    visitor: str
    issued_at: float
    used: bool = False


@dataclass
class QrCode:
    ticket: str
    app_id: str
    action_name: str
    scene: str  # scene_str, or scene_id as text
    url: str
    expires_at: float | None  # None: permanent


@dataclass
class Follower:
    app_id: str
    openid: str
    visitor: str
    subscribed_at: int
    qr_scene: str = ""


@dataclass
class OneTimeCode:
    code: str
    app_id: str
    visitor: str
    scope: str
    issued_at: float
    used: bool = False


@dataclass
class SnsToken:
    value: str
    app_id: str
    openid: str
    visitor: str
    scope: str
    expires_at: float


@dataclass
class Message:
    """Something a visitor received: a welcome or customer message, a subscription message, an account's reply."""

    id: int
    kind: Literal["welcome", "customer_message", "subscribe_message", "reply"]
    channel: Literal["wecom", "official_account", "mini_program"]
    visitor: str
    to: str  # external_userid or openid
    sender: str  # staff user id or app id
    sender_name: str
    at: int
    content: dict[str, Any]


@dataclass
class Tag:
    id: str
    name: str
    group_id: str
    group_name: str


class World:
    """All the stand-in's state; every method takes the lock, none does I/O."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.offset = 0.0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.corps: dict[str, Corp] = {}
            self.apps: dict[str, App] = {}
            self.tokens: dict[str, Token] = {}
            self.jsapi_tickets: dict[str, str] = {}  # app_id -> current ticket
            self.contact_ways: dict[str, ContactWay] = {}
            self.relations: dict[tuple[str, str, str], Relation] = {}  # (corp, user, external_userid)
            self.welcome_codes: dict[str, WelcomeCode] = {}
            self.tags: dict[str, dict[str, Tag]] = {}  # corp -> tag id -> tag
            self.qrcodes: dict[str, QrCode] = {}
            self.wxacodes: dict[str, dict[str, Any]] = {}
            self.followers: dict[tuple[str, str], Follower] = {}  # (app, openid)
            self.oauth_codes: dict[str, OneTimeCode] = {}
            self.js_codes: dict[str, OneTimeCode] = {}
            self.sns_tokens: dict[str, SnsToken] = {}
            self.openids: dict[tuple[str, str], str] = {}  # (app, openid) -> visitor, for every openid handed out
            self.consents: Counter[tuple[str, str, str]] = Counter()  # (app, openid, template) -> sends left
            self.inbox: list[Message] = []
            self.calls: Counter[str] = Counter()
            self.limits: dict[str, int] = {}  # path -> calls left before 45009
            self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.offset += seconds
            return self.now()

    # -- registration ---------------------------------------------------------------------------------------

    def register_corp(self, corp: Corp) -> Corp:
        with self.lock:
            self.corps[corp.corp_id] = corp
            return corp

    def register_app(self, app: App) -> App:
        with self.lock:
            if not app.original_id:
                app.original_id = "gh_" + _digest("gh", app.app_id)[:12]
            self.apps[app.app_id] = app
            return app

    def corp(self, corp_id: str) -> Corp:
        with self.lock:
            if corp_id not in self.corps:
                raise ControlError(404, f"no corp {corp_id} is registered")
            return self.corps[corp_id]

    def app(self, app_id: str) -> App:
        with self.lock:
            if app_id not in self.apps:
                raise ControlError(404, f"no app {app_id} is registered")
            return self.apps[app_id]

    # -- calls, limits and tokens ---------------------------------------------------------------------------

    def count(self, path: str) -> None:
        """Counts a call and spends the path's quota when a control call set one (45009 once spent)."""
        with self.lock:
            self.calls[path] += 1
            if path in self.limits:
                if self.limits[path] <= 0:
                    raise API_LIMIT
                self.limits[path] -= 1

    def issue_token(self, host: Host, owner: str) -> Token:
        with self.lock:
            token = Token(secrets.token_urlsafe(48), host, owner, self.now() + TOKEN_SECONDS)
            self.tokens[token.value] = token
            return token

    def wecom_token(self, corp_id: str, secret: str) -> Token:
        with self.lock:
            corp = self.corps.get(corp_id)
            if corp is None:
                raise ApiError(40013, "invalid corpid")
            if secret not in corp.secrets:
                raise ApiError(40001, "invalid credential")
            return self.issue_token("qyapi", corp_id)

    def mp_token(self, grant_type: str, app_id: str, secret: str) -> Token:
        with self.lock:
            if grant_type != "client_credential":
                raise ApiError(40002, "invalid grant_type")
            app = self.apps.get(app_id)
            if app is None:
                raise ApiError(40013, "invalid appid")
            if secret != app.secret:
                raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
            return self.issue_token("api", app_id)

    def check_token(self, host: Host, value: str) -> str:
        """The corp or app a token belongs to, or the documented errcode."""
        with self.lock:
            if not value:
                raise ACCESS_TOKEN_MISSING
            token = self.tokens.get(value)
            if token is None or token.host != host:
                raise WECOM_INVALID_TOKEN if host == "qyapi" else MP_INVALID_TOKEN
            if token.expires_at <= self.now():
                raise TOKEN_EXPIRED
            return token.owner

    def expire_tokens(self) -> int:
        """Every token issued so far expires now: the next call with one answers 42001."""
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = min(token.expires_at, self.now())
            for sns in self.sns_tokens.values():
                sns.expires_at = min(sns.expires_at, self.now())
            return len(self.tokens)

    def revoke_tokens(self) -> int:
        """Every token issued so far is forgotten, as when another caller refreshed it: 40014 / 40001."""
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
            self.sns_tokens.clear()
            self.jsapi_tickets.clear()
            return count

    # -- WeCom: contact ways, contacts, welcome codes, tags --------------------------------------------------

    def add_contact_way(self, corp_id: str, body: dict[str, Any], qr_base: str) -> ContactWay:
        with self.lock:
            corp = self.corps[corp_id]
            kind, scene = body.get("type"), body.get("scene")
            if kind not in (1, 2):
                raise ApiError(41037, "missing contact way type")
            if scene not in (1, 2):
                raise ApiError(41038, "missing contact way scene")
            users = body.get("user") or []
            if isinstance(users, str):
                users = [users]
            if not isinstance(users, list) or not users or (kind == 1 and len(users) != 1):
                raise ApiError(40058, "invalid user: type 1 takes exactly one userid")
            for user in users:
                if user not in corp.staff:
                    raise ApiError(60111, f"userid not found: {user}")
            state = body.get("state") or ""
            if not isinstance(state, str) or len(state) > 30:
                raise ApiError(40058, "invalid state: at most 30 characters")
            remark = body.get("remark") or ""
            if not isinstance(remark, str) or len(remark) > 30:
                raise ApiError(40058, "invalid remark: at most 30 characters")
            if sum(1 for way in self.contact_ways.values() if way.corp_id == corp_id) >= corp.contact_way_limit:
                raise ApiError(API_LIMIT.errcode, f"contact way limit reached: {corp.contact_way_limit}")
            config_id = _digest("config", corp_id, secrets.token_hex(8))[:32]
            way = ContactWay(
                config_id=config_id,
                corp_id=corp_id,
                type=kind,
                scene=scene,
                state=state,
                users=list(users),
                qr_code=f"{qr_base}/contact/{config_id}.png",
                remark=remark,
                skip_verify=bool(body.get("skip_verify", True)),
                style=int(body.get("style") or 0),
            )
            self.contact_ways[config_id] = way
            return way

    def contact_way(self, corp_id: str, config_id: Any) -> ContactWay:
        with self.lock:
            way = self.contact_ways.get(config_id) if isinstance(config_id, str) else None
            if way is None or way.corp_id != corp_id:
                raise ApiError(41044, "invalid config_id")
            return way

    def delete_contact_way(self, corp_id: str, config_id: Any) -> None:
        with self.lock:
            way = self.contact_way(corp_id, config_id)
            del self.contact_ways[way.config_id]

    def find_contact_way(self, config_id: str = "", state: str = "", corp_id: str = "") -> ContactWay:
        with self.lock:
            for way in self.contact_ways.values():
                if config_id and way.config_id != config_id:
                    continue
                if state and way.state != state:
                    continue
                if corp_id and way.corp_id != corp_id:
                    continue
                if config_id or state:
                    return way
            raise ControlError(404, "no contact way matches that config_id / state")

    def add_contact(self, way: ContactWay, visitor: str, user_id: str = "") -> tuple[Relation, WelcomeCode]:
        """A visitor adds the staff member of a contact way: the relation and a fresh WelcomeCode."""
        with self.lock:
            user = user_id or way.users[0]
            if user not in way.users:
                raise ControlError(400, f"{user} is not a member of contact way {way.config_id}")
            ext = external_userid(way.corp_id, visitor)
            key = (way.corp_id, user, ext)
            if key in self.relations:
                raise ControlError(409, f"{visitor} is already a contact of {user}")
            relation = Relation(way.corp_id, user, ext, visitor, way.state, int(self.now()))
            self.relations[key] = relation
            code = WelcomeCode(secrets.token_urlsafe(24), way.corp_id, user, ext, visitor, self.now())
            self.welcome_codes[code.code] = code
            return relation, code

    def remove_contact(self, corp_id: str, visitor: str, user_id: str = "") -> Relation:
        with self.lock:
            ext = external_userid(corp_id, visitor)
            for key, relation in list(self.relations.items()):
                if key[0] == corp_id and key[2] == ext and (not user_id or key[1] == user_id):
                    del self.relations[key]
                    return relation
            raise ControlError(404, f"{visitor} is not a contact in {corp_id}")

    def send_welcome(self, corp_id: str, body: dict[str, Any]) -> Message:
        with self.lock:
            code = self.welcome_codes.get(body.get("welcome_code") or "")
            if code is None or code.corp_id != corp_id:
                raise ApiError(40058, "invalid welcome_code")
            # Once, and within 20 s of the event: afterwards the platform answers 41051.
            if code.used or self.now() - code.issued_at > WELCOME_CODE_SECONDS:
                raise ApiError(41051, "externaluser has started chatting")
            text = body.get("text") or {}
            attachments = body.get("attachments") or []
            if not isinstance(text, dict) or not isinstance(attachments, list) or len(attachments) > 9:
                raise DATA_FORMAT
            if not text.get("content") and not attachments:
                raise ApiError(41008, "missing welcome message content")
            code.used = True
            corp = self.corps[corp_id]
            return self._deliver(
                "welcome",
                "wecom",
                code.visitor,
                code.external_userid,
                code.user_id,
                corp.staff.get(code.user_id, code.user_id),
                {"text": text, "attachments": attachments},
            )

    def add_msg_template(self, corp_id: str, body: dict[str, Any]) -> tuple[list[str], str]:
        """A customer message to single customers as `sender` (WeCom asks the member to confirm it; the stand-in
        delivers at once). Customers who are not the sender's contacts are answered in `fail_list`."""
        with self.lock:
            if body.get("chat_type", "single") != "single":
                raise ApiError(40003, "the stand-in sends to single customers only (chat_type single)")
            customers, sender = body.get("external_userid"), body.get("sender")
            if not isinstance(customers, list) or not customers or not all(isinstance(c, str) for c in customers):
                raise ApiError(40096, "invalid external userid")
            if not isinstance(sender, str) or not sender:
                raise ApiError(40003, "invalid userid: sender is required")
            text = body.get("text") or {}
            attachments = body.get("attachments") or []
            if not isinstance(text, dict) or not isinstance(attachments, list) or len(attachments) > 9:
                raise DATA_FORMAT
            if not text.get("content") and not attachments:
                raise ApiError(44004, "empty content")
            if len(str(text.get("content", "")).encode()) > 4000:
                raise ApiError(45002, "content size out of limit")
            corp = self.corps[corp_id]
            failed: list[str] = []
            for ext in customers:
                relation = self.relations.get((corp_id, sender, ext))
                if relation is None:
                    failed.append(ext)
                    continue
                self._deliver(
                    "customer_message", "wecom", relation.visitor, ext, sender, corp.staff.get(sender, sender),
                    {"text": text, "attachments": attachments},
                )  # fmt: skip
            return failed, f"msg{secrets.token_hex(8)}"

    def _deliver(
        self,
        kind: Any,
        channel: Any,
        visitor: str,
        to: str,
        sender: str,
        sender_name: str,
        content: dict[str, Any],
    ) -> Message:
        message = Message(
            len(self.inbox) + 1, kind, channel, visitor, to, sender, sender_name, int(self.now()), content
        )
        self.inbox.append(message)
        return message

    def add_corp_tag(self, corp_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            asked = [t.get("name") for t in body.get("tag") or [] if isinstance(t, dict)]
            group_name = body.get("group_name") or "默认"
            if not asked or not all(isinstance(n, str) and n for n in asked) or not isinstance(group_name, str):
                raise ApiError(40058, "invalid tag")
            names = [str(n) for n in asked]
            corp_tags = self.tags.setdefault(corp_id, {})
            if body.get("group_id"):  # an existing group, named by its id
                group_name = next((t.group_name for t in corp_tags.values() if t.group_id == body["group_id"]), "")
                if not group_name:
                    raise ApiError(40068, "invalid tagid")
            group_id = next((t.group_id for t in corp_tags.values() if t.group_name == group_name), "")
            group_id = group_id or "et" + _digest("group", corp_id, group_name)[:20]
            if any(t.group_name == group_name and t.name in names for t in corp_tags.values()):
                raise ApiError(40071, "tag name already exists in the group")
            added = []
            for name in names:
                tag = Tag("et" + _digest("tag", corp_id, group_name, name)[:20], name, group_id, group_name)
                corp_tags[tag.id] = tag
                added.append({"id": tag.id, "name": tag.name, "create_time": int(self.now()), "order": 0})
            return {"group_id": group_id, "group_name": group_name, "create_time": int(self.now()), "tag": added}

    def corp_tag_list(self, corp_id: str) -> list[dict[str, Any]]:
        with self.lock:
            groups: dict[str, dict[str, Any]] = {}
            for tag in self.tags.get(corp_id, {}).values():
                group = groups.setdefault(
                    tag.group_id, {"group_id": tag.group_id, "group_name": tag.group_name, "tag": []}
                )
                group["tag"].append({"id": tag.id, "name": tag.name, "order": 0, "deleted": False})
            return list(groups.values())

    def mark_tag(self, corp_id: str, body: dict[str, Any]) -> None:
        with self.lock:
            user, ext = body.get("userid"), body.get("external_userid")
            relation = self.relations.get((corp_id, str(user), str(ext)))
            if relation is None:
                raise ApiError(84061, "not external contact")
            add, remove = body.get("add_tag") or [], body.get("remove_tag") or []
            if not isinstance(add, list) or not isinstance(remove, list) or not (add or remove):
                raise ApiError(40058, "add_tag or remove_tag required")
            known = self.tags.get(corp_id, {})
            for tag_id in [*add, *remove]:
                if tag_id not in known:
                    raise ApiError(40068, "invalid tagid")
            relation.tags = [t for t in relation.tags if t not in remove] + [t for t in add if t not in relation.tags]

    def external_contact(self, corp_id: str, ext: str) -> dict[str, Any]:
        with self.lock:
            follows = [r for k, r in self.relations.items() if k[0] == corp_id and k[2] == ext]
            if not follows:
                raise ApiError(84061, "not external contact")
            visitor = follows[0].visitor
            tags = self.tags.get(corp_id, {})
            return {
                "external_contact": {
                    "external_userid": ext,
                    "name": visitor,
                    "type": 1,
                    "avatar": "",
                    "gender": 0,
                    "unionid": unionid(visitor),
                },
                "follow_user": [
                    {
                        "userid": r.user_id,
                        "remark": "",
                        "description": "",
                        "createtime": r.created_at,
                        "tags": [
                            {"group_name": tags[t].group_name, "tag_name": tags[t].name, "tag_id": t, "type": 1}
                            for t in r.tags
                            if t in tags
                        ],
                        "state": r.state,
                        "add_way": 1,
                    }
                    for r in follows
                ],
            }

    def external_contacts_of(self, corp_id: str, user_id: str) -> list[str]:
        with self.lock:
            if user_id not in self.corps[corp_id].staff:
                raise ApiError(60111, f"userid not found: {user_id}")
            return [r.external_userid for k, r in self.relations.items() if k[0] == corp_id and k[1] == user_id]

    # -- official account: parametric QR codes, followers, subscription messages ----------------------------

    def create_qrcode(self, app_id: str, body: dict[str, Any], phone_base: str) -> QrCode:
        with self.lock:
            action = body.get("action_name")
            scene = (body.get("action_info") or {}).get("scene") or {}
            if action in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE"):
                value = scene.get("scene_str")
                if not isinstance(value, str) or not 1 <= len(value) <= 64:
                    raise ApiError(40097, "invalid args: scene_str is 1 to 64 characters")
            elif action in ("QR_SCENE", "QR_LIMIT_SCENE"):
                number = scene.get("scene_id")
                limit = 100_000 if action == "QR_LIMIT_SCENE" else 2**32 - 1
                if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= limit:
                    raise ApiError(40097, "invalid args: scene_id")
                value = str(number)
            else:
                raise ApiError(40097, "invalid args: action_name")
            permanent = action.startswith("QR_LIMIT")
            if permanent:
                count = sum(1 for q in self.qrcodes.values() if q.app_id == app_id and q.expires_at is None)
                if count >= PERMANENT_QR_LIMIT:
                    raise ApiError(API_LIMIT.errcode, "permanent qrcode limit reached")
                expires_at = None
            else:
                seconds = body.get("expire_seconds", TEMP_QR_DEFAULT)
                if not isinstance(seconds, int) or seconds <= 0:
                    raise ApiError(40097, "invalid args: expire_seconds")
                expires_at = self.now() + min(seconds, TEMP_QR_MAX)
            ticket = "gQ" + secrets.token_urlsafe(40)
            code = QrCode(ticket, app_id, action, value, f"{phone_base}?ticket={ticket}", expires_at)
            self.qrcodes[ticket] = code
            return code

    def qrcode(self, ticket: str) -> QrCode:
        with self.lock:
            code = self.qrcodes.get(ticket)
            if code is None or (code.expires_at is not None and code.expires_at <= self.now()):
                raise ControlError(404, "no such QR code, or it expired")
            return code

    def follow(self, app_id: str, visitor: str, ticket: str = "") -> tuple[Literal["subscribe", "SCAN"], Follower]:
        """A visitor follows (or, already following, scans): which event the account receives."""
        with self.lock:
            scene = self.qrcode(ticket).scene if ticket else ""
            oid = self._openid(app_id, visitor)
            existing = self.followers.get((app_id, oid))
            if existing is not None:
                if not ticket:
                    raise ControlError(409, f"{visitor} already follows {app_id}")
                return "SCAN", existing
            follower = Follower(app_id, oid, visitor, int(self.now()), scene)
            self.followers[(app_id, oid)] = follower
            return "subscribe", follower

    def unfollow(self, app_id: str, visitor: str) -> Follower:
        with self.lock:
            follower = self.followers.pop((app_id, openid(app_id, visitor)), None)
            if follower is None:
                raise ControlError(404, f"{visitor} does not follow {app_id}")
            return follower

    def user_info(self, app_id: str, oid: str) -> dict[str, Any]:
        with self.lock:
            follower = self.followers.get((app_id, oid))
            if follower is None:
                if self._visitor_of(app_id, oid) is None:
                    raise ApiError(40003, "invalid openid")
                return {"subscribe": 0, "openid": oid}
            return {
                "subscribe": 1,
                "openid": oid,
                "language": "zh_CN",
                "subscribe_time": follower.subscribed_at,
                "unionid": unionid(follower.visitor),
                "remark": "",
                "groupid": 0,
                "tagid_list": [],
                "subscribe_scene": "ADD_SCENE_QR_CODE" if follower.qr_scene else "ADD_SCENE_SEARCH",
                "qr_scene": 0,
                "qr_scene_str": follower.qr_scene,
            }

    def grant_consent(self, app_id: str, visitor: str, template_id: str, times: int = 1) -> int:
        """The visitor accepts `times` more sends of a template (wx.requestSubscribeMessage / the OA button)."""
        with self.lock:
            key = (app_id, self._openid(app_id, visitor), template_id)
            self.consents[key] += times
            return self.consents[key]

    def refuse_consent(self, app_id: str, visitor: str, template_id: str) -> int:
        """The visitor refuses a template: no send of it is allowed until they accept again."""
        with self.lock:
            self.consents[(app_id, self._openid(app_id, visitor), template_id)] = 0
            return 0

    def send_subscribe_message(self, app_id: str, body: dict[str, Any], channel: Any) -> Message:
        with self.lock:
            touser, template = body.get("touser"), body.get("template_id")
            if not isinstance(template, str) or not template:
                raise ApiError(40037, "invalid template_id")
            data = body.get("data")
            if not isinstance(data, dict) or not data:
                raise ApiError(47003, "argument invalid! data is empty")
            for key, entry in data.items():
                problem = _keyword_problem(str(key), entry)
                if problem:
                    raise ApiError(47003, f"argument invalid! data.{key}.value {problem}")
            visitor = self._visitor_of(app_id, str(touser))
            if visitor is None:
                raise ApiError(40003, "invalid openid")
            key = (app_id, str(touser), template)
            if self.consents[key] <= 0:
                raise ApiError(43101, "user refuse to accept the msg")
            self.consents[key] -= 1  # one-time subscriptions: each acceptance covers one send
            app = self.apps[app_id]
            content = {"template_id": template, "data": body["data"]}
            for optional in ("page", "miniprogram", "miniprogram_state", "lang"):
                if optional in body:
                    content[optional] = body[optional]
            return self._deliver("subscribe_message", channel, visitor, str(touser), app_id, app.name, content)

    def _openid(self, app_id: str, visitor: str) -> str:
        """The visitor's openid in the app, remembered so that the app's calls can name the visitor by it."""
        oid = openid(app_id, visitor)
        self.openids[(app_id, oid)] = visitor
        return oid

    def _visitor_of(self, app_id: str, oid: str) -> str | None:
        return self.openids.get((app_id, oid))

    def record_reply(self, app_id: str, visitor: str, content: dict[str, Any]) -> Message:
        with self.lock:
            app = self.apps[app_id]
            return self._deliver(
                "reply", "official_account", visitor, openid(app_id, visitor), app_id, app.name, content
            )

    # -- web login, JS-SDK and the mini program -------------------------------------------------------------

    def oauth_code(self, app_id: str, visitor: str, scope: str) -> OneTimeCode:
        with self.lock:
            code = OneTimeCode(secrets.token_urlsafe(24), app_id, visitor, scope, self.now())
            self.oauth_codes[code.code] = code
            return code

    def _redeem(self, codes: dict[str, OneTimeCode], app_id: str, secret: str, value: str) -> OneTimeCode:
        app = self.apps.get(app_id)
        if app is None:
            raise ApiError(40013, "invalid appid")
        if secret != app.secret:
            raise ApiError(40125, "invalid appsecret")
        code = codes.get(value)
        if code is None or code.app_id != app_id or self.now() - code.issued_at > CODE_SECONDS:
            raise ApiError(40029, "invalid code")
        if code.used:
            raise ApiError(40163, "code been used")
        code.used = True
        return code

    def oauth_token(self, app_id: str, secret: str, code: str, grant_type: str) -> SnsToken:
        with self.lock:
            if grant_type != "authorization_code":
                raise ApiError(40002, "invalid grant_type")
            redeemed = self._redeem(self.oauth_codes, app_id, secret, code)
            token = SnsToken(
                secrets.token_urlsafe(48),
                app_id,
                self._openid(app_id, redeemed.visitor),
                redeemed.visitor,
                redeemed.scope,
                self.now() + TOKEN_SECONDS,
            )
            self.sns_tokens[token.value] = token
            return token

    def sns_userinfo(self, access_token: str, oid: str) -> dict[str, Any]:
        with self.lock:
            token = self.sns_tokens.get(access_token)
            if token is None:
                raise MP_INVALID_TOKEN
            if token.expires_at <= self.now():
                raise TOKEN_EXPIRED
            if token.openid != oid:
                raise ApiError(40003, "invalid openid")
            if token.scope != "snsapi_userinfo":
                raise ApiError(48001, "api unauthorized")
            return {
                "openid": oid,
                "nickname": token.visitor,
                "sex": 0,
                "province": "",
                "city": "",
                "country": "",
                "headimgurl": "",
                "privilege": [],
                "unionid": unionid(token.visitor),
            }

    def jsapi_ticket(self, app_id: str, kind: str) -> str:
        with self.lock:
            if kind != "jsapi":
                raise ApiError(40097, "invalid args: type")
            if app_id not in self.jsapi_tickets:
                self.jsapi_tickets[app_id] = secrets.token_urlsafe(64)
            return self.jsapi_tickets[app_id]

    def js_code(self, app_id: str, visitor: str) -> OneTimeCode:
        """What wx.login hands a mini program: a code its server exchanges once at jscode2session."""
        with self.lock:
            if self.app(app_id).kind != "mini_program":
                raise ControlError(400, f"{app_id} is not a mini program")
            code = OneTimeCode(secrets.token_urlsafe(24), app_id, visitor, "", self.now())
            self.js_codes[code.code] = code
            return code

    def jscode2session(self, app_id: str, secret: str, js_code: str, grant_type: str) -> dict[str, Any]:
        with self.lock:
            if grant_type != "authorization_code":
                raise ApiError(40002, "invalid grant_type")
            code = self._redeem(self.js_codes, app_id, secret, js_code)
            return {
                "openid": self._openid(app_id, code.visitor),
                "session_key": secrets.token_urlsafe(18),
                "unionid": unionid(code.visitor),
            }

    def wxacode(self, app_id: str, body: dict[str, Any], phone_base: str) -> dict[str, Any]:
        with self.lock:
            scene = body.get("scene")
            if not isinstance(scene, str) or not 1 <= len(scene) <= 32 or not scene.isascii():
                raise ApiError(40169, "invalid length for scene, or the data is not json string")
            page = body.get("page") or ""
            if not isinstance(page, str) or page.startswith("/"):
                raise ApiError(41030, "invalid page rid")
            code_id = _digest("wxacode", app_id, scene, page)[:24]
            entry = {
                "id": code_id,
                "app_id": app_id,
                "scene": scene,
                "page": page,
                "url": f"{phone_base}?wxacode={code_id}",
            }
            self.wxacodes[code_id] = entry
            return entry

    # -- reading ----------------------------------------------------------------------------------------------

    def messages(self, visitor: str = "", kind: str = "", after: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            return [
                asdict(m)
                for m in self.inbox
                if (not visitor or m.visitor == visitor) and (not kind or m.kind == kind) and m.id > after
            ]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.now(),
                "corps": [asdict(c) for c in self.corps.values()],
                "apps": [asdict(a) for a in self.apps.values()],
                "contact_ways": [asdict(w) for w in self.contact_ways.values()],
                "contacts": [asdict(r) for r in self.relations.values()],
                "tags": {corp: [asdict(t) for t in tags.values()] for corp, tags in self.tags.items()},
                "qrcodes": [asdict(q) for q in self.qrcodes.values()],
                "followers": [asdict(f) for f in self.followers.values()],
                "wxacodes": list(self.wxacodes.values()),
                "limits": dict(self.limits),
            }
