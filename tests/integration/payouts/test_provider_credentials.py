"""An owner connects WeChat Pay and Alipay: stored encrypted, never shown back, step-up and audit; from then on the
paying schedule's provider for the method is the tenant's own."""

from __future__ import annotations

from typing import Any

from chalicelib.payouts import providers
from chalicelib.payouts.providers.alipay import Alipay
from chalicelib.payouts.providers.wechatpay import WeChatPay
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound
from local.payments.server import PaymentsStandIn
from tests.conftest import Api, Tenant

PATH = "/v1/admin/payouts/providers"


def _audit(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    return list(api.call("GET", "/v1/admin/audit?limit=100", token=tenant.owner_token)[1]["items"])


def test_an_owner_connects_wechatpay_with_a_step_up_and_sees_no_secret_back(
    api: Api, tenant: Tenant, payments: PaymentsStandIn
) -> None:
    document = payments.wechatpay.credentials()
    assert api.call("GET", f"{PATH}/wechatpay", token=tenant.owner_token)[1]["connected"] is False
    assert providers.provider_for("wechat", tenant.tid) is None

    status, body = api.call("PUT", f"{PATH}/wechatpay", document, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    assert api.call("PUT", f"{PATH}/wechatpay", document, token=tenant.operator("finance"))[0] == 403
    status, body = api.call("PUT", f"{PATH}/wechatpay", {**document, "apiv3_key": "short"},
                            token=tenant.stepped_token())  # fmt: skip
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert api.call("PUT", f"{PATH}/paypal", document, token=tenant.stepped_token())[0] == 404
    assert api.call("PUT", f"{PATH}/alipay", document, token=tenant.stepped_token())[0] == 422  # not its shape

    status, view = api.call("PUT", f"{PATH}/wechatpay", document, token=tenant.stepped_token())
    assert status == 200 and view["connected"] and view["method"] == "wechat", view
    assert view["notify_url"].endswith(f"/v1/payouts/{tenant.tid}/wechatpay/notify")
    shown = str(view)
    for secret in (document["apiv3_key"], "PRIVATE KEY"):
        assert secret not in shown
    assert view["credentials"]["mchid"] == document["mchid"] and view["credentials"]["apiv3_key"] == "set"
    assert api.call("GET", f"{PATH}/wechatpay", token=tenant.owner_token)[1] == view

    # Stored as one ciphertext: neither the key nor the APIv3 key is in the item.
    key = {"PK": {"S": keys.tenant_pk(tenant.tid)}, "SK": {"S": keys.payout_provider_sk("wechatpay")}}
    item = dynamodb_client().get_item(TableName=ensure_bound().table_name, Key=key)["Item"]
    assert document["apiv3_key"] not in str(item) and "PRIVATE KEY" not in str(item)

    provider = providers.provider_for("wechat", tenant.tid)
    assert isinstance(provider, WeChatPay) and provider.config.mchid == document["mchid"]
    assert providers.provider_for("alipay", tenant.tid) is None  # Alipay not connected: paid by hand

    # The same again writes nothing; a change is an update with the changed fields, secrets as fingerprints.
    assert api.call("PUT", f"{PATH}/wechatpay", document, token=tenant.stepped_token())[0] == 200
    changed = {**document, "apiv3_key": "A" * 32}
    assert api.call("PUT", f"{PATH}/wechatpay", changed, token=tenant.stepped_token())[0] == 200
    entries = [e for e in _audit(api, tenant) if e["action"].startswith("payout_provider.")]
    assert [e["action"] for e in entries] == ["payout_provider.update", "payout_provider.connect"]
    assert entries[0]["details"]["changed"] == ["apiv3_key"]
    assert "A" * 32 not in str(entries) and document["apiv3_key"] not in str(entries)
    assert entries[1]["details"]["values"]["merchant_private_key"].startswith("sha256:")

    assert api.call("DELETE", f"{PATH}/wechatpay", token=tenant.owner_token)[0] == 403
    status, _ = api.call("DELETE", f"{PATH}/wechatpay", token=tenant.stepped_token())
    assert status == 204 and providers.provider_for("wechat", tenant.tid) is None
    assert _audit(api, tenant)[0]["action"] == "payout_provider.disconnect"


def test_alipay_connects_and_pays_the_alipay_method(api: Api, tenant: Tenant, payments: PaymentsStandIn) -> None:
    document = payments.alipay.credentials()
    status, view = api.call("PUT", f"{PATH}/alipay", document, token=tenant.stepped_token())
    assert status == 200 and view["credentials"]["app_id"] == document["app_id"], view
    assert view["notify_url"].endswith(f"/v1/payouts/{tenant.tid}/alipay/notify")
    assert isinstance(providers.provider_for("alipay", tenant.tid), Alipay)
    assert providers.provider_for("wechat", tenant.tid) is None


def test_the_local_seed_connects_both_fakes_once(api: Api, tenant: Tenant, payments: PaymentsStandIn) -> None:
    from datetime import UTC, datetime

    from local.demo import seed_payouts

    assert seed_payouts(tenant.tid, payments, datetime.now(UTC)) == ["wechatpay", "alipay"]
    assert seed_payouts(tenant.tid, payments, datetime.now(UTC)) == []  # `make run` again: nothing written
    assert isinstance(providers.provider_for("wechat", tenant.tid), WeChatPay)
    assert isinstance(providers.provider_for("alipay", tenant.tid), Alipay)
    connects = [e for e in _audit(api, tenant) if e["action"] == "payout_provider.connect"]
    assert len(connects) == 2 and {e["actor"] for e in connects} == {"system"}, connects
