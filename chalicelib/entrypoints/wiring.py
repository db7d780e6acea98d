"""The ports: where one slice has to call another it may not import, the callee plugs in here.

`chalicelib.entrypoints` runs `wire()` on import, and every Lambda handler passes through it.
Campaigns sit below the slices that draw on a live campaign, the participant's own view below the
modes that add to it, and the modes never import each other; these ports keep the imports one way
(docs/architecture.md).
"""

from __future__ import annotations

from chalicelib.campaigns import lifecycle
from chalicelib.modes.distribution import service as distribution
from chalicelib.modes.group_buy import service as group_buy
from chalicelib.referral import join, rewards


def wire() -> None:
    """Idempotent: every port is keyed by name, so wiring twice changes nothing."""
    lifecycle.on_go_live("reward_limits", rewards.prepare_limits)
    join.add_view_section("distribution", "commission", distribution.commission_view)
    distribution.on_group_payment("group_buy", group_buy.record_payment)
