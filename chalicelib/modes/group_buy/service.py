"""Group buying: leaders open groups, friends join until the size or the deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.campaigns import lifecycle, live
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
from chalicelib.table.images import CampaignImage, GroupImage

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


def _roster(group: GroupRecord) -> list[dict[str, Any]]:
    """Real members with their masked nicknames, then auto-fill's places, marked as the system's."""
    real = [
        {"nickname": mask_name(m.nickname or "") or "*", "leader": m.leader, "joined_at": m.joined_at, "system": False}
        for m in group.roster
    ]
    filled = {"nickname": domain.SYSTEM_NICKNAME, "leader": False, "joined_at": group.closed_at, "system": True}
    return real + [dict(filled) for _ in range(group.system_members)]


def view(group: GroupRecord, now: datetime) -> dict[str, Any]:
    deadline_at = parse_iso(group.deadline)
    rec = live.campaign(group.cid)
    rules = _rules(rec)
    # A campaign ended early closes its groups then, whatever their own deadline (the stream closes them
    # moments later; the view does not wait for it).
    state = domain.status(group.status, group.members, group.size, min(deadline_at, rec.closes_at), now)
    return {
        "group_id": group.gid,
        "campaign_id": group.cid,
        "status": state,
        "size": group.size,
        "members_count": group.members,
        "system_members": group.system_members,
        "price_fen": group.price_fen,
        "original_price_fen": rules.original_price_fen,
        "deadline": group.deadline,
        "seconds_left": max(0, int((deadline_at - now).total_seconds())) if state == "open" else 0,
        # The landing page, opened on this group (with the leader as the inviter of whoever joins).
        "share_url": links.landing_link(rec, {"group": group.gid, "ref": group.leader}),
        "members": _roster(group),
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


def _announce_success(group: GroupRecord, rec: CampaignRecord, now: datetime) -> None:
    """`group.succeeded` and the leader's perk, each exactly once however often this runs (the event is
    keyed by the group, the perk's reward by its rule id)."""
    data = payloads.GroupSucceeded(
        group_id=group.gid, campaign_id=group.cid, leader=group.leader, members=group.size,
        system_members=group.system_members,
    )  # fmt: skip
    events.emit(group.tid, "group.succeeded", data, group.gid, now)
    _issue_perk(group, rec, now)


def _issue_perk(group: GroupRecord, rec: CampaignRecord, now: datetime) -> None:
    perk = _rules(rec).leader_perk
    if perk is not None:
        grant = grant_of(f"{LEADER_RULE}:{group.gid}", perk, limit_rule=LEADER_RULE)
        rewards.issue(rec, group.leader, grant, now)


def on_group_change(new: GroupImage, now: datetime, old: GroupImage | None = None) -> None:
    """A group that has just filled up succeeds, and its leader gets the perk, each exactly once.

    A group auto-fill completed was announced by whoever closed it; its stream record announces it again
    (a no-op then), so a closer that stopped between closing and announcing loses nothing."""
    if new.status == "succeeded" and new.system_members > 0 and (old is None or old.status == "open"):
        filled = store.get(new.gid)
        if filled is not None:
            _announce_success(filled, live.campaign(filled.cid), now)
        return
    if new.status != "open" or new.members < new.size:
        return
    group = store.get(new.gid)
    if group is None:
        return
    rec = live.campaign(group.cid)
    if store.close(group, "succeeded", iso(now)):
        logger.info("group succeeded", group_id=group.gid, campaign_id=group.cid)
        _announce_success(group, rec, now)
    else:  # closed by an earlier delivery of this record, which may have stopped before the perk
        _issue_perk(group, rec, now)


@dataclass
class Closed:
    """The groups one pass closed unfilled: failed (members refunded) or completed by auto-fill."""

    failed: list[str] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)


def _close_unfilled(group: GroupRecord, rec: CampaignRecord | None, now: datetime, closed: Closed) -> None:
    """Close an open group that is not full: completed with system members when the campaign's auto-fill
    rule says so, else failed with a refund for every paid member. Conditional, so a second pass (or a
    racing closer) changes nothing."""
    if group.status != "open" or group.members >= group.size:
        return  # full groups succeed through the stream
    at = iso(now)
    rules = rec.spec.rules if rec is not None and isinstance(rec.spec, GroupBuyCampaign) else None
    fill = domain.system_fill(rules, group.members, group.size) if rules is not None else 0
    if fill and rec is not None:
        if store.close(group, "succeeded", at, system_members=fill):
            group.status, group.closed_at, group.members, group.system_members = "succeeded", at, group.size, fill
            logger.info("group completed by auto-fill", group_id=group.gid, campaign_id=group.cid, system_members=fill)
            _announce_success(group, rec, now)
            closed.filled.append(group.gid)
        return
    if not store.close(group, "failed", at):
        return
    deadline_at = parse_iso(group.deadline)
    reason = domain.close_reason(deadline_at, rec.closes_at) if rec is not None else "deadline"
    paid = [m.order_id for m in group.roster if m.order_id]
    logger.info("group failed", group_id=group.gid, campaign_id=group.cid, refunds=len(paid), reason=reason)
    data = payloads.GroupFailed(
        group_id=group.gid, campaign_id=group.cid, leader=group.leader, refunds=paid, reason=reason
    )
    events.emit(group.tid, "group.failed", data, group.gid, now)
    closed.failed.append(group.gid)


def fail_expired(now: datetime) -> Closed:
    """Groups past their deadline and not full close (fail, or are completed by auto-fill); found by key in
    the deadline buckets."""
    closed = Closed()
    campaigns: dict[str, CampaignRecord | None] = {}
    until = iso(now)
    for back in range(CLOSE_LOOKBACK_DAYS, -1, -1):
        day = (now - timedelta(days=back)).strftime("%Y-%m-%d")
        for shard in range(domain.DEADLINE_SHARDS):
            for group in store.due(day, shard, until):
                if group.cid not in campaigns:
                    campaigns[group.cid] = lifecycle.find(group.cid)
                _close_unfilled(group, campaigns[group.cid], now, closed)
    return closed


def close_for_campaign(cid: str, now: datetime) -> Closed:
    """Close every open group of a campaign that has ended, found by key in the campaign's index; a
    group that is full already succeeds through the stream instead."""
    closed = Closed()
    rec = lifecycle.find(cid)
    for shard in range(domain.DEADLINE_SHARDS):
        for group in store.open_in_campaign(cid, shard):
            _close_unfilled(group, rec, now, closed)
    if closed.failed or closed.filled:
        logger.info("groups closed at the campaign's end", campaign_id=cid, failed=closed.failed, filled=closed.filled)
    return closed


def on_campaign_change(change: Change) -> None:
    """A group-buy campaign that has just ended (by an operator or at its end time) closes its open groups.
    A paused campaign keeps them: it may resume."""
    old, new = change.old_as(CampaignImage), change.new_as(CampaignImage)
    if new is None or new.status != "ended" or (old is not None and old.status == "ended"):
        return
    if new.mode not in (None, "group_buy"):
        return
    close_for_campaign(new.cid, utcnow())


def index_open_groups(now: datetime) -> dict[str, int]:
    """File the open groups stored before groups were indexed by campaign (found by key in the deadline
    buckets, which hold every open group), and close those whose campaign has already ended. Idempotent."""
    counts = {"indexed": 0, "closed": 0}
    campaigns: dict[str, CampaignRecord | None] = {}
    until = iso(now + timedelta(days=CLOSE_LOOKBACK_DAYS + 1))
    for back in range(CLOSE_LOOKBACK_DAYS, -CLOSE_LOOKBACK_DAYS - 2, -1):
        day = (now - timedelta(days=back)).strftime("%Y-%m-%d")
        for shard in range(domain.DEADLINE_SHARDS):
            for group in store.due(day, shard, until):
                counts["indexed"] += int(store.index_in_campaign(group))
                if group.cid not in campaigns:
                    campaigns[group.cid] = lifecycle.find(group.cid)
                rec = campaigns[group.cid]
                if rec is not None and rec.status == "ended":
                    closed = Closed()
                    _close_unfilled(group, rec, now, closed)
                    counts["closed"] += len(closed.failed) + len(closed.filled)
    return counts


def on_change(change: Change) -> None:
    new = change.new_as(GroupImage)
    if new is not None:
        on_group_change(new, utcnow(), change.old_as(GroupImage))


def group(gid: str) -> GroupRecord | None:
    """The group with its members (automations message them)."""
    return store.get(gid)


def closing(day: str, shard: int, until: str) -> list[GroupRecord]:
    """Open groups in the deadline bucket `day` whose deadline is at or before `until` (found by key)."""
    return store.due(day, shard, until)


def record_payment(gid: str, code: str, oid: str) -> bool:
    """A member paid for their place (the orders webhook names the group); False if they are not a member."""
    return store.set_member_order(gid, code, oid)
