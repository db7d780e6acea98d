"""`make run`: DynamoDB Local (persisted in .data/, supervised), the table, a demo tenant, and the whole stack."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from local import demo, dynamo_upgrade
from local.demo_shop import DemoShop
from local.dynamo import DynamoDBLocal
from local.server import WORKERS
from local.stack import ROOT, LocalStack, StackSettings
from local.supervisor import DynamoSupervisor
from local.wechat.demo import register_demo

DEMO_TENANT = "demo"


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The app's logger ("fission", Powertools) prints its own JSON lines and propagates too: the plain lines
    # are for the launcher's loggers, so the app's records are not printed twice.
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: record.name != "fission")
    port = int(os.environ.get("PORT", "8000"))
    dynamo_port = int(os.environ.get("DYNAMODB_PORT", "8001"))
    email = os.environ.get("DEMO_EMAIL", "owner@demo.fission.local")
    password = os.environ.get("DEMO_PASSWORD", "fission-demo-2026")
    data = Path(os.environ.get("DATA_DIR", ROOT / ".data")).resolve()

    stack: LocalStack | None = None
    stopped = threading.Event()
    # Explicit handlers: a shell that starts us in the background ignores SIGINT for us otherwise. Whatever
    # stops us, the finally below stops DynamoDB Local; a SIGKILL cannot be caught, and Linux then stops it
    # for us (local/dynamo.py).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopped.set())
    if dynamo_upgrade.upgrade(data / "dynamodb"):  # a database an older DynamoDB Local wrote
        print(f"upgraded the stream settings in {data / 'dynamodb'} for DynamoDB Local 3", flush=True)
    dynamo = DynamoSupervisor(DynamoDBLocal(dynamo_port, db_path=data / "dynamodb"))
    print(f"starting DynamoDB Local on port {dynamo_port} (data in {data / 'dynamodb'}) ...", flush=True)
    dynamo.start()
    try:
        stack = LocalStack(
            StackSettings(
                endpoint=dynamo.dynamo.endpoint,
                port=port,
                data_dir=data,
                batch_size=int(os.environ.get("STREAM_BATCH_SIZE", "100")),
                batching_window=float(os.environ.get("STREAM_BATCHING_WINDOW", "0.5")),
                parallelization=int(os.environ.get("STREAM_PARALLELIZATION", "8")),
                workers=int(os.environ.get("API_WORKERS", str(WORKERS))),
            )
        )
        from chalicelib.accounts.tenants import ensure_tenant
        from chalicelib.campaigns.lifecycle import upgrade_documents
        from chalicelib.core.clock import utcnow

        upgrade_documents()  # documents an older release stored as JSON text become maps
        created = ensure_tenant(DEMO_TENANT, "Demo Shop", email, password, utcnow())
        live = demo.seed(DEMO_TENANT, email, utcnow())
        shop = demo.seed_shop(DEMO_TENANT, email, stack.url, utcnow(), data / "demo-shop.json")
        if shop is not None:
            stack.server.serve_demo_shop(DemoShop(shop))
        register_demo(stack.wechat, stack.url, DEMO_TENANT)
        demo.seed_platforms(DEMO_TENANT, utcnow())  # the product side of the same corp and accounts
        demo.seed_payouts(DEMO_TENANT, stack.payments, utcnow())  # paid through the payment fakes
        stack.start()
        # The shop's campaign is signed: its landing page is the shop, not the built-in /l/.
        live = [c for c in live if shop is None or c["campaign_id"] != shop.cid]
        landing = "".join(f"  Landing      {stack.url}/l/?campaign={c['campaign_id']}  ({c['mode']})\n" for c in live)
        shop_line = f"  Demo shop    {stack.url}/demo-shop/  (campaign {shop.cid}, SDK: docs/sdk.md)\n" if shop else ""
        print(
            "\nFission is running.\n"
            f"  API          {stack.url}/v1/health\n"
            f"  Console      {stack.url}/admin/\n"
            f"{landing}"
            f"{shop_line}"
            f"  WeChat phone {stack.wechat.phone_url}  (the WeCom / WeChat stand-in: docs/wechat-local.md)\n"
            f"  Payouts      {stack.payments.url}/_local/credentials  (WeChat Pay and Alipay fakes, connected to "
            "the demo tenant: docs/payouts-local.md)\n"
            f"  Demo tenant  {DEMO_TENANT} ({'created' if created else 'already there'})\n"
            f"  Login        {email} / {password}\n"
            f"  Try          curl -s -X POST {stack.url}/v1/admin/login "
            f'-H \'content-type: application/json\' -d \'{{"email":"{email}","password":"{password}"}}\'\n'
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping ...", flush=True)
        if stack is not None:
            stack.stop()
        dynamo.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
