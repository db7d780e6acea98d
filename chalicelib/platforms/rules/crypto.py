"""WeChat and WeCom callback crypto (the WXBizMsgCrypt scheme), their signatures and the JS-SDK signature (pure).

One scheme serves the WeCom callbacks and the official account in safe mode (docs/wechat.md):
- `msg_signature` = hex SHA-1 of the sorted concatenation of token, timestamp, nonce and the ciphertext;
- the ciphertext is base64 of AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = the key's first 16 bytes,
  over 16 random bytes + the message's length (4 bytes, big-endian) + the message + the receive id (the WeCom corp
  id, or the official account's app id), padded PKCS#7 style to 32-byte blocks (1..32 bytes of padding).
The official account in plain mode signs only token, timestamp and nonce (`signature`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Unauthorized

BLOCK = 32  # the scheme pads to 32 bytes, not AES's 16
AES_KEY_CHARS = 43
# How far a callback's timestamp may be from our clock, either way. WeChat retries a callback 3 times within
# about 15 seconds and WeCom within about 20, and both send the original timestamp with each retry; 5 minutes
# covers those and clock skew, while a captured request cannot be replayed later.
REPLAY_WINDOW_SECONDS = 300
# The largest decrypted message accepted: callbacks are a few KB of XML.
MAX_MESSAGE_BYTES = 256 * 1024

_AES_KEY_RE = re.compile(r"^[A-Za-z0-9+/]{43}$")


class SignatureMismatch(Unauthorized):
    """The signature does not match: a forged, altered or misdirected callback."""

    def __init__(self, message: str = "the signature does not match") -> None:
        super().__init__(message, code=Code.INVALID_SIGNATURE)


class StaleTimestamp(Unauthorized):
    """The callback's timestamp is outside the replay window (or not a number)."""

    def __init__(self, message: str = "the timestamp is outside the replay window") -> None:
        super().__init__(message, code=Code.STALE_TIMESTAMP)


class BadCiphertext(BadRequest):
    """The ciphertext does not decrypt to a well-formed message: bad base64, length, padding or framing."""

    def __init__(self, message: str = "the ciphertext does not decrypt") -> None:
        super().__init__(message, code=Code.INVALID_CIPHERTEXT)


class WrongReceiver(Unauthorized):
    """The message decrypted but names another corp or app: meant for someone else."""

    def __init__(self, message: str = "the message is for another receiver") -> None:
        super().__init__(message, code=Code.WRONG_RECEIVER)


def valid_aes_key(encoding_aes_key: str) -> bool:
    """43 characters of the standard base64 alphabet that decode to 32 bytes."""
    if not _AES_KEY_RE.match(encoding_aes_key):
        return False
    try:
        return len(base64.b64decode(encoding_aes_key + "=", validate=True)) == 32
    except binascii.Error:
        return False


def aes_key(encoding_aes_key: str) -> bytes:
    if not valid_aes_key(encoding_aes_key):
        raise ValueError("an EncodingAESKey is 43 base64 characters")
    return base64.b64decode(encoding_aes_key + "=")


def _sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - the platforms' scheme


def msg_signature(token: str, timestamp: str, nonce: str, ciphertext: str) -> str:
    return _sha1_sorted(token, timestamp, nonce, ciphertext)


def plain_signature(token: str, timestamp: str, nonce: str) -> str:
    """The official account's `signature` (plain mode, and the server check of every mode)."""
    return _sha1_sorted(token, timestamp, nonce)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def check_fresh(timestamp: str, now: int, window: int = REPLAY_WINDOW_SECONDS) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise StaleTimestamp("the timestamp is not a number") from None
    if abs(now - sent) > window:
        raise StaleTimestamp()


def verify_plain(token: str, signature: str, timestamp: str, nonce: str, now: int) -> None:
    """A plain-mode official account request: fresh and correctly signed, else a typed refusal."""
    check_fresh(timestamp, now)
    if not _same(plain_signature(token, timestamp, nonce), signature):
        raise SignatureMismatch()


def verify_msg_signature(token: str, signature: str, timestamp: str, nonce: str, ciphertext: str, now: int) -> None:
    check_fresh(timestamp, now)
    if not _same(msg_signature(token, timestamp, nonce, ciphertext), signature):
        raise SignatureMismatch()


def _aes(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(encoding_aes_key: str, receive_id: str, message: str, *, random16: bytes | None = None) -> str:
    """The base64 ciphertext of `message` for `receive_id` (replies, URL verification echoes, tests)."""
    key = aes_key(encoding_aes_key)
    body = message.encode()
    plain = (random16 if random16 is not None else os.urandom(16)) + struct.pack(">I", len(body))
    plain += body + receive_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = _aes(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, receive_id: str, ciphertext: str) -> str:
    """The message inside `ciphertext`, checked to be for `receive_id`; a typed refusal otherwise."""
    key = aes_key(encoding_aes_key)
    if len(ciphertext) > MAX_MESSAGE_BYTES * 2:
        raise BadCiphertext("the ciphertext is too long")
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise BadCiphertext("the ciphertext is not base64") from None
    if not raw or len(raw) % 16:
        raise BadCiphertext("the ciphertext is not whole AES blocks")
    decryptor = _aes(key).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    pad = plain[-1]
    # Strict: 1..32 bytes, every one of them equal to the count (a wrong key almost never passes this).
    if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise BadCiphertext("the padding is wrong")
    content = plain[16:-pad]
    if len(content) < 4:
        raise BadCiphertext("the message is truncated")
    (length,) = struct.unpack(">I", content[:4])
    if length > len(content) - 4:
        raise BadCiphertext("the message length is wrong")
    body, receiver = content[4 : 4 + length], content[4 + length :]
    if not hmac.compare_digest(receiver, receive_id.encode()):
        raise WrongReceiver()
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise BadCiphertext("the message is not UTF-8") from None


def open_message(
    token: str,
    encoding_aes_key: str,
    receive_id: str,
    signature: str,
    timestamp: str,
    nonce: str,
    ciphertext: str,
    now: int,
) -> str:
    """Verify the signature and the timestamp, then decrypt: the order WeChat's reference code uses."""
    verify_msg_signature(token, signature, timestamp, nonce, ciphertext, now)
    return decrypt(encoding_aes_key, receive_id, ciphertext)


def verify_url(
    token: str,
    encoding_aes_key: str,
    receive_id: str,
    signature: str,
    timestamp: str,
    nonce: str,
    echostr: str,
    now: int,
) -> str:
    """WeCom's callback URL verification (GET): the decrypted `echostr`, which the answer must carry in plain."""
    return open_message(token, encoding_aes_key, receive_id, signature, timestamp, nonce, echostr, now)


def seal_message(
    token: str, encoding_aes_key: str, receive_id: str, message: str, timestamp: str, nonce: str
) -> tuple[str, str]:
    """An encrypted reply's ciphertext and its `msg_signature`."""
    ciphertext = encrypt(encoding_aes_key, receive_id, message)
    return ciphertext, msg_signature(token, timestamp, nonce, ciphertext)


def jsapi_signature(jsapi_ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """The JS-SDK `wx.config` signature (附录1): SHA-1 of the four fields in this order; the URL without `#...`."""
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - the platform's scheme
