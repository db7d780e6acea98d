"""Messages sent through the platforms: the official account's subscription messages (订阅通知, `bizsend`) and WeCom
customer messages (`add_msg_template`): their bodies, value limits and errcodes (pure; docs/wechat.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BIZSEND_PATH = "/cgi-bin/message/subscribe/bizsend"
ADD_MSG_TEMPLATE_PATH = "/cgi-bin/externalcontact/add_msg_template"

# A participant who came in through a platform has the external id `openid:<openid>` or `wecom:<external_userid>`.
OPENID_PREFIX = "openid:"
WECOM_PREFIX = "wecom:"

# "user refuse to accept the msg": the follower has no subscription to this template (never accepted, used up, or
# refused it since). Permanent for the message, and whatever credits we counted are void.
REFUSED = 43101
# The request itself is wrong and sending it again cannot help: 40003 invalid openid, 40037 invalid template_id,
# 41030 invalid page, 47003 template data invalid (a value too long or of the wrong kind); WeCom: 40003 invalid
# sender userid, 40096 invalid external_userid, 44004 empty content, 45002 content too long, 60011 the sender is
# outside the app's visible range.
PERMANENT = frozenset({REFUSED, 40003, 40037, 41030, 47003, 40096, 44004, 45002, 60011})

# A subscription template's keyword: its type and its number, e.g. `thing1`, `time2`, `character_string3`.
DATA_KEY = re.compile(
    r"^(thing|number|letter|symbol|character_string|time|date|amount|phone_number|car_number|name|phrase|enum)"
    r"([0-9]{1,2})$"
)
# The documented length limit of each keyword type (characters); time, date, amount and enum have a format, not a
# length, and are sent as given (a value WeChat refuses is answered 47003).
VALUE_LIMITS: Mapping[str, int] = {
    "thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
    "car_number": 8, "name": 10, "phrase": 5,
}  # fmt: skip
MAX_DATA_KEYS = 10


def data_key_type(key: str) -> str | None:
    """The keyword type of a data key (`thing1` -> `thing`), or None when it is not a subscription keyword."""
    match = DATA_KEY.match(key)
    return match.group(1) if match else None


def fit(key: str, value: str) -> str:
    """`value` made to fit its keyword's documented length: cut with an ellipsis (`thing` at most 20 characters)."""
    kind = data_key_type(key)
    text = " ".join(value.split())  # no line breaks or control characters in a keyword
    limit = VALUE_LIMITS.get(kind or "")
    if limit is None or len(text) <= limit:
        return text
    if kind in ("thing", "name"):
        return text[: limit - 1] + "…"
    return text[:limit]


def user_of(external_id: str, prefix: str) -> str | None:
    """The openid or external_userid in a participant's external id (`openid:o6_...`), or None."""
    if not external_id.startswith(prefix):
        return None
    user = external_id[len(prefix) :]
    return user or None


def bizsend_body(openid: str, template_id: str, data: Mapping[str, str], page: str | None) -> dict[str, Any]:
    """`POST /cgi-bin/message/subscribe/bizsend`: `page` is the web page the card opens (an https URL)."""
    body: dict[str, Any] = {
        "touser": openid, "template_id": template_id, "data": {k: {"value": fit(k, v)} for k, v in data.items()},
    }  # fmt: skip
    if page:
        body["page"] = page
    return body


def customer_message_body(external_userid: str, sender: str, text: str) -> dict[str, Any]:
    """`POST /cgi-bin/externalcontact/add_msg_template`, to one customer: WeCom asks the sender to confirm it in
    their app, then delivers it in the one-to-one chat."""
    return {"chat_type": "single", "external_userid": [external_userid], "sender": sender, "text": {"content": text}}


def failed_customers(answer: Mapping[str, Any]) -> list[str]:
    """The customers WeCom could not send to (`fail_list`: not the sender's contact, or over their monthly limit)."""
    found = answer.get("fail_list")
    return [str(user) for user in found] if isinstance(found, list) else []
