"""Demo data for `make run`: a live campaign per mode from the template library and a welcome
automation on the console channel, so the landing pages and the console have something to show.

Seeded once, into a tenant with no campaigns; an operator's own campaigns are never touched.

The demo tenant is connected to the local WeChat stand-in's demo corp, official account and mini program
(local/wechat/demo.py) on every start, so the platform screens show them and the stand-in's callbacks verify.

The demo shop (/demo-shop/, local/demo_shop.py) gets its own signed campaign, whose landing page is
the shop, and an identity key to sign with; both are remembered in `.data/demo-shop.json` (the key's
secret lives there and nowhere else) and reused on the next start.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.accounts import identity_keys
from chalicelib.audience import automations
from chalicelib.audience.rules.automations import AutomationCreate
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.spec import Action
from chalicelib.core.errors import FissionError
from chalicelib.core.rbac import Principal, Role
from chalicelib.payouts import connections
from chalicelib.payouts.rules.credentials import AlipayCredentials, WeChatPayCredentials
from chalicelib.platforms import credentials
from chalicelib.platforms.rules.credentials import (
    Credentials,
    MiniProgramCredentials,
    Platform,
    WechatCredentials,
    WecomCredentials,
)
from local.demo_shop import ShopSetup
from local.payments.server import PaymentsStandIn
from local.wechat.demo import DEMO_CORP, DEMO_MINI_PROGRAM, DEMO_OFFICIAL_ACCOUNT

# (mode, template id): one campaign of each mode, all from one café's point of view where the library allows.
DEMO_TEMPLATES = (
    ("invite", "coffee-friends-invite"),
    ("group_buy", "coffee-bogo-group-buy"),
    ("assist", "coffee-americano-assist"),
    ("poster", "restaurant-follow-poster"),
    ("distribution", "saas-referral-distribution"),
)
WELCOME = {
    "name": "Welcome message (console channel)",
    "trigger": {"type": "joined"},
    "actions": [{"type": "send_message", "channel": "console", "template": "welcome"}],
}


def seed(tid: str, owner_email: str, now: datetime) -> list[dict[str, Any]]:
    """The tenant's live campaigns, after creating the demo set if it has no campaigns at all."""
    actor = Principal(tid=tid, email=owner_email, role=Role.OWNER)
    existing = lifecycle.list_page(actor, now, limit=50, cursor=None, status=None)["items"]
    if not existing:
        for _, template in DEMO_TEMPLATES:
            try:
                # The built-in landing pages join anonymously: no merchant server signs for them here.
                body = {"template_id": template, "identity": {"mode": "anonymous"}}
                created = lifecycle.create(actor, body, now)
                lifecycle.transition(actor, created["campaign_id"], Action.PUBLISH, now, override_value_cap=True)
            except FissionError as exc:  # a template the compliance gate refuses stays a draft, visibly
                print(f"  demo campaign {template} not published: {exc.code} {exc}", flush=True)
        automations.create(actor, AutomationCreate.model_validate(WELCOME), now)
        existing = lifecycle.list_page(actor, now, limit=50, cursor=None, status=None)["items"]
    return [c for c in existing if c["status"] == "active"]


# The shop's campaign: members invite friends to become members, and a friend counts when they join.
SHOP_TEMPLATE = "retail-chain-member-invite"
SHOP_PATH = "/demo-shop/"


def seed_shop(tid: str, owner_email: str, site_url: str, now: datetime, state: Path | None) -> ShopSetup | None:
    """The demo shop's campaign and identity key, made or reused (from `state`, when given), or None when
    one cannot be had (the reason is printed). The campaign's landing page is `{site_url}/demo-shop/`."""
    actor = Principal(tid=tid, email=owner_email, role=Role.OWNER)
    kept = _read_state(state, tid)
    try:
        key_id, secret = _shop_key(actor, kept, now)
        cid = _shop_campaign(actor, kept.get("campaign_id"), site_url.rstrip("/") + SHOP_PATH, now)
    except FissionError as exc:
        print(f"  demo shop not available: {exc.code} {exc}", flush=True)
        return None
    setup = ShopSetup(tid=tid, cid=cid, key_id=key_id, secret=secret)
    _write_state(state, setup)
    return setup


def _read_state(state: Path | None, tid: str) -> dict[str, Any]:
    if state is None or not state.is_file():
        return {}
    try:
        kept = json.loads(state.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return kept if isinstance(kept, dict) and kept.get("tenant") == tid else {}


def _write_state(state: Path | None, setup: ShopSetup) -> None:
    if state is None:
        return
    state.parent.mkdir(parents=True, exist_ok=True)
    document = {"tenant": setup.tid, "campaign_id": setup.cid, "key_id": setup.key_id, "secret": setup.secret}
    fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the secret: readable by its owner only
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)


def _shop_key(actor: Principal, kept: dict[str, Any], now: datetime) -> tuple[str, str]:
    """The remembered key while it is active, else a new one (its secret is shown only now)."""
    active = {k["key_id"] for k in identity_keys.list_keys(actor)["items"] if k["status"] == "active"}
    if kept.get("key_id") in active and isinstance(kept.get("secret"), str):
        return str(kept["key_id"]), str(kept["secret"])
    made = identity_keys.issue(actor, now)  # seeding: no one to ask for a TOTP code
    return str(made["key_id"]), str(made["secret"])


def _shop_campaign(actor: Principal, cid: Any, landing: str, now: datetime) -> str:
    """The remembered campaign while it is live (its landing page moved to this port if need be), else a new one."""
    current = None
    if isinstance(cid, str):
        try:
            current = lifecycle.get(actor, cid, now)
        except FissionError:
            current = None
    if current is not None and current["status"] in ("active", "paused"):
        if current.get("landing_url") != landing:  # `make run` on another PORT: a live campaign is edited paused
            if current["status"] == "active":
                lifecycle.transition(actor, cid, Action.PAUSE, now)
            lifecycle.patch(actor, cid, {"landing_url": landing}, now)
            lifecycle.transition(actor, cid, Action.PUBLISH, now, override_value_cap=True)
        return str(cid)
    body = {"template_id": SHOP_TEMPLATE, "language": "en", "identity": {"mode": "signed"}, "landing_url": landing}
    created = lifecycle.create(actor, body, now)
    lifecycle.transition(actor, created["campaign_id"], Action.PUBLISH, now, override_value_cap=True)
    return str(created["campaign_id"])


def demo_platforms() -> dict[Platform, Credentials]:
    """The stand-in's demo corp, official account and mini program as the product stores them."""
    return {
        "wecom": WecomCredentials(
            corp_id=DEMO_CORP["corp_id"],
            contact_secret=DEMO_CORP["secret"],
            callback_token=DEMO_CORP["token"],
            encoding_aes_key=DEMO_CORP["encoding_aes_key"],
            agent_id=int(DEMO_CORP["agent_id"]),
        ),
        "wechat": WechatCredentials(
            app_id=DEMO_OFFICIAL_ACCOUNT["app_id"],
            app_secret=DEMO_OFFICIAL_ACCOUNT["secret"],
            callback_token=DEMO_OFFICIAL_ACCOUNT["token"],
            message_mode=DEMO_OFFICIAL_ACCOUNT.get("mode", "safe"),
            encoding_aes_key=DEMO_OFFICIAL_ACCOUNT["encoding_aes_key"],
        ),
        "miniprogram": MiniProgramCredentials(
            app_id=DEMO_MINI_PROGRAM["app_id"], app_secret=DEMO_MINI_PROGRAM["secret"]
        ),
    }


def seed_platforms(tid: str, now: datetime) -> list[Platform]:
    """Connect the tenant to the stand-in's demo platforms (seeding: no one to ask for a TOTP code); the
    platforms written this time (none when they already match). Credentials an owner changed on the demo tenant are
    set back: the stand-in only knows these."""
    written: list[Platform] = []
    for platform, found in demo_platforms().items():
        if credentials.connect_for_local_seed(tid, platform, found, now):
            written.append(platform)
    return written


def seed_payouts(tid: str, payments: PaymentsStandIn, now: datetime) -> list[str]:
    """Connect the tenant to the local WeChat Pay and Alipay fakes with their keys (seeding: no one to ask for a
    TOTP code); the providers written this time (none when they already match). The fakes' keys are kept in
    `.data/secrets/payment-fakes.json`, so a restart writes nothing."""
    written: list[str] = []
    found = (
        WeChatPayCredentials.model_validate(payments.wechatpay.credentials()),
        AlipayCredentials.model_validate(payments.alipay.credentials()),
    )
    for document in found:
        if connections.connect_for_local_seed(tid, document, now):
            written.append(document.provider)
    return written
