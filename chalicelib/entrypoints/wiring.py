"""The ports: where a lower slice calls back into a higher one, the higher one plugs in here.

`chalicelib.entrypoints` runs `wire()` on import, and every Lambda handler passes through it.
Campaigns sit below the slices that draw on a live campaign, and the participant's own view below
the modes that add to it; these ports keep the imports one way (docs/architecture.md).
"""

from __future__ import annotations

from chalicelib.campaigns import lifecycle
from chalicelib.modes.distribution import service as orders
from chalicelib.referral import join, rewards


def wire() -> None:
    """Idempotent: every port is keyed by name, so wiring twice changes nothing."""
    lifecycle.on_go_live("reward_limits", rewards.prepare_limits)
    join.add_view_section("distribution", "commission", orders.commission_view)
