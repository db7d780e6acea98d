"""The leaderboard: top inviters with masked names, kept from the stream, and ranks in /me."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice


@pytest.fixture
def pump(make_pump: Callable[..., StreamPump]) -> StreamPump:
    return make_pump(batch_size=5)  # several batches, so the board is merged more than once


def test_board_ranks_inviters_by_counted_invites_with_masked_names(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    people = {name: join(api, cid, external_id=name, nickname=name)[1] for name in ("张三丰", "Alice", "Bob")}
    for name, friends in (("张三丰", 3), ("Alice", 5), ("Bob", 1)):
        for i in range(friends):
            join(api, cid, external_id=f"{name}-friend-{i}", ref=people[name]["invite_code"])
    pump.drain()
    status, board = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")
    assert status == 200
    assert [{k: v for k, v in row.items() if k != "row_id"} for row in board["items"]] == [
        {"rank": 1, "nickname": "A****", "score": 5},
        {"rank": 2, "nickname": "张**", "score": 3},
        {"rank": 3, "nickname": "B**", "score": 1},
    ]
    assert api.call("GET", f"/v1/campaigns/{cid}/leaderboard?limit=1")[1]["items"][0]["score"] == 5
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=people["张三丰"]["token"])[1]
    assert me["rank"] == 2
    friend = join(api, cid, external_id="Bob-friend-0")[1]
    assert api.call("GET", f"/v1/campaigns/{cid}/me", token=friend["token"])[1]["rank"] is None


def test_replayed_batches_leave_the_board_unchanged(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    inviter = join(api, cid, external_id="solo", nickname="Solo")[1]
    for i in range(4):
        join(api, cid, external_id=f"f{i}", ref=inviter["invite_code"])
    deliver_every_batch_twice(pump)
    pump.drain()
    [row] = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]["items"]
    assert (row["rank"], row["nickname"], row["score"]) == (1, "S***", 4)


def test_leaderboard_bad_inputs(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    assert api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1] == {"items": []}
    status, body = api.call("GET", f"/v1/campaigns/{cid}/leaderboard?limit=0")
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
    status, body = api.call("GET", "/v1/campaigns/cmp_nope/leaderboard")
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_one_character_names_are_masked_and_each_row_has_an_opaque_id_stable_per_campaign(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    boards = []
    for _ in range(2):
        cid = live_campaign(api, tenant)
        for name, friends in (("李", 2), ("Q", 1)):
            inviter = join(api, cid, external_id=f"{name}-{cid}", nickname=name)[1]
            for i in range(friends):
                join(api, cid, external_id=f"{name}-{cid}-friend-{i}", ref=inviter["invite_code"])
        pump.drain()
        board = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]["items"]
        assert [(r["nickname"], r["score"]) for r in board] == [("*", 2), ("*", 1)]
        assert api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]["items"] == board  # stable
        codes = {p["invite_code"] for p in [join(api, cid, external_id=f"{n}-{cid}")[1] for n in ("李", "Q")]}
        assert all(code not in r["row_id"] for r in board for code in codes)
        boards.append(board)
    ids = [{r["row_id"] for r in board} for board in boards]
    assert all(len(i) == 2 for i in ids) and not ids[0] & ids[1]  # not linkable across campaigns
