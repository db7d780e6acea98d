"""A campaign's leaderboard item, replaced under an optimistic version."""

from __future__ import annotations

from typing import Any

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, save_if
from chalicelib.table.models import LeaderboardItem


def get(cid: str, *, consistent: bool = False) -> tuple[list[dict[str, Any]], int]:
    item = get_entity(LeaderboardItem, keys.leaderboard_pk(cid), keys.META, consistent=consistent)
    if item is None:
        return [], 0
    return list(item.entries), int(item.version)


def replace(cid: str, entries: list[dict[str, Any]], expected_version: int, at: str) -> bool:
    """Write the board unless someone else wrote since `expected_version`; False on that conflict."""
    ensure_bound()
    item = LeaderboardItem(
        PK=keys.leaderboard_pk(cid), SK=keys.META, cid=cid, entries=entries, version=expected_version + 1, updated_at=at
    )
    condition = (
        LeaderboardItem.PK.does_not_exist() if expected_version == 0 else LeaderboardItem.version == expected_version
    )
    return save_if(item, condition, "leaderboard")
