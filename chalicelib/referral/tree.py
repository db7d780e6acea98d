"""The referral tree for operators: a campaign's roots, or one participant and their descendants.

Every answer is bounded: roots are read a query page at a time (at most `MAX_ROOT_QUERIES`
pages per call), and a subtree reads at most `limit` nodes per level, so `limit x depth` in all.
"""

from __future__ import annotations

from typing import Any

from chalicelib.campaigns import lifecycle
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.rbac import Principal
from chalicelib.referral.store import tree as store
from chalicelib.security.pii import mask_name
from chalicelib.table import keys

DEFAULT_DEPTH, MAX_DEPTH = 2, 5
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# Roots are filtered out of the participants of 16 shards; a call reads this many pages at most
# and hands back a cursor even when it found fewer than `limit` roots.
MAX_ROOT_QUERIES = 32


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValidationFailed(
            f"{name} must be between {low} and {high}",
            details={"errors": [{"field": name, "type": "range", "message": f"{low}..{high}"}]},
        )


def node(item: dict[str, Any], level: int) -> dict[str, Any]:
    depth = item.get("depth")
    return {
        "code": item["code"],
        "nickname": mask_name(item.get("nickname") or "") or None,
        "joined_at": item.get("joined_at"),
        "depth": int(depth) if isinstance(depth, int) else level,
        "invited_by": item.get("inviter"),
        "qualified": bool(item.get("qualified_at")),
        "counted": len(item.get("counted") or ()),
    }


def tree(actor: Principal, cid: str, *, root: str | None, depth: int, limit: int, cursor: str | None) -> dict[str, Any]:
    _in_range("depth", depth, 1, MAX_DEPTH)
    _in_range("limit", limit, 1, MAX_LIMIT)
    lifecycle.owned(actor.tid, cid)
    if root is None:
        return _roots(cid, limit, cursor)
    return _subtree(cid, root, depth, limit, cursor)


def _roots(cid: str, limit: int, cursor: str | None) -> dict[str, Any]:
    shard, start = 0, None
    if cursor is not None:
        state = store.decode_cursor(cursor)
        given = state.get("s")
        if (
            state.get("c") != cid
            or not isinstance(given, int)
            or isinstance(given, bool)
            or not 0 <= given < keys.PARTICIPANT_SHARDS
        ):
            raise store.invalid_cursor()
        shard = given
        start = store.checked_key(state.get("k"), "GSI1", keys.campaign_participants_gsi1pk(cid, shard))
    found: list[dict[str, Any]] = []
    queries = 0
    while len(found) < limit and shard < keys.PARTICIPANT_SHARDS and queries < MAX_ROOT_QUERIES:
        page = store.campaign_page(cid, shard, start, limit - len(found), roots_only=True)
        queries += 1
        found += [node(item, 0) for item in page.items]
        if page.last_key is None:
            shard, start = shard + 1, None
        else:
            start = page.last_key
    done = shard >= keys.PARTICIPANT_SHARDS
    next_cursor = None if done else store.encode_cursor({"c": cid, "s": shard, "k": start})
    return {"items": found, "next_cursor": next_cursor}


def _children_cursor(start: store.Key | None) -> str | None:
    return store.encode_cursor({"k": start}) if start is not None else None


def _subtree(cid: str, root: str, depth: int, limit: int, cursor: str | None) -> dict[str, Any]:
    item = store.participant(root)
    if item is None or item.get("cid") != cid:
        raise NotFound("no such participant in this campaign", code="PARTICIPANT_NOT_FOUND")
    start = None
    if cursor is not None:
        state = store.decode_cursor(cursor)
        start = store.checked_key(state.get("k"), "GSI2", keys.children_gsi2pk(root))
        if start is None:
            raise store.invalid_cursor()
    top = node(item, 0)
    level: list[tuple[dict[str, Any], store.Key | None]] = [(top, start)]
    truncated = False
    for generation in range(1, depth + 1):
        budget = limit  # nodes this level may hold, over all its parents
        following: list[tuple[dict[str, Any], store.Key | None]] = []
        for parent, parent_start in level:
            if budget == 0:
                truncated = True  # this parent and the rest of the level are left unexpanded
                break
            # One more than fits tells "more children" from "exactly this many" without another read.
            page = store.children_page(parent["code"], parent_start, budget + 1)
            kept = page.items[:budget]
            more = len(page.items) > budget or page.last_key is not None
            children = [node(child, generation) for child in kept]
            budget -= len(children)
            parent["children"] = children
            parent["children_truncated"] = more
            parent["children_cursor"] = _children_cursor(store.key_of(kept[-1], "GSI2") if more and kept else None)
            following += [(child, None) for child in children]
        level = following
    return {"root": top, "truncated": truncated}
