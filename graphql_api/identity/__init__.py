"""The identity API: the tenant's API tokens (listed, issued, revoked by admins)."""
from __future__ import annotations

from graphql_api.identity.tokens import IdentityMutation, IdentityQuery

__all__ = ["IdentityMutation", "IdentityQuery"]
