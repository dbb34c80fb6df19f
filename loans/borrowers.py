"""Borrowers: create one (sensitive fields encrypted, bound to the row and field) and reveal them, audited."""
from __future__ import annotations

import uuid

from sqlalchemy.engine import Connection

from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.unit_of_work import record_event
from loans.errors import InvalidBorrower, UnknownBorrower
from loans.pii import FieldCipher, check_borrower_fields
from loans.store.borrowers import insert_borrower, load_sealed_fields

borrower_kinds = ("INDIVIDUAL", "COMPANY")
name_length_max = 200
address_length_max = 500


def _context(tenant_id: int, borrower_id: uuid.UUID) -> str:
    # The associated data of each ciphertext: a value copied to another row or field does not decrypt.
    return f"borrower:{tenant_id}:{borrower_id}"


def create_borrower(
    conn: Connection,
    actor: Actor,
    cipher: FieldCipher,
    *,
    name: str,
    kind: str = "INDIVIDUAL",
    national_id: str | None = None,
    phone: str | None = None,
    bank_account: str | None = None,
    address: str | None = None,
) -> uuid.UUID:
    if kind not in borrower_kinds:
        raise InvalidBorrower("kind must be INDIVIDUAL or COMPANY", field="kind")
    if not name or not name.strip() or len(name) > name_length_max:
        raise InvalidBorrower("name must be 1 to 200 characters", field="name")
    if address is not None and len(address) > address_length_max:
        raise InvalidBorrower("address must be at most 500 characters", field="address")
    check_borrower_fields(national_id, phone, bank_account)
    borrower_id = uuid7()
    context = _context(actor.tenant_id, borrower_id)
    insert_borrower(conn, actor, borrower_id, {
        "kind": kind, "name": name.strip(),
        "national_id_enc": cipher.encrypt(national_id, context=context + ":national_id"),
        "national_id_index": cipher.blind_index(national_id),
        "phone_enc": cipher.encrypt(phone, context=context + ":phone"),
        "bank_account_enc": cipher.encrypt(bank_account, context=context + ":bank_account"),
        "bank_account_index": cipher.blind_index(bank_account),
        "address": address,
    })
    # Sensitive values never enter the audit log; only whether they were given.
    record_event(
        conn, actor, "borrower.created", "borrower", borrower_id,
        after={"name": name, "kind": kind, "national_id": national_id is not None, "phone": phone is not None,
               "bank_account": bank_account is not None},
    )
    return borrower_id


def reveal_borrower(conn: Connection, actor: Actor, cipher: FieldCipher, borrower_id: uuid.UUID) -> dict[str, str | None]:
    """The unmasked sensitive fields; every call is written to the audit log."""
    sealed = load_sealed_fields(conn, actor.tenant_id, borrower_id)
    if sealed is None:
        raise UnknownBorrower(f"no borrower with id {borrower_id}")
    context = _context(actor.tenant_id, borrower_id)
    record_event(conn, actor, "borrower.pii_revealed", "borrower", borrower_id, reason=actor.reason)
    return {
        "national_id": cipher.decrypt(sealed.national_id_enc, context=context + ":national_id"),
        "phone": cipher.decrypt(sealed.phone_enc, context=context + ":phone"),
        "bank_account": cipher.decrypt(sealed.bank_account_enc, context=context + ":bank_account"),
    }
