"""PII at rest: authenticated encryption bound to a context, blind indexes, phone normalisation and masking."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from chalicelib.security.pii import PiiCipher, get_cipher, mask_name, mask_phone, normalize_phone

KEY = bytes(range(32))
CONTEXT = "operator:t1:boss@shop.local:phone"


@pytest.fixture
def cipher() -> PiiCipher:
    return PiiCipher(KEY)


def test_encrypted_value_decrypts_to_the_original(cipher: PiiCipher) -> None:
    token = cipher.encrypt("13812341234", CONTEXT)

    assert token.startswith("v1.")
    assert "13812341234" not in token
    assert cipher.decrypt(token, CONTEXT) == "13812341234"


def test_unicode_values_round_trip(cipher: PiiCipher) -> None:
    assert cipher.decrypt(cipher.encrypt("张三丰", CONTEXT), CONTEXT) == "张三丰"


def test_ciphertext_copied_to_another_context_does_not_decrypt(cipher: PiiCipher) -> None:
    # GIVEN a phone number encrypted for one operator's phone field
    token = cipher.encrypt("13812341234", CONTEXT)

    # WHEN it is read back as another operator's (or another field's) value THEN authentication fails
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, "operator:t1:ops@shop.local:phone")
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, "operator:t1:boss@shop.local:name")


def test_ciphertext_does_not_decrypt_under_another_key(cipher: PiiCipher) -> None:
    token = cipher.encrypt("13812341234", CONTEXT)

    with pytest.raises(InvalidTag):
        PiiCipher(os.urandom(32)).decrypt(token, CONTEXT)


def test_tampered_ciphertext_does_not_decrypt(cipher: PiiCipher) -> None:
    token = cipher.encrypt("13812341234", CONTEXT)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    with pytest.raises(InvalidTag):
        cipher.decrypt(flipped, CONTEXT)


def test_unknown_ciphertext_version_is_refused(cipher: PiiCipher) -> None:
    token = cipher.encrypt("13812341234", CONTEXT)

    with pytest.raises(ValueError, match="unknown PII ciphertext version"):
        cipher.decrypt("v9" + token[2:], CONTEXT)


def test_two_encryptions_of_the_same_value_differ(cipher: PiiCipher) -> None:
    assert cipher.encrypt("13812341234", CONTEXT) != cipher.encrypt("13812341234", CONTEXT)


def test_blind_index_is_deterministic(cipher: PiiCipher) -> None:
    first = cipher.blind_index("13812341234", "phone")

    assert first == cipher.blind_index("13812341234", "phone")
    assert first == PiiCipher(KEY).blind_index("13812341234", "phone")
    assert len(first) == 40
    assert "13812341234" not in first


def test_blind_index_differs_per_value_purpose_and_key(cipher: PiiCipher) -> None:
    base = cipher.blind_index("13812341234", "phone")

    assert cipher.blind_index("13812341235", "phone") != base
    assert cipher.blind_index("13812341234", "participant") != base
    assert PiiCipher(os.urandom(32)).blind_index("13812341234", "phone") != base


def test_blind_index_does_not_confuse_purpose_and_value_boundaries(cipher: PiiCipher) -> None:
    assert cipher.blind_index("b", "a") != cipher.blind_index("", "ab")


def test_get_cipher_uses_the_local_keyring_and_is_stable(secrets_dir: object) -> None:
    token = get_cipher().encrypt("13812341234", CONTEXT)

    get_cipher.cache_clear()

    assert get_cipher().decrypt(token, CONTEXT) == "13812341234"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-1234-1234", "13812341234"),
        ("+8613812341234", "13812341234"),
        ("8613812341234", "13812341234"),
        ("138 1234 1234", "13812341234"),
        ("  13812341234  ", "13812341234"),
        ("+1 415 555 0100", "14155550100"),
    ],
)
def test_normalize_phone_keeps_digits_and_drops_the_mainland_prefix(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "", "138-1234-ABCD", "12345", "1" * 21, "(138) 1234 1234", "++8613812341234"])
def test_normalize_phone_rejects_what_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        normalize_phone(raw)


def test_mask_phone_shows_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_mask_phone_keeps_only_the_last_two_digits_of_a_short_number() -> None:
    assert mask_phone("123456") == "****56"


def test_mask_phone_never_reveals_every_digit_of_a_seven_digit_number() -> None:
    # GIVEN a 7-digit local number, which normalize_phone accepts
    phone = normalize_phone("555 0100")
    assert phone == "5550100"

    # WHEN it is masked THEN at least one digit is hidden
    visible = [ch for ch in mask_phone(phone) if ch.isdigit()]
    assert len(visible) < len(phone)


def test_mask_name_keeps_the_first_character_and_the_length() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("Alice") == "A****"
    assert mask_name("") == ""


def test_mask_name_hides_a_one_character_name_whole() -> None:
    assert mask_name("李") == "*"
    assert mask_name("A") == "*"
    assert mask_name("李白") == "李*"
