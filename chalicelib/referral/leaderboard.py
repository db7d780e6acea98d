"""The public leaderboard: kept up to date from the stream, read in one request."""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.referral.rules import leaderboard as domain
from chalicelib.referral.store import leaderboard as store
from chalicelib.security.keyring import get_keyring
from chalicelib.security.pii import mask_name

MAX_ATTEMPTS = 5
MAX_LIMIT = 100


def record(cid: str, updates: dict[str, tuple[int, str | None]], now: datetime) -> None:
    """Merge a batch's new inviter totals into the board (one write per campaign per batch).

    Several batches may update the same board at once (stream shards, and batches of one shard run in
    parallel): the write is conditional on the version read, and a loser waits a jittered moment and merges
    again on top of the winner's board, so that racing batches spread out instead of colliding again.
    """
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, 0.01 * (2**attempt)))  # noqa: S311 - jitter, not a secret
        entries, version = store.get(cid, consistent=True)
        merged = domain.merge(entries, updates)
        if merged == entries or store.replace(cid, merged, version, iso(now)):
            return
    raise Conflict("the leaderboard kept changing; the batch will be retried", code=Code.LEADERBOARD_BUSY)


def view(cid: str, limit: int) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"errors": [{"field": "limit", "type": "range", "message": f"1..{MAX_LIMIT}"}]},
        )
    live.campaign(cid)  # 404 for unknown campaigns and drafts
    entries, _ = store.get(cid)
    secret = get_keyring().secret("leaderboard-rows")
    return {
        "items": [
            {
                "rank": i + 1,
                "row_id": domain.row_id(secret, cid, str(e["code"])),
                # Every public name is masked; a hidden or missing one is `*`.
                "nickname": mask_name(e.get("nickname") or "") or "*",
                "score": int(e["score"]),
            }
            for i, e in enumerate(entries[:limit])
        ]
    }


NICKNAME_ATTEMPTS = 5


def entries(cid: str) -> list[dict[str, Any]]:
    """The campaign's whole top list, best first, with nicknames as stored (operators' dashboard)."""
    return store.get(cid)[0]


def hide_nickname(cid: str, code: str, at: str) -> None:
    """The board keeps the participant's score (the ranking is everyone's) but not the nickname: it shows `*`."""
    for _ in range(NICKNAME_ATTEMPTS):
        found, version = store.get(cid, consistent=True)
        if not any(e.get("code") == code and e.get("nickname") is not None for e in found):
            return
        scrubbed = [{**e, "nickname": None} if e.get("code") == code else e for e in found]
        if store.replace(cid, scrubbed, version, at):
            return
    raise Conflict("the leaderboard kept changing; retry the erasure", code=Code.LEADERBOARD_BUSY)
