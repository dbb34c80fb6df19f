"""Typed errors of manual entry requests. Codes shared with loan applications mean the same rule."""
from __future__ import annotations

from ledger.errors import LedgerError


class UnknownEntryRequest(LedgerError):
    code = "UNKNOWN_JOURNAL_ENTRY_REQUEST"


class IllegalTransition(LedgerError):
    """The request's status does not allow this (approving a rejected request, cancelling a posted one)."""

    code = "ILLEGAL_TRANSITION"


class MakerChecker(LedgerError):
    """Segregation of duties: the maker never approves or rejects their own request; only the maker cancels it."""

    code = "MAKER_CHECKER_VIOLATION"
