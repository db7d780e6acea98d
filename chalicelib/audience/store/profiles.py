"""Profiles with their tag and birthday items, tag definitions and saved segments (docs/audience.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audience.rules.profiles import Profile, TagRule
from chalicelib.audience.rules.records import ProfilePosition, ProfileTagRecord, SegmentRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest
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


def _connection() -> Connection:
    return Item._get_connection().connection


def _profile(item: ProfileItem) -> Profile:
    return Profile(
        tid=item.tid, uid=item.uid, version=int(item.version or 0), nickname=item.nickname,
        birthday=item.birthday, first_seen=item.first_seen, last_seen=item.last_seen,
        parts=dict(item.parts or {}), rewards=set(item.rewards or ()),
        orders={k: int(v) for k, v in (item.orders or {}).items()},
        groups=set(item.groups or ()), helps=set(item.helps or ()), auto_tags=dict(item.auto_tags or {}),
        manual_tags=dict(item.manual_tags or {}),
    )  # fmt: skip


def _item(p: Profile) -> ProfileItem:
    item = ProfileItem(
        PK=keys.profile_pk(p.tid, p.uid), SK=keys.PROFILE_SK, tid=p.tid, uid=p.uid, version=p.version,
        nickname=p.nickname, birthday=p.birthday, first_seen=p.first_seen,
        last_seen=p.last_seen, parts=p.parts or None, rewards=p.rewards or None, orders=p.orders or None,
        groups=p.groups or None, helps=p.helps or None, auto_tags=p.auto_tags or None,
        manual_tags=p.manual_tags or None, tags=set(p.tags) or None,
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


def _tag_item(p: Profile, tag: str, source: str, at: str) -> ProfileTagItem:
    return ProfileTagItem(
        PK=keys.profile_pk(p.tid, p.uid), SK=keys.profile_tag_sk(tag), tid=p.tid, uid=p.uid, tag=tag, source=source,
        added_at=at, GSI1PK=keys.tagged_gsi1pk(p.tid, tag), GSI1SK=keys.tagged_gsi1sk(at, p.uid),
    )  # fmt: skip


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
    pk = keys.profile_pk(profile.tid, profile.uid)
    profile.version = expected_version + 1
    ops: list[tuple[str, Any]] = [("save", _tag_item(profile, t, s, at)) for t, (s, at) in sorted(added.items())]
    ops += [("delete", Item(PK=pk, SK=keys.profile_tag_sk(t))) for t in sorted(removed)]
    if profile.birthday != old_birthday:
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
    condition = ProfileItem.PK.does_not_exist() if expected_version == 0 else ProfileItem.version == expected_version
    try:
        with unavailable_on_failure("save profile"), TransactWrite(connection=_connection()) as tx:
            tx.save(_item(profile), condition=condition)
            for op, item in ops[:TAGS_IN_TRANSACTION]:
                tx.save(item) if op == "save" else tx.delete(item)
    except TransactWriteError as exc:
        profile.version = expected_version
        if is_condition_failure(exc):
            return False
        raise
    with unavailable_on_failure("save profile tags"):
        for op, item in ops[TAGS_IN_TRANSACTION:]:
            item.save() if op == "save" else item.delete()
    return True


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
