"""Group buying: leaders open groups, friends join until the size or the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.campaigns import live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import GroupBuyCampaign, GroupBuyRules
from chalicelib.core.clock import iso, parse_iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Gone, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.messaging import events
from chalicelib.messaging.rules import payloads
from chalicelib.modes.group_buy import rules as domain
from chalicelib.modes.group_buy import store
from chalicelib.modes.group_buy.rules import GroupRecord, Member
from chalicelib.referral import identity, links, rewards
from chalicelib.referral.rules.rewards import LEADER_RULE, grant_of
from chalicelib.security.pii import mask_name
from chalicelib.table.changes import Change
from chalicelib.table.images import GroupImage

CLOSE_LOOKBACK_DAYS = 3  # deadlines are at most 72 hours after opening


def _group_campaign(cid: str, now: datetime) -> CampaignRecord:
    rec = live.open_campaign(cid, now)
    if rec.mode != "group_buy":
        raise Conflict("this campaign is not a group buy", code=Code.WRONG_MODE)
    return rec


def _rules(rec: CampaignRecord) -> GroupBuyRules:
    if not isinstance(rec.spec, GroupBuyCampaign):
        raise Conflict("this campaign is not a group buy", code=Code.WRONG_MODE)
    return rec.spec.rules


def view(group: GroupRecord, now: datetime) -> dict[str, Any]:
    deadline_at = parse_iso(group.deadline)
    state = domain.status(group.status, group.members, group.size, deadline_at, now)
    rec = live.campaign(group.cid)
    rules = _rules(rec)
    return {
        "group_id": group.gid,
        "campaign_id": group.cid,
        "status": state,
        "size": group.size,
        "members_count": group.members,
        "price_fen": group.price_fen,
        "original_price_fen": rules.original_price_fen,
        "deadline": group.deadline,
        "seconds_left": max(0, int((deadline_at - now).total_seconds())) if state == "open" else 0,
        # The landing page, opened on this group (with the leader as the inviter of whoever joins).
        "share_url": links.landing_link(rec, {"group": group.gid, "ref": group.leader}),
        "members": [
            {"nickname": mask_name(m.nickname or "") or "*", "leader": m.leader, "joined_at": m.joined_at}
            for m in group.roster
        ],
        "auto_fill": rules.auto_fill,
    }


def open_group(cid: str, authorization: str | None, size: int | None, now: datetime) -> dict[str, Any]:
    rec = _group_campaign(cid, now)
    leader = identity.authenticated(cid, authorization, now)
    rules = _rules(rec)
    tier = domain.tier_for(rules, size)
    deadline_at = domain.deadline(now, rules, rec.spec.ends_at)
    gid = new_id("grp")
    group = GroupRecord(
        gid=gid, cid=cid, tid=rec.tid, leader=leader.code, size=tier.size, price_fen=tier.price_fen,
        members=1, status="open", opened_at=iso(now), deadline=iso(deadline_at),
    )  # fmt: skip
    member = Member(code=leader.code, nickname=leader.nickname, leader=True, joined_at=iso(now))
    store.open_group(group, member, rules.max_open_groups_per_leader)
    group.roster = [member]
    return view(group, now)


def join_group(gid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    group = store.get(gid)
    if group is None:
        raise NotFound("no such group", code=Code.GROUP_NOT_FOUND)
    _group_campaign(group.cid, now)
    joiner = identity.authenticated(group.cid, authorization, now)
    member = Member(code=joiner.code, nickname=joiner.nickname, leader=False, joined_at=iso(now))
    outcome = store.join(gid, group.cid, member, iso(now))
    if outcome == "already_member":
        raise Conflict("you are already in this group", code=Code.ALREADY_MEMBER)
    if outcome == "refused":
        fresh = store.get(gid)
        assert fresh is not None
        state = domain.status(fresh.status, fresh.members, fresh.size, parse_iso(fresh.deadline), now)
        if state == "failed":
            raise Gone("the group's deadline has passed", code=Code.GROUP_EXPIRED)
        raise Conflict("the group is full", code=Code.GROUP_FULL)
    fresh = store.get(gid)
    assert fresh is not None
    return view(fresh, now)


def get_group(gid: str, now: datetime) -> dict[str, Any]:
    group = store.get(gid)
    if group is None:
        raise NotFound("no such group", code=Code.GROUP_NOT_FOUND)
    return view(group, now)


def on_group_change(new: GroupImage, now: datetime) -> None:
    """A group that has just filled up succeeds, and its leader gets the perk, each exactly once."""
    if new.status != "open" or new.members < new.size:
        return
    group = store.get(new.gid)
    if group is None:
        return
    if store.close(group, "succeeded", iso(now)):
        logger.info("group succeeded", group_id=group.gid, campaign_id=group.cid)
        data = payloads.GroupSucceeded(
            group_id=group.gid, campaign_id=group.cid, leader=group.leader, members=group.size
        )
        events.emit(group.tid, "group.succeeded", data, group.gid, now)
    perk = _rules(live.campaign(group.cid)).leader_perk
    if perk is not None:
        grant = grant_of(f"{LEADER_RULE}:{group.gid}", perk, limit_rule=LEADER_RULE)
        rewards.issue(live.campaign(group.cid), group.leader, grant, now)


def fail_expired(now: datetime) -> list[str]:
    """Groups past their deadline and not full fail; found by key in the deadline buckets."""
    failed: list[str] = []
    until = iso(now)
    for back in range(CLOSE_LOOKBACK_DAYS, -1, -1):
        day = (now - timedelta(days=back)).strftime("%Y-%m-%d")
        for shard in range(domain.DEADLINE_SHARDS):
            for group in store.due(day, shard, until):
                if group.members < group.size and store.close(group, "failed", until):
                    paid = [m.order_id for m in group.roster if m.order_id]
                    logger.info("group failed", group_id=group.gid, campaign_id=group.cid, refunds=len(paid))
                    data = payloads.GroupFailed(
                        group_id=group.gid, campaign_id=group.cid, leader=group.leader, refunds=paid
                    )
                    events.emit(group.tid, "group.failed", data, group.gid, now)
                    failed.append(group.gid)
    return failed


def on_change(change: Change) -> None:
    new = change.new_as(GroupImage)
    if new is not None:
        on_group_change(new, utcnow())


def group(gid: str) -> GroupRecord | None:
    """The group with its members (automations message them)."""
    return store.get(gid)


def closing(day: str, shard: int, until: str) -> list[GroupRecord]:
    """Open groups in the deadline bucket `day` whose deadline is at or before `until` (found by key)."""
    return store.due(day, shard, until)


def record_payment(gid: str, code: str, oid: str) -> bool:
    """A member paid for their place (the orders webhook names the group); False if they are not a member."""
    return store.set_member_order(gid, code, oid)
