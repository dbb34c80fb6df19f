"""The schedules API: an amortization schedule for proposed terms, computed and not stored."""
from __future__ import annotations

from graphql_api.schedules.preview import ScheduleQuery

__all__ = ["ScheduleQuery"]
