"""KMS-wrapped data keys kept in the table (cloud stages)."""

from __future__ import annotations

import base64

from pynamodb.exceptions import PutError

from chalicelib.core.clock import iso, utcnow
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import SecretItem


class TableWrappedKeyStore:
    def get(self, name: str) -> bytes | None:
        item = get_entity(SecretItem, keys.system_pk("keys"), name, consistent=True)
        return base64.b64decode(item.ciphertext) if item is not None else None

    def put_if_absent(self, name: str, ciphertext: bytes) -> bytes:
        ensure_bound()
        item = SecretItem(
            PK=keys.system_pk("keys"),
            SK=name,
            name=name,
            ciphertext=base64.b64encode(ciphertext).decode(),
            created_at=iso(utcnow()),
        )
        try:
            with unavailable_on_failure("store key"):
                item.save(condition=SecretItem.PK.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            # Two cold starts raced: the first key written is the key, for everyone.
            existing = self.get(name)
            assert existing is not None
            return existing
        return ciphertext
