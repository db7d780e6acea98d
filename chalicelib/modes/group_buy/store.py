"""Groups and their members: small transactions that keep a full group from taking anyone else."""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.modes.group_buy.rules import GroupRecord, Member, deadline_shard
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import GroupItem, Item, MemberItem, ParticipantItem

JoinOutcome = Literal["joined", "already_member", "refused"]


def _connection() -> Connection:
    return Item._get_connection().connection


def _open_group_item(rec: GroupRecord) -> GroupItem:
    """A new group, filed under the day and shard of its deadline (GSI2) and under its campaign (GSI1) until
    it closes: the deadline and the campaign's end each find it by key."""
    item = GroupItem(
        PK=keys.group_pk(rec.gid), SK=keys.META, gid=rec.gid, cid=rec.cid, tid=rec.tid, leader=rec.leader,
        size=rec.size, price_fen=rec.price_fen, members=rec.members, status=rec.status, opened_at=rec.opened_at,
        deadline=rec.deadline, closed_at=rec.closed_at,
    )  # fmt: skip
    item.GSI2PK = keys.group_deadline_gsi2pk(rec.deadline[:10], deadline_shard(rec.gid))
    item.GSI2SK = keys.group_deadline_gsi2sk(rec.deadline, rec.gid)
    item.GSI1PK = keys.campaign_open_groups_gsi1pk(rec.cid, deadline_shard(rec.gid))
    item.GSI1SK = rec.gid
    return item


def _member_item(gid: str, cid: str, member: Member) -> MemberItem:
    # Indexed by member (GSI1), so a data-subject export or erasure finds every group of one participant.
    return MemberItem(
        PK=keys.group_pk(gid), SK=keys.member_sk(member.code), gid=gid, cid=cid, code=member.code,
        nickname=member.nickname, leader=member.leader, joined_at=member.joined_at, order_id=member.order_id,
        GSI1PK=keys.member_groups_gsi1pk(member.code), GSI1SK=keys.member_groups_gsi1sk(member.joined_at, gid),
    )  # fmt: skip


def open_group(rec: GroupRecord, leader: Member, max_open: int) -> None:
    """Group (in its deadline bucket), leader membership and the leader's open-group count in one transaction."""
    ensure_bound()
    leader_item = ParticipantItem(PK=keys.participant_pk(rec.leader), SK=keys.META)
    room = ParticipantItem.open_groups.does_not_exist() | (ParticipantItem.open_groups < max_open)
    try:
        with unavailable_on_failure("open group"), TransactWrite(connection=_connection()) as tx:
            tx.save(_open_group_item(rec), condition=GroupItem.PK.does_not_exist())
            tx.save(_member_item(rec.gid, rec.cid, leader))
            tx.update(
                leader_item,
                actions=[ParticipantItem.open_groups.add(1)],
                condition=ParticipantItem.PK.exists() & room,
            )
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Conflict(
                f"a leader may have at most {max_open} open group(s) in this campaign", code=Code.TOO_MANY_OPEN_GROUPS
            ) from exc
        raise


def join(gid: str, cid: str, member: Member, now: str) -> JoinOutcome:
    """Member item plus `members + 1`, only while the group is open, not full and not past its deadline."""
    ensure_bound()
    group = GroupItem(PK=keys.group_pk(gid), SK=keys.META)
    open_and_room = (GroupItem.status == "open") & (GroupItem.members < GroupItem.size) & (GroupItem.deadline > now)
    try:
        with unavailable_on_failure("join group"), TransactWrite(connection=_connection()) as tx:
            tx.save(_member_item(gid, cid, member), condition=MemberItem.PK.does_not_exist())
            tx.update(group, actions=[GroupItem.members.add(1)], condition=open_and_room)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
        return "already_member" if reasons and reasons[0] == "ConditionalCheckFailed" else "refused"
    return "joined"


def get(gid: str, *, consistent: bool = True) -> GroupRecord | None:
    """The group with its members, in one query of its partition."""
    ensure_bound()
    with unavailable_on_failure("get group"):
        items = list(Item.query(keys.group_pk(gid), consistent_read=consistent))
    group = next((i for i in items if isinstance(i, GroupItem)), None)
    if group is None:
        return None
    roster = [
        Member(code=m.code, nickname=m.nickname, leader=bool(m.leader), joined_at=m.joined_at, order_id=m.order_id)
        for m in items
        if isinstance(m, MemberItem)
    ]
    return GroupRecord(
        gid=group.gid, cid=group.cid, tid=group.tid, leader=group.leader, size=int(group.size),
        price_fen=int(group.price_fen), members=int(group.members), status=group.status,
        opened_at=group.opened_at, deadline=group.deadline, closed_at=group.closed_at,
        roster=sorted(roster, key=lambda m: (not m.leader, m.joined_at)), system_members=int(group.system_members or 0),
    )  # fmt: skip


def close(rec: GroupRecord, status: str, closed_at: str, *, system_members: int = 0) -> bool:
    """Record the outcome once (conditional on still being open) and free the leader's slot.

    `system_members` > 0 completes the group as `rec` was read (its member count unchanged since) and
    succeeds it: the missing places are counted on the group, and no member item is written for them.
    """
    ensure_bound()
    expected = GroupItem.status == "open"
    actions: list[Action] = [
        GroupItem.status.set(status),
        GroupItem.closed_at.set(closed_at),
        GroupItem.GSI2PK.remove(),
        GroupItem.GSI2SK.remove(),
        GroupItem.GSI1PK.remove(),
        GroupItem.GSI1SK.remove(),
    ]
    if system_members > 0:
        expected &= (GroupItem.members == rec.members) & (GroupItem.size == rec.members + system_members)
        actions += [GroupItem.members.set(rec.size), GroupItem.system_members.set(system_members)]
    elif status == "succeeded":
        expected &= GroupItem.members >= GroupItem.size
    else:
        expected &= GroupItem.members < GroupItem.size
    group = GroupItem(PK=keys.group_pk(rec.gid), SK=keys.META)
    leader = ParticipantItem(PK=keys.participant_pk(rec.leader), SK=keys.META)
    try:
        with unavailable_on_failure("close group"), TransactWrite(connection=_connection()) as tx:
            tx.update(group, actions=actions, condition=expected)
            tx.update(leader, actions=[ParticipantItem.open_groups.add(-1)])
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False  # already closed, or the outcome is not the one asked for
        raise
    return True


def open_in_campaign(cid: str, shard: int) -> list[GroupRecord]:
    """A campaign's open groups in one shard of its index (found by key)."""
    ensure_bound()
    with unavailable_on_failure("campaign groups"):
        gids = [
            i.gid for i in Item.gsi1.query(keys.campaign_open_groups_gsi1pk(cid, shard)) if isinstance(i, GroupItem)
        ]
    return [g for g in (get(gid) for gid in gids) if g is not None]


def index_in_campaign(rec: GroupRecord) -> bool:
    """File an open group stored before the campaign index existed under its campaign; False if it is
    closed or filed already."""
    ensure_bound()
    item = GroupItem(PK=keys.group_pk(rec.gid), SK=keys.META)
    try:
        with unavailable_on_failure("index group"):
            item.update(
                actions=[
                    GroupItem.GSI1PK.set(keys.campaign_open_groups_gsi1pk(rec.cid, deadline_shard(rec.gid))),
                    GroupItem.GSI1SK.set(rec.gid),
                ],
                condition=(GroupItem.status == "open") & GroupItem.GSI1PK.does_not_exist(),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def due(day: str, shard: int, until: str) -> list[GroupRecord]:
    """Open groups in a deadline bucket whose deadline is at or before `until` (found by key)."""
    ensure_bound()
    with unavailable_on_failure("due groups"):
        found = Item.gsi2.query(keys.group_deadline_gsi2pk(day, shard), Item.GSI2SK <= f"{until}#~")
        gids = [i.gid for i in found if isinstance(i, GroupItem)]
    return [g for g in (get(gid) for gid in gids) if g is not None]


def set_member_order(gid: str, code: str, oid: str) -> bool:
    """The group member's paid order; False when the buyer is not a member of that group."""
    table = ensure_bound().table_name
    try:
        with unavailable_on_failure("member order"):
            dynamodb_client().update_item(
                TableName=table, Key={"PK": {"S": keys.group_pk(gid)}, "SK": {"S": keys.member_sk(code)}},
                UpdateExpression="SET order_id = :o", ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":o": {"S": oid}},
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
