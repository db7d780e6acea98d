"""Assist items: the plan written once when an assist starts, then one conditional update per help."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.modes.assist.rules import INDEX_SHARDS, AssistRecord, index_shard
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import AssistItem, HelpCountItem, Item

HELP_COUNT_RETENTION = timedelta(days=3)  # a day's count is useless once the day is over


_FIELDS = ("cid", "tid", "owner", "goal", "started_at", "deadline")


def _record(item: AssistItem) -> AssistRecord:
    def optional(value: float | None) -> int | None:
        return None if value is None else int(value)

    return AssistRecord(
        **{name: getattr(item, name) for name in _FIELDS},
        target=int(item.target),
        helpers_required=int(item.helpers_required),
        # PynamoDB types a list's elements as the attribute class; they hold numbers.
        cuts=[int(c) for c in cast("list[float]", item.cuts)],
        slots=int(item.slots or 0),
        helped={str(k): int(v) for k, v in (item.helped.attribute_values if item.helped else {}).items()},
        original_price=optional(item.original_price),
        floor_price=optional(item.floor_price),
    )


def get(owner: str, *, consistent: bool = False) -> AssistRecord | None:
    item = get_entity(AssistItem, keys.participant_pk(owner), keys.ASSIST_SK, consistent=consistent)
    return _record(item) if item is not None else None


def start(rec: AssistRecord) -> bool:
    """Write the assist with its whole cut plan; False if it already exists (a racing first help won)."""
    ensure_bound()
    item = AssistItem(
        PK=keys.participant_pk(rec.owner),
        SK=keys.ASSIST_SK,
        **{name: getattr(rec, name) for name in _FIELDS},
        target=rec.target,
        helpers_required=rec.helpers_required,
        cuts=rec.cuts,
        slots=0,
        helped={},
        original_price=rec.original_price,
        floor_price=rec.floor_price,
        # Under its campaign until it completes or expires at the campaign's end (found by key then).
        GSI1PK=keys.campaign_assists_gsi1pk(rec.cid, index_shard(rec.owner)),
        GSI1SK=rec.owner,
    )
    return save_if(item, AssistItem.PK.does_not_exist(), "start assist")


def claim(owner: str, helper: str, now: str) -> AssistRecord | None:
    """Take the next slot for `helper` in one conditional update; None if the condition failed
    (no such assist, already helped, every slot taken or past the deadline).

    The update reads `slots` before it changes, so `slots + 1` is both the new count and the
    helper's slot: concurrent helpers serialise on the item and each gets a distinct slot.
    """
    ensure_bound()
    mine = Path(["helped", helper])  # a list path: the code is one map key, never split or parsed
    item = AssistItem(PK=keys.participant_pk(owner), SK=keys.ASSIST_SK)
    try:
        with unavailable_on_failure("help"):
            item.update(
                actions=[AssistItem.slots.set(AssistItem.slots + 1), mine.set(AssistItem.slots + 1)],
                condition=(
                    mine.does_not_exist()
                    & (AssistItem.slots < AssistItem.helpers_required)
                    & (AssistItem.deadline > now)
                ),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    return _record(item)


def count_help(cid: str, helper: str, day: str, limit: int, now: datetime) -> bool:
    """Count one help for `helper` on `day` unless they reached `limit`; False if they had."""
    ensure_bound()
    item = HelpCountItem(PK=keys.participant_pk(helper), SK=keys.helps_sk(day))
    try:
        with unavailable_on_failure("count help"):
            item.update(
                actions=[
                    HelpCountItem.helps.add(1),
                    HelpCountItem.entity.set(HelpCountItem),
                    HelpCountItem.cid.set(cid),
                    HelpCountItem.code.set(helper),
                    HelpCountItem.day.set(day),
                    HelpCountItem.expires_at.set(int((now + HELP_COUNT_RETENTION).timestamp())),
                ],
                condition=HelpCountItem.helps.does_not_exist() | (HelpCountItem.helps < limit),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def uncount_help(helper: str, day: str) -> None:
    """Give back a help counted for a claim that then failed."""
    ensure_bound()
    item = HelpCountItem(PK=keys.participant_pk(helper), SK=keys.helps_sk(day))
    with unavailable_on_failure("uncount help"):
        item.update(actions=[HelpCountItem.helps.add(-1)], condition=HelpCountItem.helps > 0)


def in_campaign(cid: str) -> list[AssistRecord]:
    """A campaign's assists still filed under it (found by key, shard by shard)."""
    ensure_bound()
    found: list[AssistRecord] = []
    with unavailable_on_failure("campaign assists"):
        for shard in range(INDEX_SHARDS):
            items = Item.gsi1.query(keys.campaign_assists_gsi1pk(cid, shard))
            found += [_record(i) for i in items if isinstance(i, AssistItem)]
    return found


def expire(owner: str, at: str) -> bool:
    """End an unfinished assist at `at` (its deadline moves there, so no help lands after) and take it off
    its campaign's index; False if it had completed or expired already (then it only leaves the index)."""
    ensure_bound()
    item = AssistItem(PK=keys.participant_pk(owner), SK=keys.ASSIST_SK)
    try:
        with unavailable_on_failure("expire assist"):
            item.update(
                actions=[AssistItem.deadline.set(at), AssistItem.GSI1PK.remove(), AssistItem.GSI1SK.remove()],
                condition=(AssistItem.deadline > at) & (AssistItem.slots < AssistItem.helpers_required),
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        unindex(owner)
        return False
    return True


def unindex(owner: str) -> None:
    """Take a finished assist off its campaign's index."""
    ensure_bound()
    item = AssistItem(PK=keys.participant_pk(owner), SK=keys.ASSIST_SK)
    try:
        with unavailable_on_failure("unindex assist"):
            item.update(
                actions=[AssistItem.GSI1PK.remove(), AssistItem.GSI1SK.remove()], condition=AssistItem.PK.exists()
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):  # gone (erased): nothing to take off
            raise
