"""PynamoDB models over the single table (see table_spec.py for its shape)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.constants import MAP, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.table import spec as table_spec


def _to_dynamodb(value: Any) -> dict[str, Any]:
    """One JSON value as a DynamoDB attribute value; numbers must be whole (they come back as int)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {str(k): _to_dynamodb(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"L": [_to_dynamodb(v) for v in value]}
    raise TypeError(f"a document holds strings, whole numbers, booleans, nulls, lists and maps, not {value!r}")


def _whole(number: str) -> int:
    value = Decimal(number)
    if value != value.to_integral_value():
        raise ValueError(f"a document number that is not whole: {number}")
    return int(value)


def _from_dynamodb(value: dict[str, Any]) -> Any:
    """The JSON value of a DynamoDB attribute value: numbers as exact ints (never Decimal or float)."""
    kind, raw = next(iter(value.items()))
    if kind in ("S", "BOOL"):
        return raw
    if kind == "N":
        return _whole(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _from_dynamodb(v) for k, v in raw.items()}
    if kind == "L":
        return [_from_dynamodb(v) for v in raw]
    raise ValueError(f"a document value of DynamoDB type {kind}")


class DocumentAttribute(Attribute[dict[str, Any]]):
    """A JSON object stored as a native DynamoDB map, read back with its numbers as ints.

    Also reads the object as JSON text, the form written before maps (`python -m local.manage
    migrate-campaign-documents` rewrites those): `Path(attribute).is_type(STRING)` finds them."""

    attr_type = MAP

    def serialize(self, value: dict[str, Any]) -> dict[str, Any]:
        return dict(_to_dynamodb(value)["M"])

    def get_value(self, value: dict[str, Any]) -> Any:
        return value  # both forms reach deserialize, tagged with their type

    def deserialize(self, value: dict[str, Any]) -> dict[str, Any]:
        if STRING in value:
            document = json.loads(value[STRING])
        elif MAP in value:
            document = _from_dynamodb(value)
        else:
            raise ValueError(f"a document stored as DynamoDB type {next(iter(value), None)}")
        if not isinstance(document, dict):
            raise ValueError("a document that is not a JSON object")
        return document


class GSI1(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    GSI1PK = UnicodeAttribute(hash_key=True)
    GSI1SK = UnicodeAttribute(range_key=True)


class GSI2(GlobalSecondaryIndex["Item"]):
    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    GSI2PK = UnicodeAttribute(hash_key=True)
    GSI2SK = UnicodeAttribute(range_key=True)


class Item(Model):
    """Base of every entity: the table's keys and the entity discriminator.

    The table name and endpoint are bound at run time by `bind()`, never at import.
    """

    class Meta:
        table_name = "fission"
        region = "us-east-1"
        host: str | None = None
        aws_access_key_id: str | None = None
        aws_secret_access_key: str | None = None
        max_retry_attempts = 3

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    entity = DiscriminatorAttribute(attr_name="entity")
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    GSI2PK = UnicodeAttribute(null=True)
    GSI2SK = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True, attr_name=table_spec.TTL_ATTRIBUTE)

    gsi1 = GSI1()
    gsi2 = GSI2()


class TenantItem(Item, discriminator="tenant"):
    tid = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute(default="Asia/Shanghai")
    created_at = UnicodeAttribute()
    # The webhook signing secret is derived from a master key and this version; rotating bumps it.
    hook_secret_version = NumberAttribute(default=1)
    # When the version last moved (unix seconds): the previous secret keeps signing outbound deliveries for a while.
    hook_secret_rotated_at = NumberAttribute(null=True)


class LoginItem(Item, discriminator="login"):
    """Email -> tenant pointer; created in the same transaction as the operator."""

    email = UnicodeAttribute()
    tid = UnicodeAttribute()


class OperatorItem(Item, discriminator="operator"):
    tid = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    # PII: ciphertext plus a keyed hash for lookup; never plaintext.
    name_enc = UnicodeAttribute(null=True)
    phone_enc = UnicodeAttribute(null=True)
    phone_hash = UnicodeAttribute(null=True)
    disabled = BooleanAttribute(default=False)
    # Bumped on a password, role or disabled change: tokens issued before stop working.
    token_version = NumberAttribute(default=1)
    # Optimistic lock for concurrent edits.
    version = NumberAttribute(default=1)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class OperatorTotpItem(Item, discriminator="operator_totp"):
    """An operator's TOTP enrolment (`T#{tid}` / `TOTP#{email}`)."""

    tid = UnicodeAttribute()
    email = UnicodeAttribute()
    # AES-GCM ciphertext bound to tenant and email; never the clear secret.
    secret_enc = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | active
    # The last 30-second time step a code was accepted for: a code is good once.
    last_step = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    activated_at = UnicodeAttribute(null=True)


class LoginAttemptsItem(Item, discriminator="login_attempts"):
    """Recent failures of one sign-in subject (`LA#{scope}#{hash}` / `META`); TTL removes it after its streak."""

    failures = NumberAttribute(default=0)
    reset_at = NumberAttribute(default=0)  # epoch seconds: the streak ends here unless a lock extends it
    locked_until = NumberAttribute(default=0)  # epoch seconds


class IdentityKeyItem(Item, discriminator="identity_key"):
    """A tenant's identity-assertion key (`T#{tid}` / `IDKEY#{kid}`), docs/identity.md."""

    tid = UnicodeAttribute()
    kid = UnicodeAttribute()
    # AES-GCM ciphertext bound to tenant and key id; the clear secret is shown once, at creation.
    secret_enc = UnicodeAttribute()
    status = UnicodeAttribute()  # active | retired
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    retired_at = UnicodeAttribute(null=True)


class DomainItem(Item, discriminator="domain"):
    """A tenant's landing domain (`T#{tid}` / `DOMAIN#{did}`), docs/domains.md."""

    tid = UnicodeAttribute()
    did = UnicodeAttribute()
    host = UnicodeAttribute()  # lowercase IDNA
    status = UnicodeAttribute()  # healthy | blocked
    priority = NumberAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    blocked_at = UnicodeAttribute(null=True)
    blocked_by = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class ApiKeyItem(Item, discriminator="api_key"):
    """A merchant back end's API key (`APIKEY#{kid}` / `META`; GSI1 `T#{tid}#APIKEY`), docs/api-keys.md."""

    tid = UnicodeAttribute()
    kid = UnicodeAttribute()
    name = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute, default=list)
    # SHA-256 of the 32-byte random secret; the key itself is shown once, at creation.
    secret_hash = UnicodeAttribute()
    status = UnicodeAttribute()  # active | revoked
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    # Written at most about once a minute per key, never per request.
    last_used_at = UnicodeAttribute(null=True)


class ApiKeyUseItem(Item, discriminator="api_key_use"):
    """One request an API key made (`T#{tid}#KEYUSE#{kid}#{yyyymmdd}` / `{at}#{request id}`), written once with
    no read and no condition; it expires (`expires_at`) after the retention docs/api-keys.md states."""

    kid = UnicodeAttribute()
    at = UnicodeAttribute()
    method = UnicodeAttribute()
    route = UnicodeAttribute()  # the route template, e.g. /v1/server/campaigns/{cid}/participants
    status = NumberAttribute()
    request_id = UnicodeAttribute(null=True)  # API Gateway's, as in the answer's X-Request-Id
    ref = UnicodeAttribute()  # the sort key's suffix: the request id, or an id made when there is none
    client_ip = UnicodeAttribute(null=True)


class AuditEntryItem(Item, discriminator="audit"):
    """One link of a tenant's audit chain (`T#{tid}#AUDIT` / `E#{seq:012d}`); written once, never updated."""

    seq = NumberAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    details = JSONAttribute()
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()
    # Absent on entries written before the chain was keyed (the legacy segment).
    mac = UnicodeAttribute(null=True)


class AuditHeadItem(Item, discriminator="audit_head"):
    """The chain's tip (`T#{tid}#AUDIT` / `HEAD`): appends are conditional on its seq.

    An append also files it under GSI2 `AUDIT#UNANCHORED` (sort key the tenant) until the anchor job has
    copied it out of the table."""

    seq = NumberAttribute()
    hash = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)


class CampaignItem(Item, discriminator="campaign"):
    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    mode = UnicodeAttribute()
    status = UnicodeAttribute()
    # The validated campaign document: stored and returned verbatim, never queried by field.
    spec = DocumentAttribute()
    version = NumberAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    published_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    stop_loss_paused_at = UnicodeAttribute(null=True)
    held_channels = UnicodeSetAttribute(null=True)


class ParticipantItem(Item, discriminator="participant"):
    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    code = UnicodeAttribute()
    identity = UnicodeAttribute()  # keyed hash of (campaign, merchant's user id)
    # The person across the tenant's campaigns (a keyed hash of tenant and user id): their profile.
    person = UnicodeAttribute(null=True)
    # {"external_id", "phone", "email"} encrypted for the profile, which messages are addressed from.
    contact_enc = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)  # MM-DD, when given
    nickname = UnicodeAttribute(null=True)
    avatar_url = UnicodeAttribute(null=True)
    phone_enc = UnicodeAttribute(null=True)
    phone_hash = UnicodeAttribute(null=True)
    device_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    inviter = UnicodeAttribute(null=True)  # the inviter's code
    attribution = UnicodeAttribute(null=True)  # why a ref was not credited, when it was not
    joined_at = UnicodeAttribute()
    # When the campaign's qualifying action (follow, first paid order) happened; joins qualify at once.
    qualified_at = UnicodeAttribute(null=True)
    # Codes of invitees that count for this participant, written by the stream handler.
    # A set: adding the same invitee twice (a redelivered batch) changes nothing.
    counted = UnicodeSetAttribute(null=True)
    # Ladder rules whose reward item exists (issued or recorded as unavailable).
    rewarded = UnicodeSetAttribute(null=True)
    # Groups this participant leads that are still open (group_buy's per-leader limit).
    open_groups = NumberAttribute(null=True)
    # Bumped by "sign out everywhere" and by erasure: tokens issued under an older version are refused.
    token_version = NumberAttribute(null=True)
    # Analytics facts recorded at the join: the experiment arm, the generation in the referral tree
    # (0 for nobody's invitee) and when the inviter joined (for the viral cycle time).
    variant = UnicodeAttribute(null=True)
    depth = NumberAttribute(null=True)
    inviter_joined_at = UnicodeAttribute(null=True)
    # Fraud (docs/fraud.md): the request's address as a keyed hash (never the raw IP), the score and
    # its reasons when non-zero, the nearest ancestors' fingerprints (the referral-chain check reads
    # only the inviter), and the review state of a held join: `held` until decided, `approved` or
    # `rejected` after. A held join keeps its would-be qualification in `held_qualified_at`.
    ip_hash = UnicodeAttribute(null=True)
    risk_score = NumberAttribute(null=True)
    risk_reasons = JSONAttribute(null=True)
    lineage = JSONAttribute(null=True)
    review = UnicodeAttribute(null=True)
    held_qualified_at = UnicodeAttribute(null=True)
    # Codes of this inviter's invitees awaiting review (kept by the stream): "pending review" in `me`.
    held = UnicodeSetAttribute(null=True)
    # A keyed hash of the account that paid this participant's latest order (SHARED_PAYMENT).
    payment_hash = UnicodeAttribute(null=True)
    # Data-subject erasure (docs/privacy.md): `erasing_at` is set in the same update that strips the
    # personal fields, `erased_at` once every other step is done; either makes the item a tombstone.
    erasing_at = UnicodeAttribute(null=True)
    erased_at = UnicodeAttribute(null=True)
    # Content keys of the cached posters to delete, computed before the nickname is gone.
    poster_keys = UnicodeSetAttribute(null=True)


class ProofItem(Item, discriminator="participant_proof"):
    """A one-time proof code an anonymous participant's page fetched just before a sensitive act
    (`P#{code}` / `PROOF#{hash}`); deleted when used, expired by TTL otherwise."""

    code = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class RewardItem(Item, discriminator="reward"):
    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    code = UnicodeAttribute()  # the participant's code
    rule = UnicodeAttribute()
    type = UnicodeAttribute()
    name = UnicodeAttribute()
    value_fen = NumberAttribute(default=0)
    points = NumberAttribute(default=0)
    # pending_release | pending | issued | claimed | revoked | voided | unavailable (referral/rules/rewards.py)
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    # What issuing drew on, so revoking can give it back: the stock rule and the budget charge.
    stock_rule = UnicodeAttribute(null=True)
    budget_fen = NumberAttribute(null=True)
    cost_fen = NumberAttribute(null=True)  # what it costs the merchant (analytics), whatever the budget
    pool_rule = UnicodeAttribute(null=True)  # set when the coupon code comes from a code pool
    coupon_code = UnicodeAttribute(null=True)  # shown to the participant once claimed
    issued_at = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute(null=True)
    claim_enc = UnicodeAttribute(null=True)  # the claim's details (a delivery address), encrypted
    revoked_at = UnicodeAttribute(null=True)
    # The merchant's veto (docs/rewards-veto.md); GSI2 indexes a `pending_release` reward by when it is due.
    reason_code = UnicodeAttribute(null=True)
    release_at = UnicodeAttribute(null=True)
    validated_at = UnicodeAttribute(null=True)
    attempts = NumberAttribute(null=True)
    approval = UnicodeAttribute(null=True)
    invitees = ListAttribute(of=UnicodeAttribute, null=True)
    channel = UnicodeAttribute(null=True)  # the rewarded participant's acquisition channel


class ExistingCustomerItem(Item, discriminator="existing_customer"):
    """A user the merchant reported as an existing customer: their invite counts for nobody, their orders earn
    nobody commission (docs/rewards-veto.md)."""

    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    identity = UnicodeAttribute()  # the keyed hash of the merchant's id, as the participant item holds it
    reported_at = UnicodeAttribute()


class CouponCodeItem(Item, discriminator="coupon_code"):
    """One uploaded coupon code. Free codes carry GSI2 keys (a sparse index of what is left, at a
    random sort position so concurrent issuers pick different codes); issuing removes them."""

    cid = UnicodeAttribute()
    rule = UnicodeAttribute()
    code = UnicodeAttribute()  # the coupon code itself
    uploaded_at = UnicodeAttribute()
    assigned_to = UnicodeAttribute(null=True)  # the participant's invite code
    assigned_at = UnicodeAttribute(null=True)


class LeaderboardItem(Item, discriminator="leaderboard"):
    """A campaign's top inviters, kept by the stream handler: one read serves the board."""

    cid = UnicodeAttribute()
    # [{"code", "nickname", "score"}], best first; JSON text keeps nicknames with any characters.
    entries = JSONAttribute()
    version = NumberAttribute()
    updated_at = UnicodeAttribute()


class CounterItem(Item, discriminator="counter"):
    """A campaign-wide limit: reward stock (`remaining`) or budget (`spent` against `limit`)."""

    cid = UnicodeAttribute()
    name = UnicodeAttribute()
    remaining = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)
    limit = NumberAttribute(null=True)


class GroupItem(Item, discriminator="group"):
    gid = UnicodeAttribute()
    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    leader = UnicodeAttribute()  # the leader's invite code
    size = NumberAttribute()
    price_fen = NumberAttribute()
    members = NumberAttribute()
    status = UnicodeAttribute()  # open | succeeded | failed
    opened_at = UnicodeAttribute()
    deadline = UnicodeAttribute()
    closed_at = UnicodeAttribute(null=True)
    system_members = NumberAttribute(null=True)  # auto-fill's places, counted in `members`; no member items


class MemberItem(Item, discriminator="group_member"):
    gid = UnicodeAttribute()
    cid = UnicodeAttribute()
    code = UnicodeAttribute()
    nickname = UnicodeAttribute(null=True)
    leader = BooleanAttribute(default=False)
    joined_at = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)  # set when the member's order is paid


class AssistItem(Item, discriminator="assist"):
    """An owner's assist: the whole cut plan, fixed when it starts, and the slots taken so far."""

    cid = UnicodeAttribute()
    tid = UnicodeAttribute()
    owner = UnicodeAttribute()  # the owner's invite code
    goal = UnicodeAttribute()
    target = NumberAttribute()
    helpers_required = NumberAttribute()
    cuts = ListAttribute(of=NumberAttribute)  # cuts[k - 1] is the cut of slot k
    slots = NumberAttribute(default=0)
    # Helper code -> the slot they took: "helped once" and "which cut" in one attribute.
    helped = MapAttribute[str, int]()
    original_price = NumberAttribute(null=True)  # cut_price: the prices when the assist started
    floor_price = NumberAttribute(null=True)
    started_at = UnicodeAttribute()
    deadline = UnicodeAttribute()


class HelpCountItem(Item, discriminator="assist_helps"):
    """How many assists one helper gave on one day, for the per-helper daily limit."""

    cid = UnicodeAttribute()
    code = UnicodeAttribute()
    day = UnicodeAttribute()
    helps = NumberAttribute(default=0)


class RiskWindowItem(Item, discriminator="risk_window"):
    """The distinct attempts of one subject in one fixed window (capped; see referral/store/fraud.py)."""

    members = UnicodeSetAttribute(null=True)


class RiskPersonItem(Item, discriminator="risk_person"):
    """One phone across a tenant's campaigns (bonus-hunter signal), kept by the stream: set unions only."""

    rewarded = UnicodeSetAttribute(null=True)  # campaign ids with an issued reward
    paid = UnicodeSetAttribute(null=True)  # paid order ids


class ReviewItem(Item, discriminator="review"):
    """A held or flagged fact awaiting (or past) an operator's decision."""

    rid = UnicodeAttribute()
    tid = UnicodeAttribute()
    cid = UnicodeAttribute()
    kind = UnicodeAttribute()  # join | help | order
    subject = UnicodeAttribute()  # the participant code (join, help) or the order id
    status = UnicodeAttribute()  # pending | approved | rejected
    score = NumberAttribute(default=0)
    reasons = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class ClickItem(Item, discriminator="click"):
    cid = UnicodeAttribute()
    code = UnicodeAttribute()  # the invite code whose link was opened
    channel = UnicodeAttribute(null=True)
    at = UnicodeAttribute()


class SecretItem(Item, discriminator="secret"):
    """A data key wrapped by KMS (cloud stages only)."""

    name = UnicodeAttribute()
    ciphertext = UnicodeAttribute()
    created_at = UnicodeAttribute()


class WebhookItem(Item, discriminator="webhook"):
    """An operator-configured outbound webhook endpoint (`T#{tid}` / `WH#{wid}`)."""

    tid = UnicodeAttribute()
    wid = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    created_at = UnicodeAttribute()


class OutboxItem(Item, discriminator="outbox"):
    """One event to deliver to one endpoint (`OUT#{shard}` / `{due}#{event_id}#{wid}`)."""

    tid = UnicodeAttribute()
    wid = UnicodeAttribute()
    url = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = UnicodeAttribute()
    created_at = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    status = UnicodeAttribute(default="pending")
    last_error = UnicodeAttribute(null=True)


class OutboxMarkerItem(Item, discriminator="outbox_marker"):
    """One per (event id, endpoint) queued: refuses the duplicate a redelivered stream batch would add.

    It expires (`expires_at`) 30 days after queueing, long after any redelivery or retry could arrive."""

    event_id = UnicodeAttribute()
    wid = UnicodeAttribute()


class ExportItem(Item, discriminator="export"):
    """A CSV export job (`T#{tid}` / `EXPORT#{id}`): where it stands, so a crashed run resumes.

    While queued or running it sits in the GSI2 bucket `EXPORTS#PENDING`; it expires 7 days after creation."""

    tid = UnicodeAttribute()
    eid = UnicodeAttribute()
    cid = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()  # queued | running | done | failed
    # Where the next page starts: {"shard": n, "key": DynamoDB's LastEvaluatedKey or null}.
    cursor = JSONAttribute(null=True)
    rows = NumberAttribute(default=0)
    parts = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)
    version = NumberAttribute(default=1)
    error = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)


class ProfileItem(Item, discriminator="profile"):
    """One person per tenant (`T#{tid}#U#{uid}` / `PROFILE`), rebuilt from facts by the stream (docs/audience.md).

    Facts are kept as absolute state per source (a participant's invites, an order's net amount), so
    applying one twice changes nothing; counts and sums are derived when read."""

    tid = UnicodeAttribute()
    uid = UnicodeAttribute()
    version = NumberAttribute(default=0)
    nickname = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)  # MM-DD
    first_seen = UnicodeAttribute(null=True)
    last_seen = UnicodeAttribute(null=True)
    # participant code -> {"cid", "joined_at", "channel", "invites", ..., "contact_enc"}: each join's
    # {"external_id", "phone", "email"} as one AES-GCM ciphertext bound to the profile.
    parts = JSONAttribute(null=True)
    rewards = UnicodeSetAttribute(null=True)
    orders = JSONAttribute(null=True)  # order id -> net fen
    groups = UnicodeSetAttribute(null=True)
    helps = UnicodeSetAttribute(null=True)
    auto_tags = JSONAttribute(null=True)  # tag -> added at
    manual_tags = JSONAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)  # both, for reading
    tier = JSONAttribute(null=True)  # {"id", "name", "rank", "at"}: the membership tier (docs/retention.md)
    churn_level = UnicodeAttribute(null=True)  # the daily churn score's level (docs/retention.md)
    churn_alert = BooleanAttribute(null=True)  # that level reaches the tenant's alert level


class ProfileTagItem(Item, discriminator="profile_tag"):
    """A tag on a profile (`T#{tid}#U#{uid}` / `TAG#{tag}`), indexed by tag in GSI1."""

    tid = UnicodeAttribute()
    uid = UnicodeAttribute()
    tag = UnicodeAttribute()
    source = UnicodeAttribute()  # auto | manual
    added_at = UnicodeAttribute()


class BirthdayItem(Item, discriminator="birthday"):
    """A profile's birthday (`.../BDAY`), indexed by MM-DD across tenants for the birthday schedule."""

    tid = UnicodeAttribute()
    uid = UnicodeAttribute()
    month_day = UnicodeAttribute()


class TagDefinitionItem(Item, discriminator="tag_definition"):
    """A tenant's tag (`T#{tid}` / `TAGDEF#{name}`): a custom tag, an auto-tag rule, or a built-in switched off."""

    tid = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    rule = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class SegmentItem(Item, discriminator="segment"):
    tid = UnicodeAttribute()
    sid = UnicodeAttribute()
    name = UnicodeAttribute()
    expression = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class AutomationItem(Item, discriminator="automation"):
    """A rule `trigger -> conditions -> actions` (`T#{tid}` / `AUTO#{aid}`); enabled scheduled ones sit in GSI2."""

    tid = UnicodeAttribute()
    aid = UnicodeAttribute()
    name = UnicodeAttribute()
    enabled = BooleanAttribute(default=True)
    trigger = JSONAttribute()
    conditions = UnicodeAttribute(null=True)
    delay_minutes = NumberAttribute(default=0)
    actions = JSONAttribute()
    version = NumberAttribute(default=1)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class AutomationJobItem(Item, discriminator="automation_job"):
    """A fired rule whose actions wait for its delay (`AJOB#{shard}` / `{due}#{run_id}`)."""

    tid = UnicodeAttribute()
    aid = UnicodeAttribute()
    uid = UnicodeAttribute()
    run_id = UnicodeAttribute()
    occurrence = UnicodeAttribute()
    context = JSONAttribute()  # the firing: campaign, participant code, data
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()


class MessageItem(Item, discriminator="message"):
    """One outgoing message (`MSG#{mid}` / `META`), rendered at enqueue (docs/messaging.md).

    GSI1 lists a tenant's messages for operators; GSI2 (`MSGDUE#{shard}` / `{due}#{mid}`) holds it only while it
    is pending or deferred, so delivery finds due messages by key. `version` guards every state change."""

    tid = UnicodeAttribute()
    mid = UnicodeAttribute()
    uid = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | deferred | sent | dead | suppressed
    reason = UnicodeAttribute(null=True)  # why deferred or suppressed
    subject = UnicodeAttribute(null=True)
    text = UnicodeAttribute()
    # The same rendering with the person's values masked, for operators without `pii:unmask`.
    masked_text = UnicodeAttribute(null=True)
    masked_subject = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)  # a built-in template's name; custom texts are only rendered
    locale = UnicodeAttribute()
    # The address the channel needs (phone, email or external id), AES-GCM bound to the message; never plaintext.
    address_enc = UnicodeAttribute(null=True)
    endpoint = UnicodeAttribute(null=True)  # webhook messages carry their own URL
    data = JSONAttribute(null=True)  # webhook messages: the template variables, for the merchant's system
    automation_id = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    due_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    sent_at = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)


class MessagingSettingsItem(Item, discriminator="messaging_settings"):
    """A tenant's messaging settings (`T#{tid}` / `MESSAGING`): the validated document as JSON."""

    tid = UnicodeAttribute()
    settings = JSONAttribute()
    updated_at = UnicodeAttribute()


class MessageCapItem(Item, discriminator="message_cap"):
    """Sends to one person (`MSGCAP#{tid}#{uid}`), or to one phone number or email address whoever it belongs to
    (`MSGCAP#{tid}#A#{keyed hash}`), on one channel on one local day (`{channel}#{day}`), TTL 3 days."""

    sent = NumberAttribute(default=0)


class SubscriptionItem(Item, discriminator="subscription"):
    """The channels a person opted out of (`T#{tid}#U#{uid}` / `UNSUB`); `*` is every person channel."""

    tid = UnicodeAttribute()
    uid = UnicodeAttribute()
    unsubscribed = UnicodeSetAttribute(null=True)
    updated_at = UnicodeAttribute()


class PlatformCredentialsItem(Item, discriminator="platform_credentials"):
    """A tenant's WeChat or WeCom credentials (`T#{tid}` / `PLATFORM#{platform}`): the whole document encrypted."""

    tid = UnicodeAttribute()
    platform = UnicodeAttribute()
    document_enc = UnicodeAttribute()
    version = NumberAttribute(default=1)
    updated_at = UnicodeAttribute()


class PlatformTokenItem(Item, discriminator="platform_token"):
    """A cached access token or JS-SDK ticket (`T#{tid}` / `PTOKEN#{platform}#{kind}`), encrypted; TTL past expiry."""

    tid = UnicodeAttribute()
    token_enc = UnicodeAttribute()
    valid_until = NumberAttribute()  # epoch seconds, as the platform stated it
    fetched_at = NumberAttribute()


class PlatformLeaseItem(Item, discriminator="platform_lease"):
    """Who refreshes a token now (`T#{tid}` / `PLEASE#{platform}#{kind}`): taken with a condition, TTL 1 day."""

    holder = UnicodeAttribute()
    lease_until = NumberAttribute()  # epoch seconds, fractional


class PlatformCodeItem(Item, discriminator="platform_code"):
    """A participant's code on one platform (`PCODE#{code}` / `PLATFORM#{platform}`): pending while one container
    creates it (`holder`, `lease_until`), then ready with what the platform answered."""

    tid = UnicodeAttribute()
    cid = UnicodeAttribute()
    state = UnicodeAttribute()  # pending | ready | deleting (its participant was erased)
    holder = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)  # epoch seconds, fractional
    delete_asked_at = UnicodeAttribute(null=True)  # when deleting began (the platform's deletion may be retried)
    scene = UnicodeAttribute(null=True)
    config_id = UnicodeAttribute(null=True)  # WeCom contact way
    image_url = UnicodeAttribute(null=True)  # WeCom's QR image
    ticket = UnicodeAttribute(null=True)  # official account
    content = UnicodeAttribute(null=True)  # what the official account's QR code encodes
    created_at = UnicodeAttribute(null=True)


class PlatformCodeCountItem(Item, discriminator="platform_code_count"):
    """How many codes a tenant has made on a platform (`T#{tid}` / `PCODES#{platform}`), against its quota."""

    made = NumberAttribute(default=0)


class PlatformEventItem(Item, discriminator="platform_event"):
    """An inbound callback event (`T#{tid}` / `PEVENT#{platform}#{digest}`): put once, acted on from the stream."""

    tid = UnicodeAttribute()
    platform = UnicodeAttribute()
    kind = UnicodeAttribute()  # WeCom ChangeType, or the official account's Event
    user = UnicodeAttribute()  # ExternalUserID or the follower's openid
    staff = UnicodeAttribute(null=True)  # WeCom UserID
    scene = UnicodeAttribute(null=True)  # WeCom State, or the official account's EventKey
    welcome_code = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute(null=True)  # subscription-message consent: the template answered
    consent = UnicodeAttribute(null=True)  # accept | reject
    sent_at = NumberAttribute()  # the platform's CreateTime
    received_at = UnicodeAttribute()


class PlatformConsentItem(Item, discriminator="platform_consent"):
    """The sends a follower allows of one subscription-message template (`PCONSENT#{tid}#{openid}` / `TPL#{template}`):
    each accepted popup adds one credit, once per consent event (`grants` holds their digests); a send takes one."""

    credits = NumberAttribute(default=0)
    grants = UnicodeSetAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class PlatformSenderItem(Item, discriminator="platform_sender"):
    """The WeCom staff member who added an external contact (`T#{tid}` / `PSENDER#wecom#{external_userid}`): who a
    customer message is sent as."""

    staff = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class PlatformContactItem(Item, discriminator="platform_contact"):
    """A platform user seen for a tenant (`T#{tid}` / `PCONTACT#{platform}#{user}`): decides "new contacts only"."""

    tid = UnicodeAttribute()
    first_event = UnicodeAttribute()  # the digest of the add that first made them a contact
    first_seen = UnicodeAttribute()
    code = UnicodeAttribute(null=True)  # the participant this contact joined as, and who invited them
    inviter = UnicodeAttribute(null=True)
    welcomed = UnicodeAttribute(null=True)  # the digest of the add whose welcome message was sent


class FollowPendingItem(Item, discriminator="follow_pending"):
    """A follow qualification waiting out the retention window (`P#{inviter}` / `FOLLOWPENDING#{newcomer}`),
    filed under the day it falls due (GSI2) while pending."""

    cid = UnicodeAttribute()
    inviter = UnicodeAttribute()
    newcomer = UnicodeAttribute()
    due = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | settling | counted | cancelled
    created_at = UnicodeAttribute()


class ChurnScoreItem(Item, discriminator="churn_score"):
    """A person's latest churn score (`T#{tid}#U#{uid}` / `CHURN`), by risk in GSI1 (`T#{tid}#CHURN`)."""

    tid = UnicodeAttribute()
    uid = UnicodeAttribute()
    risk = NumberAttribute()
    level = UnicodeAttribute()  # low | medium | high
    top = JSONAttribute()  # the largest contributions: [{"feature", "raw", "contribution"}]
    scored_on = UnicodeAttribute()  # the tenant's local day of the run
    scored_at = UnicodeAttribute()


class ChurnRunItem(Item, discriminator="churn_run"):
    """A tenant's daily churn run (`T#{tid}` / `CHURN_RUN`), listed in GSI2 (`CHURN#TENANTS`) for the job.

    `cursor` resumes the profile walk of the run of `day` (None when done); `counts` are that run's levels so
    far, `last_counts` those of the last finished run. `version` guards every save."""

    tid = UnicodeAttribute()
    day = UnicodeAttribute(null=True)
    cursor = UnicodeAttribute(null=True)
    batch = NumberAttribute(default=0)
    counts = JSONAttribute(null=True)
    done = BooleanAttribute(default=False)
    started_at = UnicodeAttribute(null=True)
    last_day = UnicodeAttribute(null=True)
    last_counts = JSONAttribute(null=True)
    last_finished_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class ChurnSnapshotItem(Item, discriminator="churn_snapshot"):
    """One batch of a day's feature snapshots (`T#{tid}#CHS#{day}` / `B#{batch}`): uid -> compact row."""

    tid = UnicodeAttribute()
    day = UnicodeAttribute()
    at = UnicodeAttribute()
    rows = JSONAttribute()


class ChurnModelItem(Item, discriminator="churn_model"):
    """A tenant's calibrated weights, when a calibration was accepted, and its last calibration (`T#{tid}` /
    `CHURN_MODEL`)."""

    tid = UnicodeAttribute()
    weights = JSONAttribute(null=True)
    calibration = JSONAttribute(null=True)
    updated_at = UnicodeAttribute()


class ChurnSettingsItem(Item, discriminator="churn_settings"):
    """A tenant's churn thresholds and alert level (`T#{tid}` / `CHURN_SETTINGS`)."""

    tid = UnicodeAttribute()
    settings = JSONAttribute()
    updated_at = UnicodeAttribute()


ALL_MODELS: tuple[type[Item], ...] = (
    Item,
    TenantItem,
    LoginItem,
    OperatorItem,
    OperatorTotpItem,
    LoginAttemptsItem,
    IdentityKeyItem,
    DomainItem,
    ApiKeyItem,
    ProofItem,
    AuditEntryItem,
    AuditHeadItem,
    CampaignItem,
    ParticipantItem,
    RewardItem,
    CouponCodeItem,
    CounterItem,
    LeaderboardItem,
    AssistItem,
    HelpCountItem,
    GroupItem,
    MemberItem,
    ClickItem,
    RiskWindowItem,
    RiskPersonItem,
    ReviewItem,
    SecretItem,
    WebhookItem,
    OutboxItem,
    OutboxMarkerItem,
    ExportItem,
    ProfileItem,
    ProfileTagItem,
    BirthdayItem,
    TagDefinitionItem,
    SegmentItem,
    AutomationItem,
    AutomationJobItem,
    MessageItem,
    MessagingSettingsItem,
    MessageCapItem,
    SubscriptionItem,
    PlatformCredentialsItem,
    PlatformTokenItem,
    PlatformLeaseItem,
    PlatformCodeItem,
    PlatformCodeCountItem,
    PlatformEventItem,
    PlatformConsentItem,
    PlatformSenderItem,
    PlatformContactItem,
    FollowPendingItem,
    ChurnScoreItem,
    ChurnRunItem,
    ChurnSnapshotItem,
    ChurnModelItem,
    ChurnSettingsItem,
)


def bind(table_name: str, *, region: str, endpoint: str | None) -> None:
    """Point every model at the table; forget cached connections."""
    Item.Meta.table_name = table_name
    Item.Meta.region = region
    Item.Meta.host = endpoint
    if endpoint:
        # DynamoDB Local accepts any credentials; give it some so none are looked up.
        Item.Meta.aws_access_key_id = "local"
        Item.Meta.aws_secret_access_key = "local"
    else:
        Item.Meta.aws_access_key_id = None
        Item.Meta.aws_secret_access_key = None
    for model in ALL_MODELS:
        model._connection = None
