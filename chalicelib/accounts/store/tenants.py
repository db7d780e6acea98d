"""Tenants, their operators and the email -> tenant login pointer."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.accounts.rules.operators import Operator
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.core.rbac import Role
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import Item, LoginItem, OperatorItem, TenantItem


def _operator_item(op: Operator) -> OperatorItem:
    return OperatorItem(
        PK=keys.tenant_pk(op.tid),
        SK=keys.operator_sk(op.email),
        tid=op.tid,
        email=op.email,
        role=op.role.value,
        password_hash=op.password_hash,
        name_enc=op.name_enc,
        phone_enc=op.phone_enc,
        phone_hash=op.phone_hash,
        disabled=op.disabled,
        token_version=op.token_version,
        version=op.version,
        created_at=op.created_at,
        updated_at=op.updated_at,
    )


def _operator(item: OperatorItem) -> Operator:
    return Operator(
        tid=item.tid,
        email=item.email,
        role=Role(item.role),
        password_hash=item.password_hash,
        name_enc=item.name_enc,
        phone_enc=item.phone_enc,
        phone_hash=item.phone_hash,
        disabled=bool(item.disabled),
        token_version=int(item.token_version),
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _login_item(op: Operator) -> LoginItem:
    return LoginItem(PK=keys.login_pk(op.email), SK=keys.META, email=op.email, tid=op.tid)


def _connection() -> Connection:
    return Item._get_connection().connection


def create_tenant(tid: str, name: str, timezone: str, created_at: str, owner: Operator) -> None:
    """Tenant, owner and login pointer in one transaction: all or nothing."""
    ensure_bound()
    tenant = TenantItem(
        PK=keys.tenant_pk(tid), SK=keys.META, tid=tid, name=name, timezone=timezone, created_at=created_at
    )
    try:
        with unavailable_on_failure("create tenant"), TransactWrite(connection=_connection()) as tx:
            tx.save(tenant, condition=TenantItem.PK.does_not_exist())
            tx.save(_operator_item(owner), condition=OperatorItem.PK.does_not_exist())
            tx.save(_login_item(owner), condition=LoginItem.PK.does_not_exist())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Conflict("the tenant or the owner's email already exists", code=Code.ALREADY_EXISTS) from exc
        raise


def get_tenant(tid: str) -> TenantItem | None:
    return get_entity(TenantItem, keys.tenant_pk(tid), keys.META)


def tenant_of_login(email: str) -> str | None:
    item = get_entity(LoginItem, keys.login_pk(email), keys.META)
    return item.tid if item is not None else None


def get_operator(tid: str, email: str, *, consistent: bool = False) -> Operator | None:
    item = get_entity(OperatorItem, keys.tenant_pk(tid), keys.operator_sk(email), consistent=consistent)
    return _operator(item) if item is not None else None


def list_operators(tid: str) -> list[Operator]:
    ensure_bound()
    with unavailable_on_failure("list operators"):
        items = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.operator_prefix()), consistent_read=True)
        return [_operator(i) for i in items if isinstance(i, OperatorItem)]


def create_operator(op: Operator) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("create operator"), TransactWrite(connection=_connection()) as tx:
            tx.save(_operator_item(op), condition=OperatorItem.PK.does_not_exist())
            tx.save(_login_item(op), condition=LoginItem.PK.does_not_exist())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Conflict(f"{op.email} is already an operator", code=Code.OPERATOR_EXISTS) from exc
        raise


def replace_operator(op: Operator, expected_version: int) -> None:
    """Write back a changed operator unless someone changed it meanwhile (optimistic lock)."""
    ensure_bound()
    try:
        with unavailable_on_failure("update operator"):
            _operator_item(op).save(condition=OperatorItem.PK.exists() & (OperatorItem.version == expected_version))
    except (PutError, UpdateError) as exc:
        if is_condition_failure(exc):
            raise Conflict("the operator changed meanwhile; reload and retry", code=Code.CONCURRENT_UPDATE) from exc
        raise


def delete_operator(op: Operator) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("delete operator"), TransactWrite(connection=_connection()) as tx:
            tx.delete(_operator_item(op), condition=OperatorItem.version == op.version)
            tx.delete(_login_item(op))
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Conflict("the operator changed meanwhile; reload and retry", code=Code.CONCURRENT_UPDATE) from exc
        raise


def rotate_hook_secret(tid: str, at: int) -> int:
    """Move the tenant to the next webhook secret version, rotated at `at` (unix seconds); returns the new version."""
    ensure_bound()
    item = TenantItem(PK=keys.tenant_pk(tid), SK=keys.META)
    with unavailable_on_failure("rotate secret"):
        item.update(
            actions=[TenantItem.hook_secret_version.add(1), TenantItem.hook_secret_rotated_at.set(at)],
            condition=TenantItem.PK.exists(),
        )
    return int(item.hook_secret_version)
