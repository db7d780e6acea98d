"""The referral tree for operators: a campaign's roots, or one participant and their descendants.

Every answer is bounded: roots are read a query page at a time (at most `MAX_ROOT_QUERIES`
pages per call), and a subtree reads at most `limit` nodes per level, so `limit x depth` in all.
The same participants, a page at a time, with their rewards, are what CSV exports list.
"""

from __future__ import annotations

from typing import Any

from chalicelib.campaigns import lifecycle
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.rbac import Principal
from chalicelib.referral.rules.records import ParticipantPage, RewardRecord, TreeNode
from chalicelib.referral.store import tree as store
from chalicelib.security.pii import mask_name

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


def node(rec: TreeNode, level: int) -> dict[str, Any]:
    return {
        "code": rec.code,
        "nickname": mask_name(rec.nickname or "") or None,
        "joined_at": rec.joined_at,
        "depth": rec.depth if rec.depth is not None else level,
        "invited_by": rec.inviter,
        "qualified": bool(rec.qualified_at),
        "counted": len(rec.counted),
    }


def tree(actor: Principal, cid: str, *, root: str | None, depth: int, limit: int, cursor: str | None) -> dict[str, Any]:
    _in_range("depth", depth, 1, MAX_DEPTH)
    _in_range("limit", limit, 1, MAX_LIMIT)
    lifecycle.owned(actor.tid, cid)
    if root is None:
        return _roots(cid, limit, cursor)
    return _subtree(cid, root, depth, limit, cursor)


def _roots(cid: str, limit: int, cursor: str | None) -> dict[str, Any]:
    page = store.roots(cid, cursor, limit, MAX_ROOT_QUERIES)
    return {"items": [node(rec, 0) for rec in page.nodes], "next_cursor": page.cursor}


def _subtree(cid: str, root: str, depth: int, limit: int, cursor: str | None) -> dict[str, Any]:
    found = store.participant(cid, root)
    if found is None:
        raise NotFound("no such participant in this campaign", code=Code.PARTICIPANT_NOT_FOUND)
    top = node(found, 0)
    # The cursor, if any, continues the root's children; every other parent starts at its first child.
    level: list[tuple[dict[str, Any], str | None]] = [(top, cursor)]
    truncated = False
    for generation in range(1, depth + 1):
        budget = limit  # nodes this level may hold, over all its parents
        following: list[tuple[dict[str, Any], str | None]] = []
        for parent, parent_cursor in level:
            if budget == 0:
                truncated = True  # this parent and the rest of the level are left unexpanded
                break
            page = store.children(parent["code"], parent_cursor, budget)
            children = [node(child, generation) for child in page.nodes]
            budget -= len(children)
            parent["children"] = children
            parent["children_truncated"] = page.more
            parent["children_cursor"] = page.cursor
            following += [(child, None) for child in children]
        level = following
    return {"root": top, "truncated": truncated}


# --- the participants CSV exports read ----------------------------------------------------------


def campaign_participants(cid: str, position: dict[str, Any] | None, limit: int) -> ParticipantPage | None:
    """One page (at most `limit`, one query) of a campaign's participants, shard after shard.

    `position` is the page's `following` from the call before (None to start); None once every
    shard is read."""
    return store.campaign_participants(cid, position, limit)


def participant_rewards(code: str) -> list[RewardRecord]:
    """Every reward of one participant, as an export lists them (eventually consistent reads)."""
    return store.rewards(code)
