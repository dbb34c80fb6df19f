"""Importing a bank statement: parse, check, store its new lines, once.

Checks, each a typed error raised before anything is written (the caller's unit of work then rolls
back whole): the file's size and shape (reconciliation.parsing); opening balance plus lines equals the
closing balance; the currency is the bank account's (and that of its earlier statements); the
opening balance continues the previous statement's closing balance. Importing the same file again
adds nothing (its content hash is known); a statement that repeats lines already imported (an
overlapping export) adds only the new ones, each line keyed by the bank's reference or a content hash.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import NamedTuple

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.actor import Actor
from ledger.ids import uuid7, uuid7s
from ledger.idempotency import run_once
from ledger.money import from_minor
from ledger.queries import load_accounts
from ledger.unit_of_work import record_event
from reconciliation import collector
from reconciliation.errors import StatementCurrencyMismatch, StatementDiscontinuous, UnknownMapping
from reconciliation.model import Statement, keys_for
from reconciliation.parsing import formats, guess_format, parse_statement
from reconciliation.store import repository
from reconciliation.tabular import ColumnMapping

import_operation = "importBankStatement"
mapping_name_length_max = 100
filename_length_max = 200


class ImportResult(NamedTuple):
    statement_id: uuid.UUID
    lines_added: int
    lines_known: int
    replayed: bool  # the same file (or idempotency key) was imported before: nothing was added


def import_statement(
    conn: Connection, actor: Actor, bank_account_code: str, content: bytes, *, fmt: str | None = None,
    filename: str | None = None, mapping_name: str | None = None, idempotency_key: str | None = None,
) -> ImportResult:
    account = load_accounts(conn, actor.tenant_id, [bank_account_code]).get(bank_account_code)
    if account is None:
        raise ledger_errors.UnknownAccount(f"no account with code {bank_account_code!r}", account=bank_account_code)
    fmt = fmt or guess_format(filename, content)
    if fmt not in formats:
        raise ledger_errors.InvalidInput(f"format must be one of {', '.join(formats)}", field="format")
    if filename is not None and len(filename) > filename_length_max:
        raise ledger_errors.InvalidInput(f"filename must be at most {filename_length_max} characters", field="filename")
    mapping = load_mapping(conn, actor.tenant_id, mapping_name) if mapping_name else None
    content_hash = hashlib.sha256(content).hexdigest()
    request = {"bankAccountCode": bank_account_code, "format": fmt, "contentHash": content_hash, "mapping": mapping_name}

    def command(conn: Connection) -> dict[str, object]:
        earlier = repository.statement_by_hash(conn, actor.tenant_id, bank_account_code, content_hash)
        if earlier is not None:
            return {"statement_id": str(earlier.id), "lines_added": 0, "lines_known": earlier.line_count, "replayed": True}
        with collector.paused():  # the lines and their rows live to the end: nothing for the collector to find
            statement = parse_statement(content, fmt, mapping)
            _check_currency(conn, actor, account, statement)
            _check_continuity(conn, actor, bank_account_code, statement)
            return _store(conn, actor, bank_account_code, statement, fmt, filename, content_hash)

    outcome = run_once(conn, actor, idempotency_key, request, command, operation=import_operation)
    result = outcome.result
    return ImportResult(uuid.UUID(str(result["statement_id"])), 0 if outcome.replayed else int(result["lines_added"]),
                        int(result["lines_known"]), outcome.replayed or bool(result.get("replayed")))


def load_mapping(conn: Connection, tenant_id: int, name: str) -> ColumnMapping:
    definition = repository.mapping_definition(conn, tenant_id, name)
    if definition is None:
        raise UnknownMapping(f"no saved column mapping named {name!r}")
    return ColumnMapping.from_json(name, definition)


def save_mapping(conn: Connection, actor: Actor, name: str, definition: dict) -> ColumnMapping:
    """Save (or replace) a bank's column mapping under `name`; it is checked first."""
    if not name or len(name) > mapping_name_length_max:
        raise ledger_errors.InvalidInput(f"a mapping name is 1 to {mapping_name_length_max} characters", field="name")
    mapping = ColumnMapping.from_json(name, definition)
    text = json.dumps(mapping.to_json(), sort_keys=True)
    replaced = repository.save_mapping(conn, actor.tenant_id, name, text, actor.name, actor.now)
    record_event(conn, actor, "bank_statement_mapping.saved", "bank_statement_mapping", name,
                 after={"definition": mapping.to_json(), "replaced": replaced})
    return mapping


def _check_currency(conn: Connection, actor: Actor, account, statement: Statement) -> None:
    allowed = account.currencies
    earlier = repository.any_statement_currency(conn, actor.tenant_id, account.code)
    if (allowed and statement.currency not in allowed) or (earlier and earlier != statement.currency):
        expected = earlier or ", ".join(allowed)
        raise StatementCurrencyMismatch(
            f"the statement is in {statement.currency}; bank account {account.code} is in {expected}",
            currency=statement.currency,
        )


def _check_continuity(conn: Connection, actor: Actor, code: str, statement: Statement) -> None:
    if statement.opening_minor is None:
        return
    previous = repository.latest_statement(conn, actor.tenant_id, code)
    if previous is None or previous.closing_minor == statement.opening_minor:
        return
    currency = statement.currency
    kind = "an overlap" if statement.opening_date and previous.closing_date and statement.opening_date < previous.closing_date else "a gap"
    raise StatementDiscontinuous(
        f"the opening balance {from_minor(statement.opening_minor, currency)} {currency}"
        f"{f' on {statement.opening_date}' if statement.opening_date else ''} does not continue the previous statement's "
        f"closing balance {from_minor(previous.closing_minor, currency)} {currency} on {previous.closing_date}: {kind} "
        f"of {from_minor(statement.opening_minor - previous.closing_minor, currency)} {currency}",
        previous_statement_id=str(previous.id),
    )


def _store(conn: Connection, actor: Actor, code: str, statement: Statement, fmt: str, filename: str | None,
           content_hash: str) -> dict[str, object]:
    keys = keys_for(statement.lines)
    known = repository.known_keys(conn, actor.tenant_id, code, keys)
    statement_id = uuid7()
    dates = [line.booking_date for line in statement.lines]
    repository.insert_statement(conn, {
        "tenant_id": actor.tenant_id, "id": statement_id, "bank_account_code": code, "currency": statement.currency,
        "format": fmt, "filename": filename, "statement_ref": (statement.statement_id or "")[:200] or None,
        "opening_minor": statement.opening_minor, "closing_minor": statement.closing_minor,
        "opening_date": statement.opening_date or (min(dates) if dates else None),
        "closing_date": statement.closing_date or (max(dates) if dates else None),
        "line_count": len(statement.lines), "content_hash": content_hash, "imported_at": actor.now, "imported_by": actor.name,
    })
    new = [(number, key, line) for number, (key, line) in enumerate(zip(keys, statement.lines), 1) if key not in known]
    tenant_id, currency = actor.tenant_id, statement.currency
    rows = [
        {
            "tenant_id": tenant_id, "id": line_id, "statement_id": statement_id, "bank_account_code": code,
            "line_key": key, "line_no": number, "booking_date": line.booking_date, "value_date": line.value_date,
            "currency": currency, "amount_minor": line.amount_minor, "bank_reference": line.bank_reference,
            "end_to_end_id": line.end_to_end_id, "counterparty_name": line.counterparty_name,
            "counterparty_account": line.counterparty_account, "remittance": line.remittance, "status": "UNMATCHED",
            "proposal": None,
        }
        # One call mints every id: per id, a call costs more than the insert of its row.
        for line_id, (number, key, line) in zip(uuid7s(len(new)), new)
    ]
    repository.insert_lines(conn, rows)
    record_event(conn, actor, "bank_statement.imported", "bank_statement", statement_id, after={
        "bank_account_code": code, "format": fmt, "filename": filename, "lines_added": len(rows),
        "lines_known": len(known), "content_hash": content_hash,
    })
    return {"statement_id": str(statement_id), "lines_added": len(rows), "lines_known": len(known)}
