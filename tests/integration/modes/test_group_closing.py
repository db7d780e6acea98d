"""Groups and assists when a campaign ends (by an operator or at its end time), and auto-fill at the deadline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant, campaign_body, join, live_campaign, standard_secret, window
from tests.integration.analytics.test_analytics_counting import totals
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.messaging.test_outbound_webhooks import Receiver, deliver, register
from tests.integration.modes.test_assists import assist_campaign, help_, member, progress
from tests.integration.modes.test_group_buy import join_group, open_group, participant
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

DISCLOSED = {"rule_text": "1. 24小时内凑满3人即成团；\n2. 未成团的由系统补位自动成团。"}


@pytest.fixture
def receiver(tenant: Tenant) -> Iterator[Receiver]:
    healthy = Receiver(200, standard_secret(tenant.tid))
    yield healthy
    healthy.close()


_secrets: dict[str, bytes] = {}


def paid_group(api: Api, tenant: Tenant, cid: str, *names: str) -> str:
    """A group of 3 opened by the first name and joined by the others, every member paid (order o-<name>)."""
    people = [participant(api, cid, name) for name in names]
    status, group = open_group(api, cid, people[0], size=3)
    assert status == 201, group
    gid = str(group["group_id"])
    for friend in people[1:]:
        assert join_group(api, gid, friend)[0] == 200
    if tenant.tid not in _secrets:  # once per tenant: the read takes a TOTP step-up, and a code works once
        _secrets[tenant.tid] = secret(api, tenant)
    key = _secrets[tenant.tid]
    for name in names:
        status, body = post_order(api, tenant, key, order(cid, name, f"o-{name}", amount=3200, group_id=gid))
        assert status == 200 and body["group_member"] is True, body
    return gid


def at(app: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime, schedule: str) -> dict[str, Any]:
    from chalicelib.entrypoints import events as handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: moment)
    return dict(Scheduler(app, clock=lambda: moment).invoke(schedule))


def announced(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in receiver.events() if e["type"] == kind]


def group_campaign(
    api: Api, tenant: Tenant, rules: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None
) -> str:
    """A live group buy with one tier of 3 at 32 yuan and a leader perk."""
    body = campaign_body("group_buy", **(overrides or {}))
    perk = {"type": "coupon", "name": "Leader 10 off", "value_fen": 1000}
    body["rules"] = {**body["rules"], "tiers": [{"size": 3, "price_fen": 3200}], "leader_perk": perk, **(rules or {})}
    return live_campaign(api, tenant, "group_buy", **{k: v for k, v in body.items() if k != "mode"})


def end(api: Api, tenant: Tenant, cid: str) -> None:
    from chalicelib.campaigns import live

    assert api.call("POST", f"/v1/admin/campaigns/{cid}/end", token=tenant.owner_token)[0] == 200
    live.forget()  # no 5-second cache between the end and what the test reads next


def participant_token(api: Api, cid: str, name: str) -> str:
    """The token of a participant who joined already (a repeat join with the same identity answers it)."""
    status, body = join(api, cid, external_id=name, nickname=name)
    assert status in (200, 201), body
    return str(body["token"])


def test_ending_a_campaign_fails_its_paid_groups_at_once_with_their_refunds(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    register(tenant.tid, receiver.url)
    cid = group_campaign(api, tenant)
    gid = paid_group(api, tenant, cid, "lead", "pal")
    other = paid_group(api, tenant, cid, "solo")
    outsider = participant(api, cid)
    deliver_every_batch_twice(pump)
    pump.drain()

    # Paused: the groups wait, the campaign may resume. Ended (from paused here): they close.
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)[0] == 200
    pump.drain()
    assert api.call("GET", f"/v1/groups/{gid}")[1]["status"] == "open"

    end(api, tenant, cid)
    pump.drain()  # every batch handled twice: a replay closes nothing twice
    for group_id in (gid, other):
        group = api.call("GET", f"/v1/groups/{group_id}")[1]
        assert (group["status"], group["seconds_left"], group["system_members"]) == ("failed", 0, 0)
    status, error = join_group(api, gid, outsider)
    assert (status, error["error"]["code"]) == (410, "CAMPAIGN_ENDED")

    deliver(app, monkeypatch, datetime.now(UTC) + timedelta(seconds=1))
    failed = sorted(announced(receiver, "group.failed"), key=lambda d: len(d["refunds"]))
    assert [(d["group_id"], sorted(d["refunds"]), d["reason"]) for d in failed] == [
        (other, ["o-solo"], "campaign_ended"),
        (gid, ["o-lead", "o-pal"], "campaign_ended"),
    ]
    # The deadline pass finds nothing left to close.
    assert {gid, other}.isdisjoint(
        at(app, monkeypatch, datetime.now(UTC) + timedelta(days=2), "fail_expired_groups")["failed"]
    )


def test_a_campaign_reaching_its_end_time_closes_its_groups_in_the_same_tick(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock,
    receiver: Receiver,
) -> None:  # fmt: skip
    register(tenant.tid, receiver.url)
    cid = group_campaign(api, tenant, None, window(length=timedelta(hours=3)))
    gid = paid_group(api, tenant, cid, "early", "bird")
    pump.drain()

    later = datetime.now(UTC) + timedelta(hours=3, minutes=1)
    clock.advance(hours=3, minutes=1)
    assert at(app, monkeypatch, later, "close_ended_campaigns")["closed"] == [cid]
    pump.drain()
    group = api.call("GET", f"/v1/groups/{gid}")[1]
    assert (group["status"], group["seconds_left"]) == ("failed", 0)
    deliver(app, monkeypatch, later + timedelta(seconds=1))
    assert [(sorted(d["refunds"]), d["reason"]) for d in announced(receiver, "group.failed")] == [
        (["o-bird", "o-early"], "campaign_ended")
    ]
    assert gid not in at(app, monkeypatch, later, "fail_expired_groups")["failed"]


def test_auto_fill_completes_a_group_at_its_deadline_and_the_leader_gets_the_perk_once(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock,
    receiver: Receiver,
) -> None:  # fmt: skip
    register(tenant.tid, receiver.url)
    cid = group_campaign(api, tenant, {"deadline_hours": 2, "auto_fill": True}, DISCLOSED)
    leader_gid = paid_group(api, tenant, cid, "boss", "mate")
    deliver_every_batch_twice(pump)
    pump.drain()
    board_before = api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1]
    counters_before = totals(cid)

    later = datetime.now(UTC) + timedelta(hours=3)
    clock.advance(hours=3)
    first = at(app, monkeypatch, later, "fail_expired_groups")
    # (The deadline buckets are the table's: other tests' groups may close in the same pass.)
    assert leader_gid in first["filled"] and leader_gid not in first["failed"]
    again = at(app, monkeypatch, later, "fail_expired_groups")
    assert leader_gid not in again["filled"] + again["failed"]  # once only
    pump.drain()

    group = api.call("GET", f"/v1/groups/{leader_gid}")[1]
    assert (group["status"], group["members_count"], group["system_members"], group["seconds_left"]) == (
        "succeeded", 3, 1, 0,
    )  # fmt: skip
    assert [(m["leader"], m["system"]) for m in group["members"]] == [(True, False), (False, False), (False, True)]
    assert group["members"][2]["nickname"] == "系统成员"

    boss_token = participant_token(api, cid, "boss")
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=boss_token)[1]
    assert [(r["name"], r["status"]) for r in me["rewards"]] == [("Leader 10 off", "issued")]
    deliver(app, monkeypatch, later + timedelta(seconds=1))
    assert [(d["group_id"], d["members"], d["system_members"]) for d in announced(receiver, "group.succeeded")] == [
        (leader_gid, 3, 1)
    ]
    assert announced(receiver, "group.failed") == []
    # System members are nobody: no join, no invite, no leaderboard entry.
    assert api.call("GET", f"/v1/campaigns/{cid}/leaderboard")[1] == board_before
    counters_after = totals(cid)
    changed = {k for k in {*counters_before, *counters_after} if counters_before.get(k) != counters_after.get(k)}
    assert changed and all("reward" in k or "cost" in k for k in changed), changed


def test_a_group_below_the_auto_fill_minimum_still_fails_with_refunds(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock,
    receiver: Receiver,
) -> None:  # fmt: skip
    register(tenant.tid, receiver.url)
    cid = group_campaign(api, tenant, {"deadline_hours": 2, "auto_fill": True, "auto_fill_min_members": 2}, DISCLOSED)
    gid = paid_group(api, tenant, cid, "alone")
    pump.drain()

    later = datetime.now(UTC) + timedelta(hours=3)
    clock.advance(hours=3)
    closed = at(app, monkeypatch, later, "fail_expired_groups")
    assert gid in closed["failed"] and gid not in closed["filled"]
    pump.drain()
    group = api.call("GET", f"/v1/groups/{gid}")[1]
    assert (group["status"], group["members_count"], group["system_members"]) == ("failed", 1, 0)
    deliver(app, monkeypatch, later + timedelta(seconds=1))
    assert [(d["refunds"], d["reason"]) for d in announced(receiver, "group.failed")] == [(["o-alone"], "deadline")]
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant_token(api, cid, "alone"))[1]
    assert me["rewards"] == []


def test_ending_a_campaign_early_auto_fills_its_groups_too(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = group_campaign(api, tenant, {"auto_fill": True}, DISCLOSED)
    filled = paid_group(api, tenant, cid, "one", "two")
    failed = paid_group(api, tenant, cid, "three")
    leader = participant_token(api, cid, "one")
    pump.drain()
    end(api, tenant, cid)
    pump.drain()
    pump.drain()  # the auto-filled group's own record: announced and rewarded again changes nothing
    assert api.call("GET", f"/v1/groups/{filled}")[1]["status"] == "succeeded"
    assert api.call("GET", f"/v1/groups/{failed}")[1]["status"] == "failed"
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=leader)[1]
    assert [r["name"] for r in me["rewards"]] == ["Leader 10 off"]


def test_ending_a_campaign_expires_its_running_assists(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from chalicelib.modes.assist import store

    cid = assist_campaign(api, tenant)
    owner = member(api, cid, "owner")
    another = member(api, cid, "another-owner")
    assert help_(api, cid, owner, member(api, cid, "friend"))[0] == 200
    assert help_(api, cid, another, member(api, cid, "friend-2"))[0] == 200
    assert progress(api, cid, owner)["status"] == "in_progress"
    late = member(api, cid, "late")
    pump.drain()

    end(api, tenant, cid)
    pump.drain()
    now = datetime.now(UTC)
    view = progress(api, cid, owner)
    assert view["status"] == progress(api, cid, another)["status"] == "expired"
    assert datetime.fromisoformat(view["expires_at"].replace("Z", "+00:00")) <= now
    stored = store.get(owner["invite_code"])
    assert stored is not None and stored.deadline == view["expires_at"]
    assert store.in_campaign(cid) == []  # off the campaign's index
    status, error = help_(api, cid, owner, late)
    assert (status, error["error"]["code"]) == (410, "CAMPAIGN_ENDED")


def test_groups_stored_before_the_campaign_index_are_filed_and_closed_by_the_migration(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    from chalicelib.modes.group_buy import service as groups
    from chalicelib.table import keys
    from chalicelib.table.db import dynamodb_client, ensure_bound

    cid = group_campaign(api, tenant)
    gid = paid_group(api, tenant, cid, "old", "timer")
    dynamodb_client().update_item(  # as stored before: no campaign index keys
        TableName=ensure_bound().table_name, Key={"PK": {"S": keys.group_pk(gid)}, "SK": {"S": keys.META}},
        UpdateExpression="REMOVE GSI1PK, GSI1SK",
    )  # fmt: skip
    pump.drain()
    end(api, tenant, cid)
    pump.drain()
    group = api.call("GET", f"/v1/groups/{gid}")[1]
    assert (group["status"], group["seconds_left"]) == ("failed", 0)  # shown so at once
    assert groups.group(gid).status == "open"  # type: ignore[union-attr]  # not closed yet: no key found it

    counts = groups.index_open_groups(datetime.now(UTC))
    assert counts["closed"] >= 1
    assert groups.group(gid).status == "failed"  # type: ignore[union-attr]
    assert groups.index_open_groups(datetime.now(UTC))["closed"] == 0
