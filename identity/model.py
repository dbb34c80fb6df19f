"""Roles, tokens and principals as immutable data, and the pure functions that mint and hash tokens."""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from identity.errors import InvalidTokenName, UnknownRole

# The prefix tells a leaked secret apart in logs and secret scanners; it carries no information.
token_scheme = "lb_"
# 32 random bytes: 256 bits, so a plain (fast) SHA-256 is enough; there is nothing to brute-force.
token_secret_bytes = 32
# How much of a token is kept in clear to recognise it in listings (scheme + 9 characters, ~54 bits).
token_prefix_length = 12
# A reference used for revocation must be at least this long so a typo cannot match many tokens.
token_reference_length_min = 6
token_length_max = 200
token_name_length_max = 200
token_name_pattern = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@:-]*$")


class Role(str, enum.Enum):
    ADMIN = "admin"
    LOAN_OFFICER = "loan_officer"
    APPROVER = "approver"
    FINANCE = "finance"
    COLLECTOR = "collector"
    AUDITOR = "auditor"


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UnknownRole(f"unknown role {text!r}; roles are {known}") from None


def check_token_name(name: str) -> str:
    if not name or len(name) > token_name_length_max or not token_name_pattern.match(name):
        raise InvalidTokenName(
            f"token name must be 1-{token_name_length_max} letters, digits, spaces or . _ @ : - "
            f"and start with a letter or digit, got {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's stored record: never the secret, only its hash and a short clear prefix."""

    tenant_id: int
    id: uuid.UUID
    name: str
    role: Role
    token_prefix: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None

    def is_active(self, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < _aware(self.expires_at)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What `create_token` returns: the record and the secret, which exists nowhere else."""

    token: ApiToken
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: one tenant, one role, and the name written into journals and audit events."""

    tenant_id: int
    tenant_slug: str
    tenant_name: str
    functional_currency: str  # ISO 4217: the currency the tenant keeps its books in
    role: Role
    actor_name: str
    token_id: uuid.UUID


def new_token_secret() -> str:
    return token_scheme + secrets.token_urlsafe(token_secret_bytes)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_prefix(secret: str) -> str:
    return secret[:token_prefix_length]


def looks_like_token(text: str) -> bool:
    return text.startswith(token_scheme) and len(text) > token_prefix_length


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back naive; loanbook writes every timestamp in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
