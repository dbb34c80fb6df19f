"""The README's role x operation table, generated from graphql_api.core.permissions (a test keeps them equal).

    .venv/bin/python -m graphql_api.core.role_matrix     # prints the table to paste into README.md
"""
from __future__ import annotations

from graphql_api.core.permissions import open_operations, operation_roles
from identity.model import Role

columns = (Role.ADMIN, Role.LOAN_OFFICER, Role.APPROVER, Role.FINANCE, Role.COLLECTOR, Role.AUDITOR)


def matrix_rows() -> list[str]:
    """Operations grouped by the roles that may run them, widest groups first."""
    groups: dict[tuple[bool, ...], list[str]] = {}
    for name, roles in operation_roles.items():
        groups.setdefault(tuple(role in roles for role in columns), []).append(name)
    lines = [
        "| operation | " + " | ".join(role.value.lower() for role in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
        *(f"| {', '.join(f'`{n}`' for n in sorted(open_operations))} | no token needed |" + " |" * (len(columns) - 1),),
    ]
    for allowed, names in sorted(groups.items(), key=lambda item: (-sum(item[0]), item[0][::-1], sorted(item[1]))):
        marks = " | ".join("✓" if ok else "–" for ok in allowed)
        lines.append(f"| {', '.join(f'`{n}`' for n in sorted(names))} | {marks} |")
    return lines


if __name__ == "__main__":
    print("\n".join(matrix_rows()))
