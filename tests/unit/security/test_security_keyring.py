"""Secret keys: 0600 files created once in dev; KMS data keys generated once, stored wrapped and cached."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from chalicelib.security.keyring import KEY_BYTES, FileKeyring, KmsKeyring, get_keyring


def test_file_keyring_creates_a_32_byte_key_file_readable_only_by_its_owner(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"

    key = FileKeyring(folder).secret("pii")

    path = folder / "pii.key"
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_text()) == key


def test_file_keyring_returns_the_same_key_on_later_calls_and_instances(tmp_path: Path) -> None:
    first = FileKeyring(tmp_path).secret("token")
    path = tmp_path / "token.key"
    written = path.stat().st_mtime_ns

    assert FileKeyring(tmp_path).secret("token") == first
    assert FileKeyring(tmp_path).secret("token") == first
    assert path.stat().st_mtime_ns == written


def test_concurrent_first_uses_of_a_file_key_all_get_the_one_key_written(tmp_path: Path) -> None:
    for round_ in range(10):  # a race: several fresh folders make a regression show reliably
        folder = tmp_path / str(round_)
        keyring = FileKeyring(folder)
        with ThreadPoolExecutor(max_workers=16) as pool:
            keys = set(pool.map(FileKeyring.secret, [keyring] * 64, ["racy"] * 64))

        assert len(keys) == 1
        assert sorted(p.name for p in folder.iterdir()) == ["racy.key"]


def test_file_keyring_keeps_one_key_per_name(tmp_path: Path) -> None:
    keyring = FileKeyring(tmp_path)

    assert keyring.secret("pii") != keyring.secret("token")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pii.key", "token.key"]


def test_file_keyring_refuses_a_key_file_of_the_wrong_size(tmp_path: Path) -> None:
    (tmp_path / "pii.key").write_text(base64.b64encode(b"short").decode())

    with pytest.raises(RuntimeError, match="32-byte key"):
        FileKeyring(tmp_path).secret("pii")


def test_get_keyring_is_a_file_keyring_in_the_secrets_dir_outside_the_cloud(secrets_dir: Path) -> None:
    keyring = get_keyring()

    assert isinstance(keyring, FileKeyring)
    keyring.secret("pii")
    assert (secrets_dir / "pii.key").exists()


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_get_keyring_refuses_local_keys_in_cloud_stages(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    monkeypatch.setenv("FISSION_STAGE", stage)

    with pytest.raises(RuntimeError, match="FISSION_KMS_KEY_ID is required"):
        get_keyring()


class FakeKms:
    """generate_data_key and decrypt, with each plaintext recoverable only from its blob and context."""

    def __init__(self) -> None:
        self.generated = 0
        self.decrypted = 0
        self._plain: dict[tuple[bytes, str], bytes] = {}

    def make(self, plaintext: bytes, context: str) -> bytes:
        blob = b"wrapped:" + plaintext.hex().encode()
        self._plain[(blob, context)] = plaintext
        return blob

    def generate_data_key(self, *, KeyId: str, KeySpec: str, EncryptionContext: dict[str, str]) -> dict[str, Any]:  # noqa: N803
        assert (KeyId, KeySpec) == ("alias/fission", "AES_256")
        self.generated += 1
        plaintext = bytes([self.generated]) * KEY_BYTES
        blob = self.make(plaintext, EncryptionContext["fission:key"])
        return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": KeyId}

    def decrypt(self, *, CiphertextBlob: bytes, EncryptionContext: dict[str, str]) -> dict[str, Any]:  # noqa: N803
        self.decrypted += 1
        return {"Plaintext": self._plain[(CiphertextBlob, EncryptionContext["fission:key"])]}


class MemoryKeyStore:
    """An in-memory WrappedKeyStore; `rival` simulates another container winning the first write."""

    def __init__(self, rival: bytes | None = None) -> None:
        self.items: dict[str, bytes] = {}
        self.rival = rival

    def get(self, name: str) -> bytes | None:
        return self.items.get(name)

    def put_if_absent(self, name: str, ciphertext: bytes) -> bytes:
        if self.rival is not None:
            self.items.setdefault(name, self.rival)
        return self.items.setdefault(name, ciphertext)


def test_kms_keyring_generates_a_data_key_once_and_stores_it_wrapped() -> None:
    kms, store = FakeKms(), MemoryKeyStore()

    key = KmsKeyring(kms, "alias/fission", store).secret("pii")

    assert len(key) == KEY_BYTES
    assert kms.generated == 1
    assert store.items["pii"] != key
    assert kms.decrypt(CiphertextBlob=store.items["pii"], EncryptionContext={"fission:key": "pii"})["Plaintext"] == key


def test_kms_keyring_caches_the_plain_key_per_container() -> None:
    kms = FakeKms()
    keyring = KmsKeyring(kms, "alias/fission", MemoryKeyStore())
    first = keyring.secret("pii")
    calls = (kms.generated, kms.decrypted)

    assert keyring.secret("pii") == first
    assert (kms.generated, kms.decrypted) == calls


def test_kms_keyring_in_a_new_container_unwraps_the_stored_key_without_generating() -> None:
    kms, store = FakeKms(), MemoryKeyStore()
    first = KmsKeyring(kms, "alias/fission", store).secret("token")

    again = KmsKeyring(kms, "alias/fission", store).secret("token")

    assert again == first
    assert kms.generated == 1


def test_kms_keyring_uses_the_winners_key_when_it_loses_the_race_to_store() -> None:
    # GIVEN another container stored its wrapped key between our get and our put
    kms = FakeKms()
    winner = bytes([0xAB]) * KEY_BYTES
    store = MemoryKeyStore(rival=kms.make(winner, "pii"))

    # WHEN this container creates the key
    key = KmsKeyring(kms, "alias/fission", store).secret("pii")

    # THEN it uses the winner's key, not the one it generated
    assert key == winner
    assert kms.generated == 1


def test_kms_keyring_keeps_one_key_per_name() -> None:
    keyring = KmsKeyring(FakeKms(), "alias/fission", MemoryKeyStore())

    assert keyring.secret("pii") != keyring.secret("token")
