"""Loans keep what a write-off took beside principal, and a restructured loan's observation period.

`written_off_interest`, `written_off_fee` and `written_off_penalty` (suspended amounts included)
start at zero: loans written off before keep their principal in `written_off`, so what they may
still recover is at most that principal. `restructured_on`, `observation_ends_on` and `class_floor`
are empty until a restructure sets them.

Revision ID: 0015_loan_servicing_parts
Revises: 0013_idempotency_keys
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_loan_servicing_parts"
down_revision = "0013_idempotency_keys"
branch_labels = None
depends_on = None

minor_columns = ("written_off_interest", "written_off_fee", "written_off_penalty")


def upgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        for name in minor_columns:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("restructured_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("observation_ends_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("class_floor", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        for name in ("class_floor", "observation_ends_on", "restructured_on", *reversed(minor_columns)):
            batch.drop_column(name)
