"""Root fields that belong to no domain: liveness (`health`, needs no token) and the caller (`me`)."""
from __future__ import annotations

import logging
from importlib import metadata as package_metadata

import strawberry
from strawberry.types import Info

from graphql_api.core.threads import read
from graphql_api.core.types import Health, Me

log = logging.getLogger("loanbook.graphql")


def database_reachable(conn) -> bool:  # noqa: ANN001
    return conn.exec_driver_sql("SELECT 1").scalar() == 1


def package_version() -> str:
    try:
        return package_metadata.version("loanbook")
    except package_metadata.PackageNotFoundError:
        return "unknown"


@strawberry.type
class CoreQuery:
    @strawberry.field(description="Liveness and database reachability; needs no token.")
    async def health(self, info: Info) -> Health:
        try:
            ok = await read(info.context.engine, database_reachable)
        except Exception:  # an outage is a health answer, not an error
            log.exception("health check could not reach the database")
            ok = False
        return Health(status="ok" if ok else "unavailable", database="ok" if ok else "unreachable", version=package_version())

    @strawberry.field(description="The caller: tenant, role, actor name and permitted operations.")
    async def me(self, info: Info) -> Me:
        session = await info.context.authorize("me")
        return Me(principal=session.principal)
