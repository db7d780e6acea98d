"""The pinned DynamoDB Local build: where it is fetched, how it is started, and old database files upgraded."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

from local import dynamo_upgrade
from local.dynamo import DEFAULT_HOME, ROOT

KEYS = [{"AttributeName": "PK", "KeyType": "HASH"}]
OLD_INFO: dict[str, object] = {"streamViewType": "NEW_AND_OLD_IMAGES", "keySchema": KEYS}
NEW_INFO: dict[str, object] = {"StreamViewType": "NEW_AND_OLD_IMAGES", "KeySchema": KEYS}


def _makefile_value(name: str) -> str:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(rf"^{name} := (.+)$", text, re.MULTILINE)
    assert found is not None, name
    return found.group(1).strip()


def test_launcher_looks_for_the_jar_where_the_makefile_fetches_it() -> None:
    version = _makefile_value("DYNAMODB_LOCAL_VERSION")
    folder = _makefile_value("DYNAMODB_LOCAL").replace("$(DYNAMODB_LOCAL_VERSION)", version)
    assert DEFAULT_HOME == ROOT / folder


def _database(folder: Path, *infos: dict[str, object]) -> Path:
    folder.mkdir()
    with closing(sqlite3.connect(folder / dynamo_upgrade.DATABASE)) as conn, conn:
        conn.execute("CREATE TABLE sm (StreamID TEXT, StreamStatus TEXT, TableName TEXT, StreamInfo BLOB)")
        conn.executemany(
            "INSERT INTO sm VALUES (?, 'ENABLED', 't', ?)",
            [(f"arn:{n}", json.dumps(info).encode()) for n, info in enumerate(infos)],
        )
    return folder


def _infos(folder: Path) -> list[object]:
    with closing(sqlite3.connect(folder / dynamo_upgrade.DATABASE)) as conn:
        return [json.loads(info) for (info,) in conn.execute("SELECT StreamInfo FROM sm ORDER BY StreamID")]


def test_upgrade_renames_the_stream_settings_an_older_build_wrote_and_only_those(tmp_path: Path) -> None:
    folder = _database(tmp_path / "dynamodb", OLD_INFO, NEW_INFO)

    assert dynamo_upgrade.upgrade(folder) == 1

    assert _infos(folder) == [NEW_INFO, NEW_INFO]


def test_upgrade_is_idempotent_and_leaves_a_missing_or_fresh_database_alone(tmp_path: Path) -> None:
    folder = _database(tmp_path / "dynamodb", OLD_INFO)
    dynamo_upgrade.upgrade(folder)

    assert dynamo_upgrade.upgrade(folder) == 0
    assert _infos(folder) == [NEW_INFO]
    assert dynamo_upgrade.upgrade(tmp_path / "absent") == 0
