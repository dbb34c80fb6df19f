"""Sensitive borrower fields, encrypted at rest (AES-256-GCM) and masked on the way out.

The key comes from settings (LOANBOOK_ENCRYPTION_KEY, 32 bytes in URL-safe base64) through the
composition root. Exact-match lookups use a keyed HMAC "blind index", never the plaintext.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from loans.errors import InvalidBorrower

key_bytes = 32
nonce_bytes = 12
ciphertext_version = "v1"
sensitive_fields = ("national_id", "phone", "bank_account")


class FieldCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != key_bytes:
            raise ValueError("the encryption key must be 32 bytes (URL-safe base64 in LOANBOOK_ENCRYPTION_KEY)")
        self._aead = AESGCM(key)
        self._index_key = hmac.new(key, b"loanbook blind index", hashlib.sha256).digest()

    def __repr__(self) -> str:  # never print key material
        return "FieldCipher(<key hidden>)"

    def encrypt(self, plaintext: str | None, *, context: str) -> str | None:
        """`context` (e.g. "borrower:<id>:phone") is bound as associated data, so a ciphertext
        copied to another row or field fails to decrypt instead of revealing the wrong person."""
        if plaintext is None:
            return None
        nonce = os.urandom(nonce_bytes)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{ciphertext_version}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str | None, *, context: str) -> str | None:
        if token is None:
            return None
        version, _, payload = token.partition(":")
        if version != ciphertext_version:
            raise ValueError(f"unknown ciphertext version {version!r}")
        raw = base64.urlsafe_b64decode(payload)
        return self._aead.decrypt(raw[:nonce_bytes], raw[nonce_bytes:], context.encode()).decode()

    def blind_index(self, value: str | None) -> str | None:
        if value is None:
            return None
        return hmac.new(self._index_key, normalise_identifier(value).encode(), hashlib.sha256).hexdigest()


def key_from_text(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError):
        raise ValueError("LOANBOOK_ENCRYPTION_KEY is not URL-safe base64") from None
    if len(key) != key_bytes:
        raise ValueError("LOANBOOK_ENCRYPTION_KEY must decode to 32 bytes")
    return key


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(key_bytes)).decode()


def normalise_identifier(value: str) -> str:
    return "".join(value.split()).upper()


def mask(value: str | None, *, keep_start: int = 3, keep_end: int = 4) -> str | None:
    """110105199001011234 -> 110***********1234; short values keep less."""
    if value is None:
        return None
    if len(value) <= keep_end + 1:
        return "*" * len(value)
    start = keep_start if len(value) > keep_start + keep_end + 2 else 0
    return value[:start] + "*" * (len(value) - start - keep_end) + value[-keep_end:]


def check_borrower_fields(national_id: str | None, phone: str | None, bank_account: str | None) -> None:
    for name, value, limit in (("nationalId", national_id, 40), ("phone", phone, 30), ("bankAccount", bank_account, 40)):
        if value is not None and (not value.strip() or len(value) > limit):
            raise InvalidBorrower(f"{name} must be 1 to {limit} characters", field=name)


@dataclass(frozen=True)
class BorrowerRecord:
    id: uuid.UUID
    kind: str
    name: str
    address: str | None
    created_at: dt.datetime
    created_by: str
    # Masked: 110***********1234.
    national_id: str | None
    phone: str | None
    bank_account: str | None


def masked_borrower(cipher: FieldCipher, tenant_id: int, row: Any) -> BorrowerRecord:
    """A stored borrower row with its sensitive fields decrypted, masked, and the plaintext dropped."""
    # The associated data binds each ciphertext to its row and field, exactly as create_borrower wrote it.
    context = f"borrower:{tenant_id}:{row.id}"
    masked = {
        name: mask(cipher.decrypt(getattr(row, f"{name}_enc"), context=f"{context}:{name}")) for name in sensitive_fields
    }
    return BorrowerRecord(row.id, row.kind, row.name, row.address, row.created_at, row.created_by, **masked)
