"""The reconciliation's API: bank statements in, their lines, matching and the reconciliation report."""
from __future__ import annotations

from graphql_api.reconciliation.operations import ReconciliationMutation, ReconciliationQuery
__all__ = ["ReconciliationMutation", "ReconciliationQuery"]
