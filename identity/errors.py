"""Typed identity errors with stable codes, like `ledger.errors`: user mistakes, never assertions."""
from __future__ import annotations


class IdentityError(Exception):
    code = "IDENTITY_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class UnknownRole(IdentityError):
    code = "UNKNOWN_ROLE"


class InvalidTokenName(IdentityError):
    code = "INVALID_TOKEN_NAME"


class TokenNameTaken(IdentityError):
    code = "TOKEN_NAME_TAKEN"


class UnknownToken(IdentityError):
    code = "UNKNOWN_TOKEN"


class AmbiguousToken(IdentityError):
    code = "AMBIGUOUS_TOKEN"


class TokenAlreadyRevoked(IdentityError):
    code = "TOKEN_ALREADY_REVOKED"
