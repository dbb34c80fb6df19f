"""GraphQL types every domain's API shares: money, pages (Relay connections), the caller, mirrored enums."""
from __future__ import annotations

import enum
import functools
from decimal import Decimal
from typing import Generic, TypeVar

import strawberry

from graphql_api.core.permissions import operations_for
from graphql_api.core.scalars import encode_id
from identity.model import Principal, Role
from ledger.money import currency_exponent, from_minor, to_minor


def mirror_enum(source: type[enum.Enum], description: str | None = None, *, name: str | None = None) -> type[enum.Enum]:
    """A GraphQL copy of a domain enum (member names become GraphQL values), so domain classes stay free of strawberry."""
    mirrored = enum.Enum(name or source.__name__, {member.name: member.name for member in source})
    return strawberry.enum(mirrored, name=name or source.__name__, description=description)


def as_mirror(mirror: type[enum.Enum], member: enum.Enum) -> enum.Enum:
    return mirror[member.name]


RoleEnum = mirror_enum(Role, "What a token may do; see README for the role x operation matrix.")


@strawberry.type(description="An exact amount of one currency. `amount` carries the currency's minor-unit decimals.")
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. CNY.")


@functools.lru_cache(maxsize=8192)
def money(minor: int, currency: str) -> Money:
    """The Money of an amount in minor units. Answers share instances (none is ever changed): a
    schedule repeats its amounts and its zeros, and building each costs a Decimal and an object."""
    return Money(amount=from_minor(minor, currency), currency=currency)


def money_from_decimal(value: Decimal, currency: str) -> Money:
    """Money for a Decimal amount; refuses more decimals than the currency has."""
    return money(to_minor(value, currency), currency)


def zero(currency: str) -> Money:
    return Money(amount=Decimal(0).scaleb(-currency_exponent(currency)), currency=currency)


@strawberry.type(description="Service health; needs no token.")
class Health:
    status: str = strawberry.field(description='"ok" when the service can reach its database.')
    database: str
    version: str


@strawberry.type(description="A lending company: its books, chart and people are its own.")
class Tenant:
    slug: str
    name: str
    functional_currency: str = strawberry.field(
        description="ISO 4217 code of the currency the books are kept in (set when the tenant is created). The default "
        "chart's accounts accept it alone; an amount in another currency goes to accounts opened for that currency."
    )


@strawberry.type(description="The caller, as their bearer token identifies them.")
class Me:
    principal: strawberry.Private[Principal]

    @strawberry.field
    def tenant(self) -> Tenant:
        return Tenant(
            slug=self.principal.tenant_slug, name=self.principal.tenant_name,
            functional_currency=self.principal.functional_currency,
        )

    @strawberry.field
    def role(self) -> RoleEnum:  # type: ignore[valid-type]
        return as_mirror(RoleEnum, self.principal.role)

    @strawberry.field(description="The name written into journal entries and audit events for this caller.")
    def actor_name(self) -> str:
        return self.principal.actor_name

    @strawberry.field
    def token_id(self) -> strawberry.ID:
        return encode_id("ApiToken", self.principal.token_id)

    @strawberry.field(description="Root fields this role may run, for a frontend to show or hide actions.")
    def permissions(self) -> list[str]:
        return operations_for(self.principal.role)


NodeType = TypeVar("NodeType")


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type(description="A page of a list: pass `pageInfo.endCursor` as `after` for the next page.")
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    page_info: PageInfo


def connection(items: list[tuple[str, NodeType]], *, has_next: bool, has_previous: bool) -> Connection[NodeType]:
    edges = [Edge(cursor=cursor, node=node) for cursor, node in items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next, has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
        ),
    )
