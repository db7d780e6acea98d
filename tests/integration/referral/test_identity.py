"""Participant identity: the attacks a known user id and a public campaign id used to allow, replayed
against signed and anonymous campaigns; identity keys and their rotation; tokens that can be revoked."""

from __future__ import annotations

from typing import Any

import pytest

from local.pump import StreamPump
from tests.conftest import (
    IDENTITY_KEYS,
    Api,
    Clock,
    Tenant,
    campaign_body,
    identity_key,
    join,
    live_campaign,
    proof,
    sign_assertion,
)
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

ADDRESS = {"name": "王小明", "phone": "13812345678", "province": "上海市", "city": "上海市", "line": "漕溪北路 88 号"}


def participants(cid: str) -> str:
    return f"/v1/campaigns/{cid}/participants"


def anonymous_campaign(api: Api, tenant: Tenant, mode: str = "invite", **overrides: Any) -> str:
    return live_campaign(api, tenant, mode, identity={"mode": "anonymous"}, **overrides)


def gift_campaign(api: Api, tenant: Tenant, **overrides: Any) -> str:
    gift = {"type": "gift", "name": "保温杯", "value_fen": 3000}
    return live_campaign(api, tenant, rules={"milestones": [{"invites": 1, "reward": gift}]}, **overrides)


def earn_gift(api: Api, cid: str, pump: StreamPump, inviter: dict[str, Any]) -> str:
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    rewards = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]["rewards"]
    return str(rewards[0]["id"])


# ---- signed campaigns (the default) ---------------------------------------------------------------


def test_a_new_campaign_is_signed_and_its_public_view_says_so(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    assert api.call("GET", f"/v1/campaigns/{cid}/public")[1]["identity"] == {"mode": "signed", "platform": None}


def test_a_known_user_id_alone_gets_no_participant_and_no_oracle(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    victim = join(api, cid, external_id="member-victim")[1]
    for who in ("member-victim", "member-never-joined"):
        status, body = api.call("POST", participants(cid), {"external_id": who})
        assert (status, body["error"]["code"]) == (401, "IDENTITY_REQUIRED"), who
        assert "token" not in body and victim["invite_code"] not in str(body)


def test_a_forged_or_foreign_assertion_is_refused(api: Api, tenant: Tenant, new_tenant: Any) -> None:
    cid = live_campaign(api, tenant)
    join(api, cid, external_id="member-victim")
    forged = sign_assertion(
        tenant.tid, "member-victim", key=(identity_key(tenant.tid)[0], "a-guess-of-32-bytes-or-more-xx")
    )
    other = new_tenant()
    foreign = sign_assertion(other.tid, "member-victim")  # another merchant's key and issuer
    expired = sign_assertion(tenant.tid, "member-victim", issued_at=1_700_000_000)
    for assertion, code in ((forged, "ASSERTION_SIGNATURE"), (foreign, "ASSERTION_KEY_UNKNOWN"),
                            (expired, "ASSERTION_EXPIRED")):  # fmt: skip
        status, body = api.call("POST", participants(cid), {"assertion": assertion})
        assert (status, body["error"]["code"]) == (401, code)


def test_the_proven_user_gets_their_own_participant_back(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    first = join(api, cid, external_id="member-7", nickname="小七")
    again = api.call("POST", participants(cid), {"assertion": sign_assertion(tenant.tid, "member-7")})
    assert (first[0], again[0]) == (201, 200)
    assert again[1]["invite_code"] == first[1]["invite_code"] and again[1]["token"]
    mismatch = {"external_id": "member-8", "assertion": sign_assertion(tenant.tid, "member-7")}
    status, body = api.call("POST", participants(cid), mismatch)
    assert (status, body["error"]["code"]) == (422, "EXTERNAL_ID_MISMATCH")


def test_the_assertions_profile_wins_over_the_body(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    assertion = sign_assertion(tenant.tid, "member-9", nickname="王小九")
    status, body = api.call("POST", participants(cid), {"assertion": assertion, "nickname": "spoofed"})
    assert status == 201
    from chalicelib.referral import identity

    stored = identity.by_code(body["invite_code"])
    assert stored is not None and stored.nickname == "王小九"


def test_a_leaked_token_cannot_claim_a_gift_to_another_address_export_or_erase(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = gift_campaign(api, tenant)
    victim = join(api, cid, external_id="member-victim", phone="13900139000")[1]
    rid = earn_gift(api, cid, pump, victim)
    token = victim["token"]
    claim = {"address": ADDRESS}
    for method, path, body in (("POST", f"/v1/rewards/{rid}/claim", claim), ("POST", "/v1/me/export", None),
                               ("DELETE", "/v1/me", None)):  # fmt: skip
        status, answer = api.call(method, path, body, token=token)
        assert (status, answer["error"]["code"]) == (401, "PROOF_REQUIRED"), path
        someone_else = {"X-Fission-Assertion": sign_assertion(tenant.tid, "member-attacker")}
        status, answer = api.call(method, path, body, token=token, headers=someone_else)
        assert (status, answer["error"]["code"]) == (403, "PROOF_MISMATCH"), path
    # The victim themselves, with a fresh assertion, can.
    assert api.call("POST", f"/v1/rewards/{rid}/claim", claim, token=token, headers=proof(api, token))[0] == 200
    exported = api.call("POST", "/v1/me/export", token=token, headers=proof(api, token))[1]
    assert exported["participant"]["phone"] == "13900139000"


def test_an_assertion_older_than_fifteen_minutes_proves_nothing(api: Api, tenant: Tenant) -> None:
    """An assertion lives at most 15 minutes, so any that verifies is fresh enough; older ones do not."""
    cid = live_campaign(api, tenant)
    victim = join(api, cid, external_id="member-old")[1]
    old = {"X-Fission-Assertion": sign_assertion(tenant.tid, "member-old", issued_at=_now() - 960, lifetime=900 + 120)}
    status, answer = api.call("POST", "/v1/me/export", token=victim["token"], headers=old)
    assert (status, answer["error"]["code"]) == (401, "ASSERTION_LIFETIME")
    older = {"X-Fission-Assertion": sign_assertion(tenant.tid, "member-old", issued_at=_now() - 901, lifetime=900)}
    status, answer = api.call("POST", "/v1/me/export", token=victim["token"], headers=older)
    assert (status, answer["error"]["code"]) == (401, "ASSERTION_EXPIRED")


def test_nobody_can_pre_bind_someone_elses_commission(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant, "distribution")
    attacker = join(api, cid, external_id="member-attacker")[1]
    status, _ = api.call("POST", participants(cid), {"external_id": "member-buyer", "ref": attacker["invite_code"]})
    assert status == 401
    buyer = join(api, cid, external_id="member-buyer")[1]  # the buyer's own page, no ref
    assert buyer["invited_by"] is None
    status, recorded = post_order(api, tenant, secret(api, tenant), order(cid, "member-buyer", "o-1"))
    assert status == 200 and recorded["commissions"] == []


# ---- anonymous campaigns --------------------------------------------------------------------------


def test_an_anonymous_campaign_takes_no_id_and_mints_one_per_visitor(api: Api, tenant: Tenant) -> None:
    cid = anonymous_campaign(api, tenant)
    status, body = api.call("POST", participants(cid), {"external_id": "member-victim"})
    assert (status, body["error"]["code"]) == (422, "EXTERNAL_ID_NOT_ALLOWED")
    one, two = (api.call("POST", participants(cid), {}) for _ in range(2))
    assert one[0] == two[0] == 201 and one[1]["invite_code"] != two[1]["invite_code"]
    back = api.call("POST", participants(cid), {}, token=one[1]["token"])
    assert back[0] == 200 and back[1]["invite_code"] == one[1]["invite_code"]


def test_the_attacks_of_a_known_id_fail_in_an_anonymous_campaign(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    """The attacks a known user id allowed, replayed where Fission mints the identity: an attacker who knows
    the campaign and the victim's id or invite code gets no token, no reward, no PII, no erasure, no binding
    and no oracle, since every way in without the victim's token makes the attacker someone new."""
    cid = gift_campaign(api, tenant, identity={"mode": "anonymous"})
    victim = join(api, cid, phone="13900139000")[1]
    rid = earn_gift(api, cid, pump, victim)
    for body in ({"external_id": "member-victim"}, {"external_id": "member-never-joined"},
                 {"external_id": "member-victim", "ref": victim["invite_code"]}):  # fmt: skip
        assert api.call("POST", participants(cid), body) == api.call("POST", participants(cid), body)
        status, answer = api.call("POST", participants(cid), body)
        assert (status, answer["error"]["code"]) == (422, "EXTERNAL_ID_NOT_ALLOWED") and "token" not in answer
    status, attacker = join(api, cid, ref=victim["invite_code"])
    assert status == 201 and attacker["invite_code"] != victim["invite_code"]  # a new identity, bound to nobody else
    token = attacker["token"]
    assert api.call("GET", f"/v1/campaigns/{cid}/me", token=token)[1]["rewards"] == []
    claimed = api.call("POST", f"/v1/rewards/{rid}/claim", {"address": ADDRESS}, token=token, headers=proof(api, token))
    assert claimed[0] in (403, 404) and "token" not in claimed[1]
    exported = api.call("POST", "/v1/me/export", token=token, headers=proof(api, token))
    assert exported[0] == 200 and "13900139000" not in str(exported[1])
    assert api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))[0] == 200
    mine = api.call("GET", f"/v1/campaigns/{cid}/me", token=victim["token"])
    assert mine[0] == 200 and [r["id"] for r in mine[1]["rewards"]] == [rid]
    assert api.call("POST", f"/v1/rewards/{rid}/claim", {"address": ADDRESS}, token=victim["token"],
                    headers=proof(api, victim["token"]))[0] == 200  # fmt: skip


def test_an_anonymous_participant_proves_sensitive_acts_with_a_one_time_proof(api: Api, tenant: Tenant) -> None:
    cid = anonymous_campaign(api, tenant)
    token = api.call("POST", participants(cid), {"phone": "13700137000"})[1]["token"]
    status, body = api.call("POST", "/v1/me/export", token=token)
    assert (status, body["error"]["code"]) == (401, "PROOF_REQUIRED")
    code = api.call("POST", f"/v1/campaigns/{cid}/me/proof", token=token)[1]["proof"]
    exported = api.call("POST", "/v1/me/export", token=token, headers={"X-Fission-Proof": code})
    assert exported[0] == 200 and exported[1]["participant"]["phone"] == "13700137000"
    again = api.call("POST", "/v1/me/export", token=token, headers={"X-Fission-Proof": code})
    assert (again[0], again[1]["error"]["code"]) == (401, "PROOF_REQUIRED")  # good once


def test_a_proof_expires_after_five_minutes(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = anonymous_campaign(api, tenant)
    token = api.call("POST", participants(cid), {})[1]["token"]
    code = api.call("POST", f"/v1/campaigns/{cid}/me/proof", token=token)[1]["proof"]
    clock.advance(seconds=301)
    status, body = api.call("DELETE", "/v1/me", token=token, headers={"X-Fission-Proof": code})
    assert (status, body["error"]["code"]) == (401, "PROOF_REQUIRED")


# ---- tokens ---------------------------------------------------------------------------------------


def test_sign_out_everywhere_revokes_every_token(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    first = join(api, cid, external_id="member-out")[1]["token"]
    second = api.call("POST", participants(cid), {"assertion": sign_assertion(tenant.tid, "member-out")})[1]["token"]
    assert api.call("POST", f"/v1/campaigns/{cid}/me/sign-out", token=second)[0] == 200
    for token in (first, second):
        status, body = api.call("GET", f"/v1/campaigns/{cid}/me", token=token)
        assert (status, body["error"]["code"]) == (401, "PARTICIPANT_TOKEN_REVOKED")
    fresh = api.call("POST", participants(cid), {"assertion": sign_assertion(tenant.tid, "member-out")})[1]["token"]
    assert api.call("GET", f"/v1/campaigns/{cid}/me", token=fresh)[0] == 200


def test_erasure_revokes_the_token_yet_a_repeat_answers_the_same(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    token = join(api, cid, external_id="member-gone")[1]["token"]
    status, body = api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))
    assert status == 200
    assert api.call("DELETE", "/v1/me", token=token) == (200, body)
    assert api.call("GET", f"/v1/campaigns/{cid}/me", token=token)[0] == 410


# ---- identity keys ----------------------------------------------------------------------------------


def test_identity_keys_are_shown_once_rotate_with_overlap_and_retire(api: Api, tenant: Tenant) -> None:
    from chalicelib.accounts import identity_keys

    cid = live_campaign(api, tenant)
    status, old = api.call("POST", "/v1/admin/identity-keys", token=tenant.stepped_token())
    assert status == 201 and old["secret"] and old["algorithm"] == "HS256" and old["issuer"] == tenant.tid
    status, new = api.call("POST", "/v1/admin/identity-keys", token=tenant.stepped_token())
    listed = api.call("GET", "/v1/admin/identity-keys", token=tenant.owner_token)[1]["items"]
    assert {k["key_id"] for k in listed} == {old["key_id"], new["key_id"]} and "secret" not in str(listed)
    for key in (old, new):  # overlap: both verify
        assertion = sign_assertion(tenant.tid, "member-r", key=(key["key_id"], key["secret"]))
        assert api.call("POST", participants(cid), {"assertion": assertion})[0] in (200, 201)
    retired = api.call("POST", f"/v1/admin/identity-keys/{old['key_id']}/retire", token=tenant.stepped_token())
    assert retired == (200, {**retired[1], "status": "retired"}) and retired[1]["retired_at"]
    identity_keys.forget()  # the other containers' caches let go within KEY_CACHE_SECONDS
    stale = sign_assertion(tenant.tid, "member-r", key=(old["key_id"], old["secret"]))
    status, body = api.call("POST", participants(cid), {"assertion": stale})
    assert (status, body["error"]["code"]) == (401, "ASSERTION_KEY_RETIRED")
    status, body = api.call("POST", "/v1/admin/identity-keys/idk_missing/retire", token=tenant.stepped_token())
    assert (status, body["error"]["code"]) == (404, "IDENTITY_KEY_NOT_FOUND")
    actions = [e["action"] for e in api.call("GET", "/v1/admin/audit", token=tenant.owner_token)[1]["items"]]
    assert actions.count("identity_key.create") == 2 and actions.count("identity_key.retire") == 1


def test_identity_keys_are_stored_encrypted_and_for_owners_only(api: Api, tenant: Tenant) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    status, made = api.call("POST", "/v1/admin/identity-keys", token=tenant.stepped_token())
    assert status == 201
    stored = db.dynamodb_client().get_item(
        TableName=get_settings().table_name,
        Key={"PK": {"S": f"T#{tenant.tid}"}, "SK": {"S": f"IDKEY#{made['key_id']}"}},
    )["Item"]
    assert made["secret"] not in str(stored)
    operator = tenant.operator("operator")
    for method, path in (("GET", "/v1/admin/identity-keys"), ("POST", "/v1/admin/identity-keys")):
        assert api.call(method, path, token=operator)[0] == 403


def test_at_most_three_identity_keys_are_active(api: Api, tenant: Tenant) -> None:
    IDENTITY_KEYS.pop(tenant.tid, None)
    for _ in range(3):
        assert api.call("POST", "/v1/admin/identity-keys", token=tenant.stepped_token())[0] == 201
    status, body = api.call("POST", "/v1/admin/identity-keys", token=tenant.stepped_token())
    assert (status, body["error"]["code"]) == (409, "TOO_MANY_IDENTITY_KEYS")


# ---- platform identity ---------------------------------------------------------------------------


def test_a_platform_campaign_needs_a_platform_login_fission_has(api: Api, tenant: Tenant) -> None:
    body = campaign_body(identity={"mode": "platform", "platform": "alipay"})
    status, answer = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 422 and "no platform login" in str(answer)


def test_a_platform_assertion_verifies_only_with_fissions_own_key(tenant: Tenant) -> None:
    from chalicelib.core.errors import Unauthorized
    from chalicelib.http import request as http
    from chalicelib.referral import identity
    from chalicelib.security import assertions

    now = http.now()
    minted = identity.mint_platform_assertion("wechat", "openid-o6_bmjr", now, {"nickname": "微信用户"})
    verified = assertions.verify(minted, identity.platform_issuer("wechat"), identity.platform_keys("wechat"), now)
    assert (verified.subject, verified.profile) == ("openid-o6_bmjr", {"nickname": "微信用户"})
    with pytest.raises(Unauthorized):  # another platform's login cannot vouch here
        assertions.verify(minted, identity.platform_issuer("alipay"), identity.platform_keys("alipay"), now)


def _now() -> int:
    from chalicelib.http import request as http

    return int(http.now().timestamp())
