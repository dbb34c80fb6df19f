"""Borrowers' bank accounts get a keyed lookup (blind index), filled in for the borrowers already stored.

A bank line's payer account is looked up by the same keyed HMAC as the national ID, never in clear.
Existing rows are filled in by decrypting each stored bank account with the field cipher the caller
hands in (`loanbook migrate` builds it from LOANBOOK_ENCRYPTION_KEY). A database that holds encrypted
bank accounts cannot be indexed without the key: the migration then stops, and changes nothing.

Revision ID: 0019_borrower_bank_account_index
Revises: 0018_header_accounts_currency
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import context, op

revision = "0019_borrower_bank_account_index"
down_revision = "0018_header_accounts_currency"
branch_labels = None
depends_on = None

rows_per_update = 1_000


def upgrade() -> None:
    op.add_column("borrowers", sa.Column("bank_account_index", sa.String(64), nullable=True))
    op.create_index("ix_borrowers_bank_account_index", "borrowers", ["tenant_id", "bank_account_index"])
    _fill_in(op.get_bind())


def _fill_in(conn: sa.engine.Connection) -> None:
    table = sa.table("borrowers", sa.column("tenant_id"), sa.column("id", sa.Uuid()), sa.column("bank_account_enc"),
                     sa.column("bank_account_index"))
    sealed = conn.execute(sa.select(table.c.tenant_id, table.c.id, table.c.bank_account_enc)
                          .where(table.c.bank_account_enc.is_not(None))).all()
    if not sealed:
        return
    cipher = context.config.attributes.get("field_cipher")
    if cipher is None:
        raise RuntimeError(f"{len(sealed)} borrowers' bank accounts are encrypted: indexing them needs the encryption key "
                           "(run `loanbook migrate` with LOANBOOK_ENCRYPTION_KEY set)")
    update = (sa.update(table).where(table.c.tenant_id == sa.bindparam("t"), table.c.id == sa.bindparam("b"))
              .values(bank_account_index=sa.bindparam("index")))
    values = []
    for tenant_id, borrower_id, token in sealed:
        try:  # the associated data create_borrower bound the ciphertext to
            plain = cipher.decrypt(token, context=f"borrower:{tenant_id}:{borrower_id}:bank_account")
        except Exception as exc:  # noqa: BLE001 (cryptography's InvalidTag and a malformed token alike)
            raise RuntimeError(f"borrower {borrower_id}'s bank account does not decrypt: is LOANBOOK_ENCRYPTION_KEY "
                               "the key it was written with?") from exc
        values.append({"t": tenant_id, "b": borrower_id, "index": cipher.blind_index(plain)})
    for start in range(0, len(values), rows_per_update):
        conn.execute(update, values[start:start + rows_per_update])


def downgrade() -> None:
    op.drop_index("ix_borrowers_bank_account_index", "borrowers")
    with op.batch_alter_table("borrowers") as batch:
        batch.drop_column("bank_account_index")
