"""The ports: where one slice has to call another it may not import, the callee plugs in here.

Every entry point runs `wire()` before it hands work to a slice: the API's lazy routes before a slice's first
view (entrypoints/api.py), the stream handler and the schedules in their bodies (entrypoints/events.py).
Campaigns sit below the slices that draw on a live campaign, the participant's own view below the modes that
add to it, and the modes never import each other; these ports keep the imports one way (docs/architecture.md).
"""

from __future__ import annotations

_wired = False


def _qr_svg(text: str) -> str:
    from chalicelib.posters import qr  # qrcode and Pillow: loaded by the first TOTP enrolment, not by `wire()`

    return qr.svg(text)


def wire() -> None:
    """Once per process (wiring twice would change nothing: every port is keyed by name)."""
    global _wired
    if _wired:
        return
    # The services on both sides of each port: loaded by the first request or event, not by `import app`.
    from chalicelib.accounts import totp
    from chalicelib.campaigns import lifecycle
    from chalicelib.modes.distribution import service as distribution
    from chalicelib.modes.group_buy import service as group_buy
    from chalicelib.payouts import wallets
    from chalicelib.referral import join, rewards

    lifecycle.on_go_live("reward_limits", rewards.prepare_limits)
    join.add_view_section("distribution", "commission", distribution.commission_view)
    join.add_view_section("distribution", "wallet", wallets.section)
    distribution.on_group_payment("group_buy", group_buy.record_payment)
    totp.use_qr(_qr_svg)
    _wired = True
