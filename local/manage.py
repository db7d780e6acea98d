"""Administration from a shell: `python -m local.manage create-tenant ...` against the configured table.

Locally it talks to DynamoDB Local (`FISSION_DYNAMODB_ENDPOINT`); with AWS credentials and the
deployed stage's settings (`FISSION_STAGE`, `FISSION_TABLE_NAME`, `FISSION_REGION`,
`FISSION_KMS_KEY_ID`) it provisions tenants in the cloud the same way.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-tenant", help="create a tenant and its first owner (idempotent)")
    create.add_argument("--id", required=True, help="tenant id: 3-40 lower-case letters, digits or '-'")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", help="prompted for when omitted (or FISSION_OWNER_PASSWORD)")
    seal = commands.add_parser("seal-audit", help="key a tenant's audit chain that predates the key")
    seal.add_argument("--id", required=True, help="tenant id")
    upgrade = commands.add_parser(
        "migrate-campaign-documents", help="rewrite campaign documents stored as JSON text as maps (idempotent)"
    )
    upgrade.add_argument("--dry-run", action="store_true", help="only count them")
    commands.add_parser(
        "index-open-groups",
        help="file open groups stored before groups were indexed by campaign, closing those of ended campaigns",
    )
    args = parser.parse_args(argv)

    if args.command == "index-open-groups":
        from chalicelib.core.clock import utcnow
        from chalicelib.entrypoints import wiring
        from chalicelib.modes.group_buy.service import index_open_groups

        wiring.wire()
        counts = index_open_groups(utcnow())
        print(
            f"{counts['indexed']} open group(s) filed under their campaign; {counts['closed']} closed (campaign ended)"
        )
        return 0

    if args.command == "migrate-campaign-documents":
        from chalicelib.campaigns.lifecycle import upgrade_documents

        done = upgrade_documents(dry_run=args.dry_run)
        if args.dry_run:
            print(f"{done.found} campaign document(s) stored as JSON text")
        else:
            skipped = done.found - done.rewritten
            print(f"{done.rewritten} campaign document(s) rewritten as maps; {skipped} edited or deleted meanwhile")
        return 0

    if args.command == "seal-audit":
        from chalicelib.accounts.audit import seal as seal_chain
        from chalicelib.core.clock import utcnow

        sealed = seal_chain(args.id, utcnow())
        print(f"audit chain of {args.id} {'sealed' if sealed else 'had nothing to seal (empty or already keyed)'}")
        return 0
    password = args.owner_password or os.environ.get("FISSION_OWNER_PASSWORD") or getpass.getpass("owner password: ")
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.core.clock import utcnow

    try:
        created = ensure_tenant(args.id, args.name, args.owner_email, password, utcnow())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"tenant {args.id} {'created' if created else 'already existed; owner ensured'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
