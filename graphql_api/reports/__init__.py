"""The reports API: balance sheet, income statement, GL detail, loan tape and classification, as of and as known on."""
from __future__ import annotations

from graphql_api.reports.statements import ReportsQuery

__all__ = ["ReportsQuery"]
