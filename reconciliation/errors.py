"""Typed reconciliation errors; the codes are a public contract, as in ledger.errors."""
from __future__ import annotations

from ledger.errors import LedgerError


class StatementMalformed(LedgerError):
    """The file is not a statement in the stated format; `line` (a row or line number) names where, if known."""

    code = "STATEMENT_MALFORMED"


class StatementRefused(LedgerError):
    """The file carries a DOCTYPE, an entity or another construct a statement never needs."""

    code = "STATEMENT_REFUSED"


class StatementTooLarge(LedgerError):
    code = "STATEMENT_TOO_LARGE"


class StatementUnbalanced(LedgerError):
    """Opening balance plus the lines is not the closing balance."""

    code = "STATEMENT_UNBALANCED"


class StatementCurrencyMismatch(LedgerError):
    code = "STATEMENT_CURRENCY_MISMATCH"


class StatementDiscontinuous(LedgerError):
    """The opening balance does not continue the previous statement's closing balance (a gap or an overlap)."""

    code = "STATEMENT_DISCONTINUOUS"


class UnknownMapping(LedgerError):
    code = "UNKNOWN_MAPPING"


class UnknownStatementLine(LedgerError):
    code = "UNKNOWN_STATEMENT_LINE"


class AlreadyMatched(LedgerError):
    """A bank line or a posting is already part of a match; unmatch it first."""

    code = "ALREADY_MATCHED"


class MatchUnbalanced(LedgerError):
    """The lines and postings of a manual match do not sum to the same amount (beyond the tolerance)."""

    code = "MATCH_UNBALANCED"


class InvalidRules(LedgerError):
    """A tenant's matching rules are not usable: an unknown kind, a parameter out of range."""

    code = "INVALID_RECONCILIATION_RULES"


class NotBooked(LedgerError):
    """The line is not matched to an entry bookStatementLine booked for it: there is nothing to unbook."""

    code = "STATEMENT_LINE_NOT_BOOKED"
