"""Every partition and sort key of the single table is built here, and only here."""

from __future__ import annotations

META = "META"


def tenant_pk(tid: str) -> str:
    return f"T#{tid}"


def operator_sk(email: str) -> str:
    return f"OP#{email}"


def operator_prefix() -> str:
    return "OP#"


def login_pk(email: str) -> str:
    """Email -> tenant lookup, so an operator logs in with email and password alone."""
    return f"LOGIN#{email}"


def order_pk(tid: str, oid: str) -> str:
    """An order and its commission entries share a partition: one transaction writes them."""
    return f"T#{tid}#O#{oid}"


def commission_sk(level: int, code: str) -> str:
    return f"COM#{level}#{code}"


def ledger_sk(oid: str, level: int) -> str:
    """A commission mirrored under its earner, so a balance is one query of the participant."""
    return f"LEDGER#{oid}#{level}"


def campaign_pk(cid: str) -> str:
    return f"C#{cid}"


def participant_pk(code: str) -> str:
    """A participant is keyed by their invite code: joins spread over partitions, and a short
    link or a token finds the participant with one read."""
    return f"P#{code}"


def reward_sk(rule: str) -> str:
    """A reward lives beside its participant: one per (campaign, participant, rule) by construction."""
    return f"R#{rule}"


REWARD_PREFIX = "R#"


def pending_rewards_gsi1pk(cid: str, rule: str) -> str:
    """Rewards waiting for a coupon code of one pool, oldest first: found by key when codes arrive."""
    return f"C#{cid}#PENDING#{rule}"


def pending_rewards_gsi1sk(created_at: str, code: str) -> str:
    return f"{created_at}#{code}"


def coupon_pool_pk(cid: str, rule: str) -> str:
    """A reward's uploaded coupon codes, one item each, keyed by the code so none is stored twice."""
    return f"C#{cid}#POOL#{rule}"


def coupon_code_sk(code: str) -> str:
    return f"CODE#{code}"


COUPON_CODE_PREFIX = "CODE#"


def free_codes_gsi2pk(cid: str, rule: str) -> str:
    """The codes of a pool not yet issued (a sparse index: issuing removes the keys)."""
    return f"C#{cid}#POOLFREE#{rule}"


# An assist lives beside its owner: the code already names the campaign and the owner, and the
# prize lands in the same partition.
ASSIST_SK = "ASSIST"


def helps_sk(day: str) -> str:
    """A helper's assists on one day (YYYY-MM-DD in the campaign's zone), beside the helper."""
    return f"HELPS#{day}"


def stock_pk(cid: str, rule: str) -> str:
    return f"C#{cid}#STOCK#{rule}"


def leaderboard_pk(cid: str) -> str:
    return f"C#{cid}#LB"


def budget_pk(cid: str) -> str:
    return f"C#{cid}#BUDGET"


def group_pk(gid: str) -> str:
    """A group and its members share a partition: a join touches one small item collection."""
    return f"G#{gid}"


def member_sk(code: str) -> str:
    return f"M#{code}"


MEMBER_PREFIX = "M#"


def group_deadline_gsi2pk(day: str, shard: int) -> str:
    """Open groups by the day their deadline falls on, sharded so a sale's opens spread."""
    return f"GDUE#{day}#{shard}"


def group_deadline_gsi2sk(deadline: str, gid: str) -> str:
    return f"{deadline}#{gid}"


def click_pk(click_id: str) -> str:
    return f"CLK#{click_id}"


def tenant_campaigns_gsi1pk(tid: str) -> str:
    return f"T#{tid}#C"


def campaign_gsi1sk(created_at: str, cid: str) -> str:
    return f"{created_at}#{cid}"


def campaign_ends_gsi2pk(day: str) -> str:
    """Bucket of live campaigns that end on `day` (YYYY-MM-DD, UTC)."""
    return f"ENDS#{day}"


def campaign_ends_gsi2sk(ends_at: str, cid: str) -> str:
    return f"{ends_at}#{cid}"


IDEMPOTENCY_SK = "IDEM#RECORD"


def system_pk(name: str) -> str:
    return f"SYS#{name}"


def webhook_sk(wid: str) -> str:
    return f"WH#{wid}"


WEBHOOK_PREFIX = "WH#"


def outbox_pk(shard: int) -> str:
    return f"OUT#{shard}"


def outbox_sk(due_iso: str, event_id: str, wid: str) -> str:
    """Due time first, so a delivery run reads only what is due with one key-range query."""
    return f"{due_iso}#{event_id}#{wid}"


def outbox_seen_pk(shard: int) -> str:
    """Per-(event, endpoint) markers: the dedupe record that outlives delivery."""
    return f"OUT#{shard}#SEEN"


def dead_delivery_sk(event_id: str, wid: str) -> str:
    """A delivery that ran out of attempts, parked under its tenant for operators to see."""
    return f"WHDEAD#{event_id}#{wid}"


DEAD_DELIVERY_PREFIX = "WHDEAD#"
