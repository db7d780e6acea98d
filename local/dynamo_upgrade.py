"""Upgrades a database file written by DynamoDB Local 1.x (1.11.478 checked) so that 3.x can write to it.

DynamoDB Local keeps each stream's settings as JSON in its SQLite file (table `sm`, column `StreamInfo`).
1.x wrote the keys in camel case (`streamViewType`, `keySchema`); 3.x reads only `StreamViewType` and
`KeySchema`, so on an older file it fails every write to a table with a stream (an `InternalFailure` whose
log says `streamViewType` is null). Items, GSIs, TTL settings and unread stream records are read as they
are. Renaming the two keys is the whole upgrade; it is idempotent and runs while DynamoDB Local is stopped.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

DATABASE = "shared-local-instance.db"  # the one file of `-sharedDb`
_RENAMED = {"streamViewType": "StreamViewType", "keySchema": "KeySchema"}


def _upgraded(info: bytes | str) -> bytes | None:
    """The stream settings with the keys 3.x reads, or None when they have them already."""
    settings = json.loads(info)
    if not isinstance(settings, dict) or not any(old in settings for old in _RENAMED):
        return None
    fixed = {_RENAMED.get(key, key): value for key, value in settings.items()}
    return json.dumps(fixed, separators=(",", ":")).encode()


def upgrade(db_path: Path) -> int:
    """Rewrites the stream settings of the database under `db_path`; returns how many it changed."""
    database = db_path / DATABASE
    if not database.exists():
        return 0
    with closing(sqlite3.connect(database)) as conn, conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sm'").fetchone() is None:
            return 0
        changed = [
            (fixed, stream_id)
            for stream_id, info in conn.execute("SELECT StreamID, StreamInfo FROM sm")
            if info is not None and (fixed := _upgraded(info)) is not None
        ]
        conn.executemany("UPDATE sm SET StreamInfo = ? WHERE StreamID = ?", changed)
    return len(changed)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".data/dynamodb")
    print(f"{folder / DATABASE}: {upgrade(folder)} stream setting(s) upgraded")
