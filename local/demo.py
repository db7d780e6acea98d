"""Demo data for `make run`: a live campaign per mode from the template library and a welcome
automation on the console channel, so the landing pages and the console have something to show.

Seeded once, into a tenant with no campaigns; an operator's own campaigns are never touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.audience import automations
from chalicelib.audience.rules.automations import AutomationCreate
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.spec import Action
from chalicelib.core.errors import FissionError
from chalicelib.core.rbac import Principal, Role

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
