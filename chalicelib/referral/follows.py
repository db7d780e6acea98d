"""The merchant's follows webhook: a follow qualifies the participant's invite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.referral import identity
from chalicelib.referral.rules.follows import FollowEvent
from chalicelib.referral.store import participants as participant_store


def follow(tid: str, event: FollowEvent, now: datetime) -> dict[str, Any]:
    """A follow qualifies the participant's invite (once); an unfollow later takes nothing back."""
    rec = live.campaign(event.campaign_id)
    if rec.tid != tid:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    participant = identity.find(rec.cid, event.external_id)
    if participant is None:
        raise NotFound("this user has not joined the campaign; send the follow after the join",
                       code=Code.PARTICIPANT_NOT_FOUND)  # fmt: skip
    if event.action == "unfollow":
        return {"event_id": event.event_id, "result": "ignored"}
    counted = participant_store.mark_qualified(participant.code, iso(now))
    return {"event_id": event.event_id, "result": "qualified" if counted else "already_qualified"}
