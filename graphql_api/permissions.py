"""Which role may run which operation: the role x operation matrix, in one place.

Every root field of the schema appears here or in `open_operations`; a test fails when a new field
is added without a decision. README documents the same matrix.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from identity.model import Role

every_role = frozenset(Role)
# Manual journal entries move money outside any loan workflow, so only finance and admins post them.
# Maker-checker (a second person approves a manual entry before it posts) comes with issue 5.
journal_writers = frozenset({Role.ADMIN, Role.FINANCE})

open_operations = frozenset({"health"})

operation_roles: Mapping[str, frozenset[Role]] = MappingProxyType(
    {
        "me": every_role,
        "accounts": every_role,
        "account": every_role,
        "trialBalance": every_role,
        "journalEntries": every_role,
        "journalEntry": every_role,
        "previewSchedule": every_role,
        "postJournalEntry": journal_writers,
        "reverseJournalEntry": journal_writers,
    }
)


def may_run(role: Role, operation: str) -> bool:
    assert operation in operation_roles, f"operation {operation!r} has no entry in the permission matrix"
    return role in operation_roles[operation]


def operations_for(role: Role) -> list[str]:
    return sorted(op for op, roles in operation_roles.items() if role in roles)
