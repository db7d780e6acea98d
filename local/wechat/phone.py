"""The stand-in's phone: small server-rendered pages (no script, no external assets) where a visitor opens a
poster's QR target, adds the staff member or follows the account, reads what was sent to them, and consents
to a web login. Everything shown is escaped; forms post back to the stand-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import urlencode

STYLE = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
background:#ededed;color:#191919}main{max-width:420px;margin:0 auto;min-height:100vh;background:#f7f7f7}
header{background:#2e2e2e;color:#fff;padding:12px 16px;font-size:17px;text-align:center}
.card{background:#fff;margin:12px;padding:20px;border-radius:8px;text-align:center}
.avatar{width:64px;height:64px;border-radius:8px;margin:0 auto 8px;background:#07c160;color:#fff;font-size:28px;
line-height:64px}.muted{color:#888;font-size:13px}button,.button{display:block;width:100%;border:0;
border-radius:6px;padding:12px;font-size:17px;background:#07c160;color:#fff;margin-top:16px;text-decoration:none}
button.secondary{background:#f2f2f2;color:#191919}.bubble{background:#fff;margin:8px 12px;padding:10px 12px;
border-radius:6px;max-width:85%;word-break:break-word}.from{font-size:12px;color:#888;margin:10px 12px 0}
ul{list-style:none;margin:0;padding:0}li a{display:block;background:#fff;margin:8px 12px;padding:12px;
border-radius:6px;color:#191919;text-decoration:none}form{margin:0}
"""


def page(title: str, body: str, refresh: int = 0) -> bytes:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{meta}<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><header>{escape(title)}</header>{body}</main></body></html>"
    ).encode()


def _hidden(fields: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())


def form(action: str, label: str, fields: dict[str, str], secondary: bool = False) -> str:
    css = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post" action="{escape(action)}">{_hidden(fields)}<button{css}>{escape(label)}</button></form>'
    )


def visitor_line(visitor: str) -> str:
    return f'<p class="muted">当前访客：{escape(visitor)}（换一个：在地址后加 ?visitor=名字）</p>'


def add_contact(staff_name: str, corp_name: str, config_id: str, visitor: str, chat_href: str | None) -> bytes:
    """A contact way's QR target; `chat_href` when the visitor already has the staff member as a contact."""
    action = (
        f'<a class="button" href="{escape(chat_href)}">发消息</a>'
        if chat_href
        else form("/_local/phone/add", "添加到通讯录", {"cw": config_id})
    )
    body = (
        f'<div class="card"><div class="avatar">{escape(staff_name[:1])}</div>'
        f"<h3>添加 {escape(staff_name)} 为企业微信联系人</h3>"
        f'<p class="muted">{escape(corp_name)}</p>{action}{visitor_line(visitor)}</div>'
    )
    return page("企业微信", body)


def follow(account: str, ticket: str, visitor: str, following: bool) -> bytes:
    """A parametric QR code's target: following sends subscribe, scanning again as a follower sends SCAN."""
    label = "进入公众号" if following else "关注公众号"
    body = (
        f'<div class="card"><div class="avatar">{escape(account[:1])}</div><h3>{escape(account)}</h3>'
        f'<p class="muted">{"你已关注该公众号" if following else "扫码关注公众号"}</p>'
        f"{form('/_local/phone/follow', label, {'ticket': ticket})}{visitor_line(visitor)}</div>"
    )
    return page("公众号", body)


def mini_program(app_name: str, scene: str, page_path: str, visitor: str) -> bytes:
    body = (
        f'<div class="card"><div class="avatar">{escape(app_name[:1])}</div><h3>{escape(app_name)}</h3>'
        f'<p class="muted">小程序码：页面 {escape(page_path or "首页")}，scene = {escape(scene)}</p>'
        f"{visitor_line(visitor)}</div>"
    )
    return page("小程序", body)


def chat(title: str, messages: Iterable[dict[str, Any]], leave: str, leave_fields: dict[str, str]) -> bytes:
    bubbles = "".join(_bubble(m) for m in messages) or '<p class="muted" style="text-align:center">暂无消息</p>'
    body = f'{bubbles}<div class="card">{form(leave, "删除/取消关注", leave_fields, secondary=True)}</div>'
    return page(title, body, refresh=3)  # the product's welcome message may arrive a moment after the event


def _bubble(message: dict[str, Any]) -> str:
    content = message["content"]
    parts: list[str] = []
    if message["kind"] == "welcome":
        if content.get("text", {}).get("content"):
            parts.append(escape(content["text"]["content"]))
        for attachment in content.get("attachments", []):
            kind = attachment.get("msgtype", "")
            item = attachment.get(kind, {}) if isinstance(attachment.get(kind), dict) else {}
            title = item.get("title") or kind
            link = item.get("url") or item.get("pic_url") or ""
            parts.append(f'[{escape(kind)}] <a href="{escape(link)}">{escape(title)}</a>' if link else escape(title))
    elif message["kind"] == "subscribe_message":
        rows = "".join(
            f"{escape(key)}：{escape(str(value.get('value', '')) if isinstance(value, dict) else str(value))}<br>"
            for key, value in content.get("data", {}).items()
        )
        parts.append(f"<b>订阅通知</b> {escape(content.get('template_id', ''))}<br>{rows}")
    else:
        parts.append(escape(content.get("Content") or content.get("MsgType", "")))
    sender = escape(message["sender_name"])
    return f'<div class="from">{sender}</div><div class="bubble">{"<br>".join(parts)}</div>'


def index(visitor: str, targets: list[tuple[str, str]]) -> bytes:
    items = "".join(f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for label, href in targets)
    listing = f"<ul>{items}</ul>" if items else '<p class="muted" style="text-align:center">还没有二维码</p>'
    body = f'<div class="card"><h3>扫一扫</h3>{visitor_line(visitor)}</div>{listing}'
    return page("本地微信", body)


def consent(app_name: str, fields: dict[str, str]) -> bytes:
    body = (
        f'<div class="card"><div class="avatar">{escape(app_name[:1])}</div><h3>{escape(app_name)}</h3>'
        "<p>申请获得你的公开信息（昵称、头像等）</p>"
        f"{form('/_local/oauth/allow', '允许', fields | {'decision': 'allow'})}"
        f"{form('/_local/oauth/allow', '拒绝', fields | {'decision': 'deny'}, secondary=True)}</div>"
    )
    return page("微信授权", body)


def oauth_error(code: int, message: str) -> bytes:
    body = f'<div class="card"><h3>Oops! Something went wrong:(</h3><p>{code} {escape(message)}</p></div>'
    return page("微信授权", body)


def query(**values: str) -> str:
    return urlencode({k: v for k, v in values.items() if v})
