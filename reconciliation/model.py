"""Statements as data: what every parser returns, whatever the bank's format.

Amounts are signed integer minor units of the statement's currency: a credit to the bank account
(money in) is positive, a debit (money out) negative, the same sign as a debit posting to the
ledger's bank account. Parsers build them from the text with Decimal, never float.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from ledger.money import currency_exponent, format_amount
from reconciliation.errors import StatementMalformed

lines_per_statement_max = 2_000_000
text_length_max = 500


class StatementLine(NamedTuple):
    booking_date: dt.date
    amount_minor: int  # money in > 0, money out < 0
    value_date: dt.date | None = None
    bank_reference: str | None = None  # the bank's own id for the line (AcctSvcrRef, MT940 bank reference)
    end_to_end_id: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None  # the narrative / remittance information


class Statement(NamedTuple):
    currency: str
    opening_minor: int | None
    closing_minor: int | None
    lines: tuple[StatementLine, ...]
    statement_id: str | None = None
    account: str | None = None  # the bank's account number (IBAN) as the statement gives it
    opening_date: dt.date | None = None
    closing_date: dt.date | None = None


def minor_from_text(text: str, currency: str, *, where: str) -> int:
    """Signed minor units from a decimal text ("1234.50", "-3,000.00", "1.234,50" is refused as ambiguous).

    Plain unsigned digits with at most the currency's decimals (what a bank writes on nearly every
    line) are read as integers, whole and fraction apart; any other text goes through Decimal. Both
    give the same minor units, never through a float."""
    exponent = currency_exponent(currency)  # cached by ledger.money
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    whole, point, fraction = cleaned.partition(".")
    if (whole.isascii() and whole.isdigit() and len(whole) <= 17
            and (not point or (fraction.isascii() and fraction.isdigit() and len(fraction) <= exponent))):
        minor = int(whole) * 10**exponent + (int(fraction) * 10**(exponent - len(fraction)) if point else 0)
    else:
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise StatementMalformed(f"{where}: {text!r} is not an amount", line=where) from None
        if not value.is_finite():
            raise StatementMalformed(f"{where}: {text!r} is not an amount", line=where)
        scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise StatementMalformed(f"{where}: {text!r} has more decimals than {currency} allows", line=where)
        minor = int(scaled)
    if abs(minor) >= 10**17:
        raise StatementMalformed(f"{where}: {text!r} is too large", line=where)
    return minor


def clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text[:text_length_max] or None


def line_key(line: StatementLine) -> str:
    """The line's identity for de-duplication: the bank's reference, else a hash of its content.

    A re-import of the same statement finds the same keys and adds nothing. Two lines with identical
    content in one statement (two equal transfers on one day) get an occurrence number in `keys_for`.
    """
    if line.bank_reference:
        return "ref:" + line.bank_reference[:200]
    content = "|".join(str(part or "") for part in (
        line.booking_date, line.value_date, line.amount_minor, line.end_to_end_id, line.counterparty_name,
        line.counterparty_account, line.remittance,
    ))
    return "hash:" + hashlib.sha256(content.encode()).hexdigest()


def keys_for(lines: tuple[StatementLine, ...]) -> list[str]:
    seen: dict[str, int] = {}
    keys = []
    for line in lines:
        key = line_key(line)
        count = seen.get(key, 0)
        seen[key] = count + 1
        keys.append(key if count == 0 else f"{key}#{count}")
    return keys


def check_balanced(statement: Statement) -> None:
    """Opening balance plus the lines must be the closing balance (when the bank states both)."""
    from reconciliation.errors import StatementUnbalanced

    if statement.opening_minor is None or statement.closing_minor is None:
        return
    total = statement.opening_minor + sum(line.amount_minor for line in statement.lines)
    if total != statement.closing_minor:
        raise StatementUnbalanced(
            f"opening balance {statement.opening_minor} plus the lines is {total} minor units, "
            f"but the closing balance is {statement.closing_minor}",
            difference_minor=statement.closing_minor - total,
        )


def combined(parts: Sequence[Statement], names: Sequence[str]) -> Statement:
    """One statement from the consecutive statements of one account that a file holds (an MT940 file
    of a week's daily statements, a camt.053 document with several Stmt).

    Each part must balance on its own, be in the same currency and of the same account, and open
    with the balance the one before it closed with; the error names the part (`names`, e.g.
    "statement 2 (:28C: 19322/1)"). The result opens with the first part's opening balance and
    closes with the last part's closing balance, with every part's lines in order.
    """
    from reconciliation.errors import StatementCurrencyMismatch, StatementDiscontinuous, StatementUnbalanced

    if len(parts) == 1:
        return parts[0]
    first, last = parts[0], parts[-1]
    for number, (part, name) in enumerate(zip(parts, names)):
        if part.currency != first.currency:
            raise StatementCurrencyMismatch(
                f"{name} is in {part.currency}, the first statement of the file in {first.currency}",
                statement=name, currency=part.currency,
            )
        if part.account and first.account and part.account != first.account:
            raise StatementMalformed(
                f"{name} is of account {part.account}, the first statement of the file of {first.account}: "
                "import each account's statements into its own bank account", line=name,
            )
        try:
            check_balanced(part)
        except StatementUnbalanced as exc:
            raise StatementUnbalanced(f"{name}: {exc.message}", statement=name, **exc.details) from None
        previous = parts[number - 1] if number else None
        if previous is not None and None not in (previous.closing_minor, part.opening_minor) \
                and previous.closing_minor != part.opening_minor:
            raise StatementDiscontinuous(
                f"{name} opens with {format_amount(part.opening_minor, part.currency)} {part.currency}, but "
                f"{names[number - 1]} closed with {format_amount(previous.closing_minor, part.currency)} {part.currency}: "
                "a statement is missing between them, or they overlap",
                statement=name, expected_minor=previous.closing_minor, opening_minor=part.opening_minor,
            )
    return Statement(
        currency=first.currency, opening_minor=first.opening_minor, closing_minor=last.closing_minor,
        lines=tuple(line for part in parts for line in part.lines), statement_id=first.statement_id,
        account=first.account or last.account, opening_date=first.opening_date, closing_date=last.closing_date,
    )
