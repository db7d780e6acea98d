"""Profiles with their tag and birthday items, tag definitions and saved segments (docs/audience.md)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audience.rules.profiles import Profile, TagRule
from chalicelib.audience.rules.records import ProfilePosition, ProfileTagRecord, ProfileWrite, SegmentRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Unavailable
from chalicelib.core.observability import logger
from chalicelib.table import keys
from chalicelib.table.db import (
    decode_cursor,
    encode_cursor,
    ensure_bound,
    get_entity,
    is_condition_failure,
    save_if,
    unavailable_on_failure,
)
from chalicelib.table.models import (
    BirthdayItem,
    Item,
    ProfileItem,
    ProfileTagItem,
    SegmentItem,
    TagDefinitionItem,
)

# Tag changes written inside the profile's transaction; any beyond follow it (idempotent puts and deletes).
TAGS_IN_TRANSACTION = 20
BIRTHDAY_SHARDS = 8
BATCH_GET = 100  # keys per BatchGetItem, the service's ceiling
TRANSACTION_ITEMS = 100  # actions per TransactWriteItems, the service's ceiling (DynamoDB Local 3's too)
# Keys a BatchGetItem left unprocessed (throttled) are asked again this many times, with backoff.
UNPROCESSED_RETRIES = 6


def _connection() -> Connection:
    return Item._get_connection().connection


def _profile(item: ProfileItem) -> Profile:
    return Profile(
        tid=item.tid, uid=item.uid, version=int(item.version or 0), nickname=item.nickname,
        birthday=item.birthday, first_seen=item.first_seen, last_seen=item.last_seen,
        parts=dict(item.parts or {}), rewards=set(item.rewards or ()),
        orders={k: int(v) for k, v in (item.orders or {}).items()},
        groups=set(item.groups or ()), helps=set(item.helps or ()), auto_tags=dict(item.auto_tags or {}),
        manual_tags=dict(item.manual_tags or {}), tier=dict(item.tier) if item.tier else None,
        churn_level=item.churn_level, churn_alert=bool(item.churn_alert),
    )  # fmt: skip


def _item(p: Profile) -> ProfileItem:
    item = ProfileItem(
        PK=keys.profile_pk(p.tid, p.uid), SK=keys.PROFILE_SK, tid=p.tid, uid=p.uid, version=p.version,
        nickname=p.nickname, birthday=p.birthday, first_seen=p.first_seen,
        last_seen=p.last_seen, parts=p.parts or None, rewards=p.rewards or None, orders=p.orders or None,
        groups=p.groups or None, helps=p.helps or None, auto_tags=p.auto_tags or None,
        manual_tags=p.manual_tags or None, tags=set(p.tags) or None, tier=p.tier or None,
        churn_level=p.churn_level, churn_alert=p.churn_alert or None,
    )  # fmt: skip
    if p.first_seen:
        item.GSI1PK = keys.tenant_profiles_gsi1pk(p.tid, keys.profile_shard(p.uid))
        item.GSI1SK = keys.tenant_profiles_gsi1sk(p.first_seen, p.uid)
    if p.last_seen:
        item.GSI2PK = keys.idle_gsi2pk(p.tid, p.last_seen[:10])
        item.GSI2SK = keys.idle_gsi2sk(p.last_seen, p.uid)
    return item


def get(tid: str, uid: str, *, consistent: bool = True) -> Profile | None:
    item = get_entity(ProfileItem, keys.profile_pk(tid, uid), keys.PROFILE_SK, consistent=consistent)
    return _profile(item) if item is not None else None


def get_many(tid: str, uids: list[str]) -> list[Profile]:
    ensure_bound()
    out: list[Profile] = []
    with unavailable_on_failure("get profiles"):
        for item in Item.batch_get([(keys.profile_pk(tid, u), keys.PROFILE_SK) for u in dict.fromkeys(uids)]):
            if isinstance(item, ProfileItem):
                out.append(_profile(item))
    return out


def get_batch(wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Profile]:
    """The profiles of (tenant, uid) pairs, strongly consistent, by BatchGetItem: 100 keys a call, keys the
    service left unprocessed asked again with backoff. Absent profiles are absent from the answer."""
    ensure_bound()
    table = Item._get_connection()
    pending = [
        {"PK": {"S": keys.profile_pk(tid, uid)}, "SK": {"S": keys.PROFILE_SK}} for tid, uid in dict.fromkeys(wanted)
    ]
    out: dict[tuple[str, str], Profile] = {}
    for start in range(0, len(pending), BATCH_GET):
        chunk: list[dict[str, Any]] = pending[start : start + BATCH_GET]
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(min(1.0, 0.05 * 2**attempt))
            with unavailable_on_failure("get profiles"):
                # Key maps, as PynamoDB's own batch_get passes them (its annotation says str).
                answer = table.batch_get_item(cast(Any, chunk), consistent_read=True)
            for raw in answer.get("Responses", {}).get(table.table_name, []):
                item = Item.from_raw_data(raw)
                if isinstance(item, ProfileItem):
                    out[(item.tid, item.uid)] = _profile(item)
            chunk = answer.get("UnprocessedKeys", {}).get(table.table_name, {}).get("Keys", [])
            if not chunk:
                break
        else:
            raise Unavailable("storage is unavailable (get profiles); retry shortly", code=Code.STORAGE_UNAVAILABLE)
    return out


def _tag_item(p: Profile, tag: str, source: str, at: str) -> ProfileTagItem:
    return ProfileTagItem(
        PK=keys.profile_pk(p.tid, p.uid), SK=keys.profile_tag_sk(tag), tid=p.tid, uid=p.uid, tag=tag, source=source,
        added_at=at, GSI1PK=keys.tagged_gsi1pk(p.tid, tag), GSI1SK=keys.tagged_gsi1sk(at, p.uid),
    )  # fmt: skip


def _ops(write: ProfileWrite) -> list[tuple[str, Item]]:
    """The tag and birthday items that go with a profile write, in the order they are written."""
    profile = write.profile
    pk = keys.profile_pk(profile.tid, profile.uid)
    ops: list[tuple[str, Item]] = [("save", _tag_item(profile, t, s, at)) for t, (s, at) in sorted(write.added.items())]
    ops += [("delete", Item(PK=pk, SK=keys.profile_tag_sk(t))) for t in sorted(write.removed)]
    if profile.birthday != write.old_birthday:
        if profile.birthday:
            shard = keys.profile_shard(profile.uid) % BIRTHDAY_SHARDS
            birthday = BirthdayItem(
                PK=pk, SK=keys.BIRTHDAY_SK, tid=profile.tid, uid=profile.uid, month_day=profile.birthday,
                GSI2PK=keys.birthday_gsi2pk(profile.birthday, shard),
                GSI2SK=keys.birthday_gsi2sk(profile.tid, profile.uid),
            )  # fmt: skip
            ops.append(("save", birthday))
        else:
            ops.append(("delete", Item(PK=pk, SK=keys.BIRTHDAY_SK)))
    return ops


def _condition(expected_version: int) -> Any:
    return ProfileItem.PK.does_not_exist() if expected_version == 0 else ProfileItem.version == expected_version


def save(
    profile: Profile,
    expected_version: int,
    added: dict[str, tuple[str, str]],
    removed: set[str],
    old_birthday: str | None,
) -> bool:
    """Write the profile if nobody wrote it since `expected_version` was read, with its tag items
    (`added`: tag -> (source, added at)) and birthday item. False on a concurrent write."""
    ensure_bound()
    write = ProfileWrite(profile, expected_version, added, removed, old_birthday)
    ops = _ops(write)
    profile.version = expected_version + 1
    try:
        with unavailable_on_failure("save profile"), TransactWrite(connection=_connection()) as tx:
            tx.save(_item(profile), condition=_condition(expected_version))
            for op, item in ops[:TAGS_IN_TRANSACTION]:
                tx.save(item) if op == "save" else tx.delete(item)
    except TransactWriteError as exc:
        profile.version = expected_version
        if is_condition_failure(exc):
            return False
        raise
    _write_rest(ops)
    return True


def _write_rest(ops: list[tuple[str, Item]]) -> None:
    with unavailable_on_failure("save profile tags"):
        for op, item in ops[TAGS_IN_TRANSACTION:]:
            item.save() if op == "save" else item.delete()


def save_all(writes: list[ProfileWrite]) -> list[ProfileWrite]:
    """Write many profiles as `save` does each (every profile conditional on the version read, with its
    tag items in the same transaction), several people to a transaction. Returns the writes not done:
    those that lost a race (someone wrote the profile since it was read) and those in a transaction that
    failed for another reason; the caller re-reads and retries those one at a time."""
    ceiling = TRANSACTION_ITEMS
    waiting = [(write, _ops(write)) for write in writes]
    lost: list[ProfileWrite] = []
    while waiting:
        # One transaction of whole people, up to the action ceiling (a person's tag items go with them).
        group: list[tuple[ProfileWrite, list[tuple[str, Item]]]] = []
        actions = 0
        while waiting and (not group or actions + 1 + min(len(waiting[0][1]), TAGS_IN_TRANSACTION) <= ceiling):
            write, ops = waiting.pop(0)
            group.append((write, ops))
            actions += 1 + min(len(ops), TAGS_IN_TRANSACTION)
        culprits = _commit(group)
        if culprits is None:
            for write, ops in group:
                write.profile.version = write.expected_version + 1
                _write_rest(ops)
            continue
        if not culprits:  # failed, and the service did not say for whom: each is done on its own
            lost += [write for write, _ in group]
            continue
        # The others are still as read: they go again, in the next transaction.
        lost += [group[i][0] for i in sorted(culprits)]
        waiting[:0] = [entry for i, entry in enumerate(group) if i not in culprits]
    return lost


def _commit(group: list[tuple[ProfileWrite, list[tuple[str, Item]]]]) -> set[int] | None:
    """Commit one transaction of several people's writes: None when written, else the positions in
    `group` of the people whose items the service named as the cause (empty when it named none)."""
    # The request lists deletes before puts (PynamoDB's order); the reasons follow the request.
    deletes: list[int] = []
    puts: list[int] = []
    try:
        with unavailable_on_failure("save profiles"), TransactWrite(connection=_connection()) as tx:
            for i, (write, ops) in enumerate(group):
                profile = write.profile
                item = _item(profile)
                item.version = write.expected_version + 1
                tx.save(item, condition=_condition(write.expected_version))
                puts.append(i)
                for op, extra in ops[:TAGS_IN_TRANSACTION]:
                    if op == "save":
                        tx.save(extra)
                        puts.append(i)
                    else:
                        tx.delete(extra)
                        deletes.append(i)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons if is_condition_failure(exc) else []
        owners = deletes + puts
        if len(reasons) != len(owners):
            logger.warning("profile transaction failed", people=len(group), error=exc.cause_response_code)
            return set()
        return {owners[i] for i, reason in enumerate(reasons) if reason is not None and reason.code != "None"}
    return None


# ---- listings and their cursors ------------------------------------------------------------


def _decode(cursor: str | None) -> dict[str, Any]:
    return decode_cursor(cursor) if cursor else {}


def _bad_cursor() -> BadRequest:
    return BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR)


def _start_key(key: Any, partition: str) -> dict[str, Any] | None:
    """A resume key only for the partition being read: another tenant's (or a forged) one is refused."""
    if key is None:
        return None
    if not isinstance(key, dict) or key.get("GSI1PK") != {"S": partition}:
        raise _bad_cursor()
    return key


def _page(
    tid: str, shard: int, limit: int, after: dict[str, Any] | None
) -> tuple[list[Profile], dict[str, Any] | None]:
    """One page of a tenant's profiles in one shard, newest first (GSI1)."""
    ensure_bound()
    with unavailable_on_failure("list profiles"):
        found = Item.gsi1.query(
            keys.tenant_profiles_gsi1pk(tid, shard), scan_index_forward=False, limit=limit, last_evaluated_key=after
        )
        items = [_profile(i) for i in found if isinstance(i, ProfileItem)]
        return items, found.last_evaluated_key


def walk(tid: str, cursor: str | None, budget: int, page_size: int) -> Iterator[tuple[Profile, ProfilePosition | None]]:
    """Every profile of the tenant from where `cursor` stopped (the start when None), shard by shard,
    with the position that resumes after it (None at the end); at most `budget` profiles are read,
    `page_size` a query."""
    state = _decode(cursor)
    shard = state.get("shard", 0)
    if not isinstance(shard, int) or not 0 <= shard < keys.PROFILE_SHARDS:
        raise _bad_cursor()
    after = _start_key(state.get("key"), keys.tenant_profiles_gsi1pk(tid, shard))
    while shard < keys.PROFILE_SHARDS and budget > 0:
        items, last = _page(tid, shard, min(budget, page_size), after)
        budget -= len(items)
        for i, item in enumerate(items):
            if i < len(items) - 1 or last is not None:
                nxt: ProfilePosition | None = ProfilePosition(shard, item)
            else:
                nxt = ProfilePosition(shard + 1) if shard + 1 < keys.PROFILE_SHARDS else None
            yield item, nxt
        if last is None:
            shard, after = shard + 1, None
        else:
            after = last


def _item_key(p: Profile) -> dict[str, Any]:
    """The GSI1 position of a profile: where a page that stopped at it resumes."""
    return {
        "PK": {"S": keys.profile_pk(p.tid, p.uid)},
        "SK": {"S": keys.PROFILE_SK},
        "GSI1PK": {"S": keys.tenant_profiles_gsi1pk(p.tid, keys.profile_shard(p.uid))},
        "GSI1SK": {"S": keys.tenant_profiles_gsi1sk(str(p.first_seen), p.uid)},
    }


def walk_cursor(position: ProfilePosition) -> str:
    """The opaque cursor that resumes a walk at `position`."""
    key = _item_key(position.after) if position.after is not None else None
    return encode_cursor({"shard": position.shard, "key": key})


def tagged(tid: str, tag: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
    """The uids carrying a tag, most recently tagged first (GSI1 over the tag items), from where
    `cursor` stopped, and the cursor of the next page (None at the end)."""
    start = _start_key(_decode(cursor).get("key"), keys.tagged_gsi1pk(tid, tag))
    ensure_bound()
    with unavailable_on_failure("list tagged"):
        found = Item.gsi1.query(
            keys.tagged_gsi1pk(tid, tag), scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        uids = [i.uid for i in found if isinstance(i, ProfileTagItem)]
        last = found.last_evaluated_key
    return uids, encode_cursor({"key": last}) if last else None


def profile_tags(tid: str, uid: str) -> list[ProfileTagRecord]:
    """The tags on a profile, by name."""
    ensure_bound()
    with unavailable_on_failure("profile tags"):
        found = Item.query(keys.profile_pk(tid, uid), Item.SK.startswith(keys.PROFILE_TAG_PREFIX))
        return [
            ProfileTagRecord(tid=i.tid, uid=i.uid, tag=i.tag, source=i.source, added_at=i.added_at)
            for i in found
            if isinstance(i, ProfileTagItem)
        ]


def idle(tid: str, day: str, until: str) -> list[Profile]:
    """Profiles last seen on `day` (UTC) no later than `until` (GSI2): the inactive, found by key."""
    ensure_bound()
    with unavailable_on_failure("idle profiles"):
        found = Item.gsi2.query(keys.idle_gsi2pk(tid, day), Item.GSI2SK <= f"{until}#~")
        return [_profile(i) for i in found if isinstance(i, ProfileItem)]


def birthdays(month_day: str) -> list[tuple[str, str]]:
    """(tenant, uid) of every profile whose birthday is `month_day`, across tenants."""
    ensure_bound()
    out: list[tuple[str, str]] = []
    with unavailable_on_failure("birthdays"):
        for shard in range(BIRTHDAY_SHARDS):
            for item in Item.gsi2.query(keys.birthday_gsi2pk(month_day, shard)):
                if isinstance(item, BirthdayItem):
                    out.append((item.tid, item.uid))
    return out


# ---- tag definitions and segments ----------------------------------------------------------


def tag_definitions(tid: str) -> dict[str, TagRule]:
    ensure_bound()
    with unavailable_on_failure("tag definitions"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.TAG_DEFINITION_PREFIX))
        return {
            i.name: TagRule(i.name, i.kind, i.rule, i.description or "", enabled=bool(i.enabled))
            for i in found
            if isinstance(i, TagDefinitionItem)
        }


def put_tag_definition(tid: str, rule: TagRule, created_at: str, updated_at: str, *, new: bool) -> bool:
    """False when `new` and the tag exists already."""
    ensure_bound()
    item = TagDefinitionItem(
        PK=keys.tenant_pk(tid), SK=keys.tag_definition_sk(rule.name), tid=tid, name=rule.name, kind=rule.kind,
        description=rule.description or None, rule=rule.rule, enabled=rule.enabled, created_at=created_at,
        updated_at=updated_at,
    )  # fmt: skip
    return save_if(item, Item.PK.does_not_exist() if new else None, "save tag")


def tag_definition_created(tid: str, name: str) -> str | None:
    item = get_entity(TagDefinitionItem, keys.tenant_pk(tid), keys.tag_definition_sk(name), consistent=True)
    return item.created_at if item else None


def delete_tag_definition(tid: str, name: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete tag"):
        Item(PK=keys.tenant_pk(tid), SK=keys.tag_definition_sk(name)).delete()


def _segment(item: SegmentItem) -> SegmentRecord:
    return SegmentRecord(
        tid=item.tid, sid=item.sid, name=item.name, expression=item.expression, created_at=item.created_at,
        updated_at=item.updated_at,
    )  # fmt: skip


def segments(tid: str) -> list[SegmentRecord]:
    ensure_bound()
    with unavailable_on_failure("segments"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.SEGMENT_PREFIX), consistent_read=True)
        return [_segment(i) for i in found if isinstance(i, SegmentItem)]


def get_segment(tid: str, sid: str) -> SegmentRecord | None:
    item = get_entity(SegmentItem, keys.tenant_pk(tid), keys.segment_sk(sid), consistent=True)
    return _segment(item) if item is not None else None


def put_segment(segment: SegmentRecord) -> None:
    """Create or replace a saved segment."""
    ensure_bound()
    item = SegmentItem(
        PK=keys.tenant_pk(segment.tid), SK=keys.segment_sk(segment.sid), tid=segment.tid, sid=segment.sid,
        name=segment.name, expression=segment.expression, created_at=segment.created_at,
        updated_at=segment.updated_at,
    )  # fmt: skip
    with unavailable_on_failure("save segment"):
        item.save()


def delete_segment(tid: str, sid: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete segment"):
        Item(PK=keys.tenant_pk(tid), SK=keys.segment_sk(sid)).delete()
