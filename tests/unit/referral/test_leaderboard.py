"""Merging scores into the top list."""

from __future__ import annotations

from chalicelib.referral.rules.leaderboard import ROW_ID_LENGTH, TOP_N, merge, rank_of, row_id


def test_merge_orders_by_score_and_keeps_first_come_ahead_on_ties() -> None:
    board = merge([], {"a": (2, "A"), "b": (3, "B")})
    board = merge(board, {"c": (2, "C")})
    assert [e["code"] for e in board] == ["b", "a", "c"]
    assert rank_of(board, "c") == 3 and rank_of(board, "zzz") is None


def test_a_stale_lower_score_never_lowers_an_entry() -> None:
    board = merge([], {"a": (5, "A")})
    assert merge(board, {"a": (3, "A")}) == board


def test_the_board_keeps_the_top_n_only() -> None:
    board = merge([], {f"p{i}": (i, None) for i in range(TOP_N + 20)})
    assert len(board) == TOP_N and board[0]["score"] == TOP_N + 19


def test_a_row_id_is_stable_per_campaign_unlinkable_across_campaigns_and_hides_the_code() -> None:
    key = b"k" * 32
    first = row_id(key, "cmp_a", "7kq2m9xa")
    assert first == row_id(key, "cmp_a", "7kq2m9xa")
    assert first != row_id(key, "cmp_b", "7kq2m9xa")  # the same person on another board
    assert first != row_id(key, "cmp_a", "7kq2m9xb")
    assert first != row_id(b"x" * 32, "cmp_a", "7kq2m9xa")  # only the server's key makes it
    assert len(first) == ROW_ID_LENGTH and first.isalnum() and "7kq2m9xa" not in first
