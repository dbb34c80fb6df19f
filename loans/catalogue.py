"""The product catalogue: create product versions and read them, committed versions from a cache.

Separate from loans.products, which stays pure (the servicing model imports it).
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy.engine import Connection, Engine

from ledger.actor import Actor
from ledger.queries import load_accounts
from ledger.unit_of_work import record_event
from loans.errors import InvalidProduct, UnknownProduct
from loans.products import Product, parse_product, product_to_json
from loans.store.products import insert_product, latest_version, load_product


def create_product(conn: Connection, actor: Actor, values: Mapping[str, object]) -> Product:
    """A product, or a new version of an existing code; loans keep the version they were booked under."""
    product = parse_product({k: v for k, v in values.items() if k != "version"})
    codes = set(product.gl_accounts.values())
    known = load_accounts(conn, actor.tenant_id, codes)
    missing = sorted(codes - set(known))
    if missing:
        raise InvalidProduct(f"gl_accounts name accounts that do not exist: {', '.join(missing)}", field="gl_accounts")
    refusing = sorted(code for code, account in known.items() if not account.allows(product.currency))
    if refusing:
        raise InvalidProduct(
            f"gl_accounts name accounts that do not accept {product.currency}: {', '.join(refusing)}; "
            f"open accounts for {product.currency} and map the product's roles to them",
            field="gl_accounts",
        )
    headers = sorted(code for code, account in known.items() if account.is_header)
    if headers:
        raise InvalidProduct(
            f"gl_accounts name header accounts, which take no postings: {', '.join(headers)}; name their child accounts",
            field="gl_accounts",
        )
    product = replace(product, version=(latest_version(conn, actor.tenant_id, product.code) or 0) + 1)
    insert_product(conn, actor, product)
    _created_in_this_transaction(conn).add((actor.tenant_id, product.code, product.version))
    record_event(conn, actor, "loan_product.created", "loan_product", f"{product.code}@{product.version}", after=product_to_json(product))
    return product


# Product versions by engine, then (tenant, code, version): every money command reads its loan's, and a
# committed version never changes (loan_products is insert-only; PostgreSQL refuses UPDATE and DELETE).
# The latest version of a code can change, so only reads that name a version use this. (Keyed by the
# engine object, not its URL, which renders itself afresh to be hashed.)
_product_cache: weakref.WeakKeyDictionary[Engine, dict[tuple[int, str, int], Product]] = weakref.WeakKeyDictionary()
products_cached_max = 10_000
# conn.info key: (transaction, versions it created). Until it commits that transaction alone sees them,
# and it may roll back and leave the number to a different product, so it never caches them.
_products_created = "loanbook_products_created"


def _created_in_this_transaction(conn: Connection) -> set[tuple[int, str, int]]:
    transaction = conn.get_transaction()
    created = conn.info.get(_products_created)
    if created is None or created[0] is not transaction:
        created = conn.info[_products_created] = (transaction, set())
    return created[1]


def get_product(conn: Connection, tenant_id: int, code: str, version: int | None = None) -> Product:
    key = (tenant_id, code, version)
    cache = _product_cache.setdefault(conn.engine, {}) if version else None
    if cache is not None and (cached := cache.get(key)) is not None:
        return cached
    product = load_product(conn, tenant_id, code, version)
    if product is None:
        raise UnknownProduct(f"no loan product {code!r}" + (f" version {version}" if version else ""))
    if cache is not None and key not in _created_in_this_transaction(conn):
        if len(cache) >= products_cached_max:
            cache.clear()
        cache[key] = product
    return product
