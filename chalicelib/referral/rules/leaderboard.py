"""The leaderboard: merging new scores into a campaign's top list (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

TOP_N = 100
ROW_ID_LENGTH = 16  # 80 bits of the MAC: unique on a board of 100, unguessable


def row_id(secret: bytes, cid: str, code: str) -> str:
    """A board row's public id: stable for one participant on one campaign's board, unrelated across
    campaigns (the campaign is in the MAC), and no way back to the invite code without the key."""
    digest = hmac.new(secret, f"leaderboard\x00{cid}\x00{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:ROW_ID_LENGTH]


def merge(entries: list[dict[str, Any]], updates: dict[str, tuple[int, str | None]]) -> list[dict[str, Any]]:
    """Fold `code -> (score, nickname)` into the top list, best first.

    Scores only grow (invitees are never uncounted), so a stale update never lowers one;
    ties keep their earlier order, so whoever got there first stays ahead.
    """
    board = {e["code"]: dict(e) for e in entries}
    order = {e["code"]: i for i, e in enumerate(entries)}
    for code, (score, nickname) in updates.items():
        current = board.get(code)
        if current is None or score > int(current["score"]):
            board[code] = {"code": code, "nickname": nickname, "score": score}
            order.setdefault(code, len(order))
    ranked = sorted(board.values(), key=lambda e: (-int(e["score"]), order[e["code"]]))
    return ranked[:TOP_N]


def rank_of(entries: list[dict[str, Any]], code: str) -> int | None:
    """1-based rank on the board, or None when outside the top list."""
    return next((i + 1 for i, e in enumerate(entries) if e["code"] == code), None)
