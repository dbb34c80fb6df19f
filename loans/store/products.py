"""Loan product versions: insert-only rows holding each version's definition as canonical JSON."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from ledger.model import canonical_json
from loans.products import Product, product_from_json, product_to_json
from loans.store.tables import loan_products


def latest_version(conn: Connection, tenant_id: int, code: str) -> int | None:
    return conn.execute(
        sa.select(sa.func.max(loan_products.c.version)).where(loan_products.c.tenant_id == tenant_id, loan_products.c.code == code)
    ).scalar()


def insert_product(conn: Connection, actor: Actor, product: Product) -> None:
    conn.execute(
        sa.insert(loan_products).values(
            tenant_id=actor.tenant_id, code=product.code, version=product.version, name=product.name,
            currency=product.currency, definition=canonical_json(product_to_json(product)),
            created_at=actor.now, created_by=actor.name,
        )
    )


def load_product(conn: Connection, tenant_id: int, code: str, version: int | None) -> Product | None:
    """That version of the product, or its latest with no version; None when there is none."""
    query = sa.select(loan_products.c.definition).where(loan_products.c.tenant_id == tenant_id, loan_products.c.code == code)
    query = query.where(loan_products.c.version == version) if version else query.order_by(loan_products.c.version.desc())
    definition = conn.execute(query.limit(1)).scalar()
    return None if definition is None else product_from_json(json.loads(definition))
