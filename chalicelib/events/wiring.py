"""Where a lower slice calls back into a higher one, the higher one is plugged in here, once, at start.

Campaigns sit below the slices that draw on a live campaign, and the participant's own view below
the modes that add to it; these ports keep the imports one way (docs/architecture.md).
"""

from __future__ import annotations

from chalicelib.services import campaigns, orders, participants, rewards


def wire() -> None:
    """Idempotent: every port is keyed by name, so wiring twice changes nothing."""
    campaigns.on_go_live("reward_limits", rewards.prepare_limits)
    participants.add_view_section("distribution", "commission", orders.commission_view)
