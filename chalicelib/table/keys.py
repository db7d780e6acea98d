"""Every partition and sort key of the single table is built here, and only here."""

from __future__ import annotations

import hashlib

META = "META"


def tenant_pk(tid: str) -> str:
    return f"T#{tid}"


def operator_sk(email: str) -> str:
    return f"OP#{email}"


def operator_prefix() -> str:
    return "OP#"


def operator_totp_sk(email: str) -> str:
    """An operator's TOTP enrolment, beside the operator but apart from it: profile edits never touch it."""
    return f"TOTP#{email}"


def audit_pk(tid: str) -> str:
    """A tenant's audit chain: one partition, entries in sequence order, plus the HEAD item."""
    return f"T#{tid}#AUDIT"


def audit_entry_sk(seq: int) -> str:
    return f"E#{seq:012d}"


AUDIT_HEAD_SK = "HEAD"
# GSI2 partition of the audit heads appended to since they were last anchored (sort key: the tenant id).
AUDIT_UNANCHORED_GSI2PK = "AUDIT#UNANCHORED"
AUDIT_LAST_SEQ = 10**12 - 1


def login_pk(email: str) -> str:
    """Email -> tenant lookup, so an operator logs in with email and password alone."""
    return f"LOGIN#{email}"


def login_attempts_pk(scope: str, subject_hash: str) -> str:
    """Failed sign-ins or TOTP codes of one subject (a keyed hash of an email, an address or an operator)."""
    return f"LA#{scope}#{subject_hash}"


def order_pk(tid: str, oid: str) -> str:
    """An order and its commission entries share a partition: one transaction writes them."""
    return f"T#{tid}#O#{oid}"


def commission_sk(level: int, code: str) -> str:
    return f"COM#{level}#{code}"


def ledger_sk(oid: str, level: int) -> str:
    """A commission mirrored under its earner, so a balance is one query of the participant."""
    return f"LEDGER#{oid}#{level}"


LEDGER_PREFIX = "LEDGER#"


def campaign_pk(cid: str) -> str:
    return f"C#{cid}"


PROOF_PREFIX = "PROOF#"


def proof_sk(digest: str) -> str:
    return f"{PROOF_PREFIX}{digest}"


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


def existing_customer_pk(cid: str, identity: str) -> str:
    """A user the merchant reported as an existing customer of a campaign, by the keyed hash of its id: whether
    they have joined yet or not (docs/rewards-veto.md). One partition each, found by key."""
    return f"C#{cid}#XC#{identity}"


RELEASE_SHARDS = 4


def release_due_gsi2pk(shard: int) -> str:
    """Rewards held for the merchant's veto by when the release schedule looks at them next (GSI2, sparse: only
    while `pending_release` and not parked for an approval), sharded so no one partition takes every hold."""
    return f"RDUE#{shard}"


def release_due_gsi2sk(due: str, code: str, rule: str) -> str:
    return f"{due}#{code}#{rule}"


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


def campaign_open_groups_gsi1pk(cid: str, shard: int) -> str:
    """A campaign's open groups (a sparse index: closing removes the keys), so its end closes them by key."""
    return f"C#{cid}#GOPEN#{shard}"


def campaign_assists_gsi1pk(cid: str, shard: int) -> str:
    """A campaign's started assists (completion removes the keys), so its end expires them by key."""
    return f"C#{cid}#ARUN#{shard}"


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


IDENTITY_KEY_PREFIX = "IDKEY#"


def identity_key_sk(kid: str) -> str:
    return f"{IDENTITY_KEY_PREFIX}{kid}"


DOMAIN_PREFIX = "DOMAIN#"


def domain_sk(did: str) -> str:
    """A tenant's landing domain, under the tenant (`T#{tid}`): a tenant's domains are one query."""
    return f"{DOMAIN_PREFIX}{did}"


def api_key_pk(kid: str) -> str:
    """An API key, found by its id alone: the id is in the key a request carries, the tenant is not."""
    return f"APIKEY#{kid}"


def tenant_api_keys_gsi1pk(tid: str) -> str:
    """A tenant's API keys (GSI1), oldest first by `{created_at}#{kid}`."""
    return f"T#{tid}#APIKEY"


def api_key_use_pk(tid: str, kid: str, day: str) -> str:
    """One key's uses on one UTC day (`yyyymmdd`): appended items with no shared head, and a day's partition
    stays small enough to read in one query."""
    return f"T#{tid}#KEYUSE#{kid}#{day}"


def api_key_use_sk(at: str, ref: str) -> str:
    """A use by its time (ISO, to the second) and its request id: newest first is one descending query."""
    return f"{at}#{ref}"


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


# A campaign's participants, listable by key: spread over 16 shards by invite code, so a flash
# sale's joins never heat one index partition.
PARTICIPANT_SHARDS = 16


def participant_shard(code: str) -> int:
    return int(hashlib.sha256(code.encode()).hexdigest(), 16) % PARTICIPANT_SHARDS


def campaign_participants_gsi1pk(cid: str, shard: int) -> str:
    return f"C#{cid}#P#{shard}"


def joined_gsi_sk(joined_at: str, code: str) -> str:
    """Sort key of both participant indexes: by join time, the code keeping equal times distinct."""
    return f"{joined_at}#{code}"


def children_gsi2pk(inviter: str) -> str:
    """The participants one inviter brought in (invite codes are unique across campaigns)."""
    return f"CH#{inviter}"


def participant_index_keys(
    cid: str, code: str, joined_at: str, inviter: str | None
) -> tuple[str, str, str | None, str | None]:
    """GSI1PK, GSI1SK, GSI2PK, GSI2SK of a participant, written in the join's single put.

    GSI2 only for an invited participant: nobody's children, nothing to index."""
    sk = joined_gsi_sk(joined_at, code)
    children = (children_gsi2pk(inviter), sk) if inviter else (None, None)
    return campaign_participants_gsi1pk(cid, participant_shard(code)), sk, *children


def export_sk(eid: str) -> str:
    """An export job lives under its tenant: reading it back needs the tenant, so no one else's is found."""
    return f"EXPORT#{eid}"


# Export jobs still to run (queued or running); finishing removes the keys.
EXPORTS_PENDING_GSI2PK = "EXPORTS#PENDING"


def export_pending_gsi2sk(created_at: str, eid: str) -> str:
    return f"{created_at}#{eid}"


def beacon_pk(event_id: str) -> str:
    """A landing-page beacon, under its own key like a click: a viral page never heats one partition."""
    return f"EV#{event_id}"


def counter_day_pk(cid: str, day: str) -> str:
    """A campaign's analytics counters for one day (in the campaign's time zone)."""
    return f"C#{cid}#AGG#{day}"


def counter_shard_sk(shard: int) -> str:
    return f"S#{shard}"


def counter_marker_sk(fingerprint: str) -> str:
    """The record that one stream batch's contribution to a day was added (expires after 2 days)."""
    return f"SEEN#{fingerprint}"


def buyer_orders_gsi1pk(code: str) -> str:
    """The orders one participant paid for: a data-subject export lists them, an erasure pseudonymises them."""
    return f"BUY#{code}"


def buyer_orders_gsi1sk(paid_at: str, oid: str) -> str:
    return f"{paid_at}#{oid}"


def member_groups_gsi1pk(code: str) -> str:
    """The groups one participant is a member of (their member items carry a nickname copy)."""
    return f"MG#{code}"


def member_groups_gsi1sk(joined_at: str, gid: str) -> str:
    return f"{joined_at}#{gid}"


def rate_counter_pk(scope: str, subject_hash: str) -> str:
    """A rate-limit subject (a keyed hash, never the raw IP or device id) under one scope."""
    return f"RL#{scope}#{subject_hash}"


def rate_window_sk(window_seconds: int, start: int) -> str:
    """One fixed window of a subject: the length keeps a minute and a day starting together apart."""
    return f"W#{window_seconds}#{start}"


def risk_window_pk(cid: str, scope: str, subject: str) -> str:
    """Fraud velocity: the attempts of one subject (an address, a device, an inviter) in a campaign."""
    return f"RISK#{cid}#{scope}#{subject}"


def risk_window_sk(window: str, start: int) -> str:
    """One fixed window (a minute or a day, by its start in epoch seconds); TTL removes it after."""
    return f"W#{window}#{start}"


def risk_person_pk(tid: str, phone_hash: str) -> str:
    """One person across a tenant's campaigns, by phone blind index: campaigns rewarded, orders paid."""
    return f"T#{tid}#PH#{phone_hash}"


# A held join's review lives beside the participant; a held help beside the helper; an order's
# beside the order: each decision is a conditional update of items in one partition.
REVIEW_SK = "REVIEW"


def help_review_sk(owner: str) -> str:
    return f"REVIEW#HELP#{owner}"


def reward_review_sk(rule: str) -> str:
    """A reward above the campaign's approval limit waits for an operator beside the reward."""
    return f"REVIEW#REWARD#{rule}"


def refund_review_sk() -> str:
    return "REVIEW#REFUND"


def reviews_gsi1pk(tid: str, status: str) -> str:
    """A tenant's reviews by status (pending, approved, rejected), oldest first; deciding moves one."""
    return f"T#{tid}#REVIEWS#{status}"


def review_gsi1sk(created_at: str, rid: str) -> str:
    return f"{created_at}#{rid}"


def campaign_reviews_gsi2pk(cid: str, status: str) -> str:
    """One campaign's reviews by status, oldest first (sort key as GSI1's): the queue filtered by campaign."""
    return f"C#{cid}#REVIEWS#{status}"


# Profiles (docs/audience.md): one person per tenant, with their tags and birthday beside them.
PROFILE_SK = "PROFILE"
BIRTHDAY_SK = "BDAY"
PROFILE_TAG_PREFIX = "TAG#"
PROFILE_SHARDS = 16


def profile_pk(tid: str, uid: str) -> str:
    return f"T#{tid}#U#{uid}"


def profile_tag_sk(tag: str) -> str:
    """A tag on a profile, its own item so that the people with a tag are one index query."""
    return f"{PROFILE_TAG_PREFIX}{tag}"


def profile_shard(uid: str) -> int:
    return int(hashlib.sha256(uid.encode()).hexdigest(), 16) % PROFILE_SHARDS


def tenant_profiles_gsi1pk(tid: str, shard: int) -> str:
    """A tenant's profiles (GSI1), spread over shards so a sale's new people never heat one partition."""
    return f"T#{tid}#U#{shard}"


def tenant_profiles_gsi1sk(first_seen: str, uid: str) -> str:
    return f"{first_seen}#{uid}"


def idle_gsi2pk(tid: str, day: str) -> str:
    """Profiles by the UTC day they were last seen (GSI2): win-back finds `N days ago` by key."""
    return f"T#{tid}#SEEN#{day}"


def idle_gsi2sk(last_seen: str, uid: str) -> str:
    return f"{last_seen}#{uid}"


def tagged_gsi1pk(tid: str, tag: str) -> str:
    return f"T#{tid}#TAG#{tag}"


def tagged_gsi1sk(added_at: str, uid: str) -> str:
    return f"{added_at}#{uid}"


def birthday_gsi2pk(month_day: str, shard: int) -> str:
    """Everyone (any tenant) whose birthday is MM-DD, sharded: the birthday schedule reads one day."""
    return f"BDAY#{month_day}#{shard}"


def birthday_gsi2sk(tid: str, uid: str) -> str:
    return f"{tid}#{uid}"


def tag_definition_sk(name: str) -> str:
    return f"TAGDEF#{name}"


TAG_DEFINITION_PREFIX = "TAGDEF#"


def segment_sk(sid: str) -> str:
    return f"SEG#{sid}"


SEGMENT_PREFIX = "SEG#"


def automation_sk(aid: str) -> str:
    return f"AUTO#{aid}"


AUTOMATION_PREFIX = "AUTO#"
# Enabled rules with a scheduled trigger, across tenants (GSI2, sparse): the schedules start here.
SCHEDULED_AUTOMATIONS_GSI2PK = "AUTO#SCHEDULED"


def scheduled_automation_gsi2sk(tid: str, aid: str) -> str:
    return f"{tid}#{aid}"


AUTOMATION_JOB_SHARDS = 4


def automation_job_pk(shard: int) -> str:
    """A delayed automation run, due at its sort key's time (found by key, like the outbox)."""
    return f"AJOB#{shard}"


def automation_job_sk(due_iso: str, run_id: str) -> str:
    return f"{due_iso}#{run_id}"


# Messaging (docs/messaging.md): the message outbox, its per-tenant view, caps, settings and opt-outs.
MESSAGING_SETTINGS_SK = "MESSAGING"
UNSUBSCRIBE_SK = "UNSUB"


def message_pk(mid: str) -> str:
    """One item per message under a stable key: the id is derived, so a repeated enqueue is a failed condition."""
    return f"MSG#{mid}"


def messages_due_gsi2pk(shard: int) -> str:
    """Open messages by due time (GSI2, sparse: only while pending or deferred), sharded like the webhook outbox."""
    return f"MSGDUE#{shard}"


def messages_due_gsi2sk(due_iso: str, mid: str) -> str:
    return f"{due_iso}#{mid}"


def tenant_messages_gsi1pk(tid: str) -> str:
    """A tenant's messages, newest first, for operators (GSI1); status and channel are filters."""
    return f"T#{tid}#MSG"


def tenant_messages_gsi1sk(created_at: str, mid: str) -> str:
    return f"{created_at}#{mid}"


def message_cap_pk(tid: str, uid: str) -> str:
    return f"MSGCAP#{tid}#{uid}"


def message_address_cap_pk(tid: str, address_hash: str) -> str:
    """Sends to one phone number or email address (its keyed hash), across every person who gave it."""
    return f"MSGCAP#{tid}#A#{address_hash}"


def message_cap_sk(channel: str, local_day: str) -> str:
    """A person's sends on one channel on one local day (the tenant's time zone)."""
    return f"{channel}#{local_day}"


# WeChat and WeCom (docs/wechat.md): credentials, cached access tokens and tickets, and the lease that lets one
# container at a time refresh a token, all under the tenant.
def platform_credentials_sk(platform: str) -> str:
    return f"PLATFORM#{platform}"


def platform_token_sk(platform: str, kind: str) -> str:
    return f"PTOKEN#{platform}#{kind}"


def platform_lease_sk(platform: str, kind: str) -> str:
    return f"PLEASE#{platform}#{kind}"


def platform_code_pk(code: str) -> str:
    """A participant's platform codes, in a partition of their own (a tenant's codes spread out)."""
    return f"PCODE#{code}"


def platform_code_sk(platform: str) -> str:
    return f"PLATFORM#{platform}"


def platform_code_count_sk(platform: str) -> str:
    return f"PCODES#{platform}"


def platform_event_sk(platform: str, digest: str) -> str:
    """One inbound platform callback event under its tenant, keyed by its dedupe digest (docs/wechat.md)."""
    return f"PEVENT#{platform}#{digest}"


def platform_consent_pk(tid: str, openid: str) -> str:
    """A follower's subscription-message credits, in a partition of their own (a tenant's followers spread out)."""
    return f"PCONSENT#{tid}#{openid}"


def platform_consent_sk(template_id: str) -> str:
    return f"TPL#{template_id}"


def platform_sender_sk(platform: str, user: str) -> str:
    """The staff member a WeCom external contact was added by, under the tenant."""
    return f"PSENDER#{platform}#{user}"


def platform_contact_sk(platform: str, user: str) -> str:
    """A platform user (WeCom external contact, official account follower) Fission has seen for a tenant."""
    return f"PCONTACT#{platform}#{user}"


def follow_pending_sk(newcomer: str) -> str:
    """An invitee's follow qualification waiting out its retention window, under the inviter's partition."""
    return f"FOLLOWPENDING#{newcomer}"


FOLLOW_PENDING_PREFIX = "FOLLOWPENDING#"


def follow_due_gsi2pk(day: str, shard: int) -> str:
    """Pending follow qualifications by the day they fall due, sharded like the group deadlines."""
    return f"FDUE#{day}#{shard}"


def follow_due_gsi2sk(due: str, newcomer: str) -> str:
    return f"{due}#{newcomer}"


def wallet_pk(tid: str, uid: str) -> str:
    """A person's commission wallet in one tenant: its HEAD (the version a withdrawal request bumps) and its
    entries, so a balance is one consistent query of one partition."""
    return f"T#{tid}#W#{uid}"


WALLET_HEAD_SK = "HEAD"
WALLET_ENTRY_PREFIX = "E#"


def wallet_commission_sk(oid: str, level: int, *, clawback: bool = False) -> str:
    """A commission credited to the wallet (or its clawback): one per order and level, so a replayed stream
    record writes nothing new."""
    return f"E#C#{oid}#{level}" + ("#CLAWBACK" if clawback else "")


def wallet_withdrawal_sk(wid: str, suffix: str = "") -> str:
    """A withdrawal's entries: the request (no suffix), then `#PAID` or `#RETURN`, each written once."""
    return f"E#W#{wid}{suffix}"


def withdrawal_pk(tid: str, wid: str) -> str:
    """A withdrawal request (`META`), apart from the wallet so finance's queue reads it by key."""
    return f"T#{tid}#WD#{wid}"


def withdrawals_by_status_gsi1pk(tid: str, status: str) -> str:
    """Finance's queue: a tenant's withdrawals in one status, oldest first; moved by the write that changes it."""
    return f"T#{tid}#WDS#{status}"


def withdrawals_by_status_gsi1sk(created_at: str, wid: str) -> str:
    return f"{created_at}#{wid}"


def payout_destination_pk(tid: str, digest: str) -> str:
    """The wallets that withdrew to one destination (`META`), by the destination's keyed blind index: a
    destination shared by several wallets is flagged."""
    return f"T#{tid}#PD#{digest}"


# The tenant's payout policy, beside the tenant (`T#{tid}`).
PAYOUT_SETTINGS_SK = "PAYOUTS"


def payout_provider_sk(provider: str) -> str:
    """A tenant's credentials for one payout provider (`wechatpay`, `alipay`), beside the tenant."""
    return f"PAYPROVIDER#{provider}"


# GSI2 partition of the withdrawals a payout provider has to pay or settle (approved or paying, WeChat Pay or
# Alipay), across tenants: the paying schedule's one query. Sparse: a withdrawal leaves it when it is paid,
# failed or rejected. Sort key: `withdrawals_payable_gsi2sk`.
WITHDRAWALS_PAYABLE_GSI2PK = "WD#PAYABLE"


def withdrawals_payable_gsi2sk(created_at: str, tid: str, wid: str) -> str:
    return f"{created_at}#{tid}#{wid}"


def points_pk(tid: str, uid: str) -> str:
    """A person's points ledger in one tenant: its HEAD (the version every redemption bumps) and its entries, so a
    balance is one consistent query of one partition."""
    return f"T#{tid}#PTS#{uid}"


POINTS_HEAD_SK = "HEAD"
POINTS_ENTRY_PREFIX = "E#"


def points_entry_sk(source: str) -> str:
    """One entry per source (a reward, a redemption): a replayed record or a retried request writes nothing new."""
    return f"E#{source}"


def loyalty_catalogue_pk(tid: str) -> str:
    """A tenant's redemption catalogue: one item per thing points buy, listed by one query."""
    return f"T#{tid}#LCAT"


def loyalty_item_sk(iid: str) -> str:
    return f"ITEM#{iid}"


LOYALTY_ITEM_PREFIX = "ITEM#"
# The tenant's points policy (expiry), beside the tenant (`T#{tid}`).
LOYALTY_SETTINGS_SK = "LOYALTY"


def loyalty_tasks_pk(tid: str) -> str:
    """A tenant's task definitions: one item per task, listed by one query."""
    return f"T#{tid}#LTASK"


def loyalty_task_sk(task_id: str) -> str:
    return f"TASK#{task_id}"


LOYALTY_TASK_PREFIX = "TASK#"


def task_progress_pk(tid: str, uid: str) -> str:
    """A person's progress on the tenant's tasks: one item per task and period."""
    return f"T#{tid}#TASKS#{uid}"


def task_progress_sk(task_id: str, period_key: str) -> str:
    """The period (`D{local date}`, `W{ISO week}`, `ONCE`) is in the key: a new day or week starts a new item."""
    return f"P#{task_id}#{period_key}"


# Membership tiers (docs/retention.md): a person's standing and the facts it is measured from, in one partition.
def tier_pk(tid: str, uid: str) -> str:
    """A person's tier in one tenant: `STATE` (the tier held, read by the join gate and the participant's view
    below the loyalty slice) and the facts `F#...` its measure sums over a window."""
    return f"T#{tid}#TIER#{uid}"


TIER_STATE_SK = "STATE"
TIER_FACT_PREFIX = "F#"


def tier_fact_sk(kind: str, key: str) -> str:
    """One fact per order or invitee, written as its absolute value: a replayed record rewrites the same."""
    return f"F#{kind}#{key}"


# The tenant's tier ladder (JSON), beside the tenant (`T#{tid}`).
LOYALTY_TIERS_SK = "TIERS"
TIER_REVIEW_SHARDS = 4


def tier_review_gsi2pk(shard: int) -> str:
    """Tier holders by the time their tier is next reviewed (GSI2, sparse: only while a tier is held), across
    tenants: the daily downgrade job finds who is due by key."""
    return f"TIERDUE#{shard}"


def tier_review_gsi2sk(due: str, tid: str, uid: str) -> str:
    return f"{due}#{tid}#{uid}"


def tier_review_shard(uid: str) -> int:
    return int(hashlib.sha256(uid.encode()).hexdigest(), 16) % TIER_REVIEW_SHARDS


# Churn warning (docs/retention.md): a person's daily score beside their profile, a tenant's run, model and
# settings beside the tenant, and each day's compact feature snapshots in one partition per tenant and day.
CHURN_SK = "CHURN"
CHURN_RUN_SK = "CHURN_RUN"
CHURN_MODEL_SK = "CHURN_MODEL"
CHURN_SETTINGS_SK = "CHURN_SETTINGS"
# Every tenant whose people the daily job scores (GSI2, one item per tenant): the job starts here.
CHURN_TENANTS_GSI2PK = "CHURN#TENANTS"


def churn_risk_gsi1pk(tid: str) -> str:
    """A tenant's scored people by risk (GSI1): the highest risks are one query, newest score per person."""
    return f"T#{tid}#CHURN"


def churn_risk_gsi1sk(risk: float, uid: str) -> str:
    return f"{risk:.6f}#{uid}"


def churn_snapshot_pk(tid: str, day: str) -> str:
    """One local day's feature snapshots of a tenant: calibration reads day D and day D + 30 whole."""
    return f"T#{tid}#CHS#{day}"


def churn_snapshot_sk(batch: int) -> str:
    """A run's batch number: a batch done again after an interruption overwrites its own snapshot."""
    return f"B#{batch:06d}"


def checkins_pk(tid: str, uid: str) -> str:
    """A person's check-ins in one tenant: one item per covered local day and one per month that used make-up cards,
    so a calendar or a streak is one query of one partition."""
    return f"T#{tid}#CHK#{uid}"


CHECKIN_DAY_PREFIX = "D#"
CHECKIN_MONTH_PREFIX = "M#"


def checkin_day_sk(day: str) -> str:
    """One local day (`YYYY-MM-DD`), written once: the conditional put that makes a check-in happen once a day."""
    return f"D#{day}"


def checkin_month_sk(month: str) -> str:
    """The make-up cards used in one month (`YYYY-MM`): the counter the monthly limit is checked against."""
    return f"M#{month}"


# The tenant's check-in programme, beside the tenant (`T#{tid}`).
CHECKIN_SETTINGS_SK = "CHECKINS"
# A campaign's budget stop-loss lines and their trips, beside the campaign (`C#{cid}`).
STOP_LOSS_SK = "STOPLOSS"
STOP_LOSS_SHARDS = 4


def stop_loss_gsi2pk(shard: int) -> str:
    """Every campaign with stop-loss lines, found by key (GSI2, a few shards) by the minute's check, never a scan."""
    return f"SLOSS#{shard}"


def growth_pk(tid: str) -> str:
    """A tenant's growth counters (one item per local day, ISO week cohort and month) and quarterly targets: a
    range of the dashboard is one query of one partition."""
    return f"T#{tid}#GROWTH"


def growth_day_sk(day: str) -> str:
    return f"DAY#{day}"


def growth_cohort_sk(week: str) -> str:
    return f"COHORT#{week}"


def growth_month_sk(month: str) -> str:
    return f"MONTH#{month}"


def growth_target_sk(quarter: str) -> str:
    return f"TARGET#{quarter}"


GROWTH_DAY_PREFIX, GROWTH_COHORT_PREFIX, GROWTH_TARGET_PREFIX = "DAY#", "COHORT#", "TARGET#"


def growth_person_pk(tid: str, uid: str) -> str:
    """A person's growth markers: their first join (`META`) and one marker per thing counted once for them (an
    active day, week or month, their activation, first payment, a reward's cost), each written with its count."""
    return f"T#{tid}#GP#{uid}"


def growth_marker_sk(name: str) -> str:
    return f"M#{name}"
