"""WXBizMsgCrypt, the message encryption WeCom and the official account use for callbacks in safe mode.

Written here on its own, apart from the product's implementation, so that a bug in one cannot hide in the
other (tests cross-check both against wechatpy). The scheme, as documented in 加解密方案说明:

- key = base64decode(EncodingAESKey + "="): 32 bytes; AES-256-CBC with IV = key[:16];
- plaintext = 16 random bytes + 4-byte big-endian length of msg + msg + receive id (the CorpID or AppID),
  padded PKCS#7 to a multiple of 32 bytes; Encrypt = base64(ciphertext);
- msg_signature = SHA-1 hex of the sorted concatenation of token, timestamp, nonce and Encrypt;
- the official account's plain `signature` is the same over token, timestamp and nonce alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # the scheme pads to 32 bytes, not AES's 16


class CryptoError(ValueError):
    """A message that does not decrypt, or decrypts to another receiver's message."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str = "") -> str:
    """The SHA-1 signature over the sorted parts (without `encrypt`: the official account's plain signature)."""
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt else [])
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise CryptoError("an EncodingAESKey is 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise CryptoError("the EncodingAESKey is not base64") from exc
    return key


def new_encoding_aes_key() -> str:
    """A fresh EncodingAESKey, as a console generates one: 43 base64 characters for 32 random bytes."""
    return base64.b64encode(os.urandom(32)).decode()[:43]


class MsgCrypt:
    """Encrypts and decrypts for one receiver (a CorpID or an AppID) under one token and EncodingAESKey."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random: bytes | None = None) -> str:
        body = message.encode()
        plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> str:
        try:
            data = base64.b64decode(encrypt, validate=True)
        except binascii.Error as exc:
            raise CryptoError("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", content[:4])
        message, receiver = content[4 : 4 + length], content[4 + length :]
        if len(message) != length:
            raise CryptoError("the length prefix overruns the message")
        if receiver.decode(errors="replace") != self.receive_id:
            raise CryptoError("the message is for another receiver")
        return message.decode()

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bool:
        return msg_signature == self.sign(timestamp, nonce, encrypt)
