"""Errors that reach the client as top-level GraphQL errors, and the rule for masking the rest.

Expected domain failures are typed results (see `graphql_api.core.error_types`). Top-level errors are for
the request itself: not signed in, not allowed, a malformed argument. A database that cannot be reached
or whose connection was lost (ledger.unit_of_work.connection_lost, DatabaseUnavailable once reconnecting
failed) is SERVICE_UNAVAILABLE, answered with HTTP 503 and Retry-After (graphql_api.app): the client may
send the same request again, with the same idempotency key. Everything else is a bug, and the client
sees only "Unexpected error." with code INTERNAL_SERVER_ERROR; the server log keeps the traceback.
"""
from __future__ import annotations

from graphql import GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import MaskErrors

from ledger.errors import DatabaseUnavailable
from ledger.unit_of_work import connection_lost

masked_message = "Unexpected error."
masked_code = "INTERNAL_SERVER_ERROR"
# Errors about the document itself (syntax, unknown fields, limits, variable types) carry this code.
document_error_code = "GRAPHQL_VALIDATION_FAILED"
unavailable_code = DatabaseUnavailable.code
unavailable_retry_after_seconds = 2
unavailable_message = (
    "The database is unavailable (restarting or unreachable). Send the same request again after "
    f"{unavailable_retry_after_seconds} seconds (Retry-After), with the same idempotencyKey: a mutation that was "
    "already applied is then answered as a replay, never applied twice."
)


class PublicError(Exception):
    """An error whose message is written for the client; `code` lands in `extensions.code`."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code, **extensions}


class BadUserInput(PublicError):
    code = "BAD_USER_INPUT"


class Unauthenticated(PublicError):
    code = "UNAUTHENTICATED"


class Forbidden(PublicError):
    code = "FORBIDDEN"


def root_cause(error: BaseException) -> BaseException:
    seen = 0
    while getattr(error, "original_error", None) is not None and seen < 20:
        error = error.original_error  # type: ignore[assignment]
        seen += 1
    return error


def database_unavailable(error: GraphQLError) -> bool:
    """The error is the database being out of reach, not a bug: SERVICE_UNAVAILABLE, not INTERNAL_SERVER_ERROR."""
    cause = root_cause(error)
    return isinstance(cause, DatabaseUnavailable) or connection_lost(cause)


def should_mask_error(error: GraphQLError) -> bool:
    """Mask every error except those we raised for the client and those GraphQL raised about the document.

    Errors without a path happened before any resolver ran (syntax, validation, variable coercion,
    including a scalar refusing a value): they describe the client's own document. A scalar parser may
    raise ValueError/TypeError there (strawberry's Date does), which is just as safe to show.
    """
    cause = root_cause(error)
    if isinstance(cause, PublicError):
        return False
    if isinstance(cause, GraphQLError):
        return False
    if error.path is None and isinstance(cause, (ValueError, TypeError)):
        return False
    return True


class MaskUnexpectedErrors(MaskErrors):
    """strawberry's MaskErrors with our rule, and a code clients can switch on."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=masked_message)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if error.path is None and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": document_error_code}
        return processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if database_unavailable(error):  # its own text may hold SQL: the client gets ours
            return GraphQLError(
                message=unavailable_message, nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                original_error=None, extensions={"code": unavailable_code, "retryAfterSeconds": unavailable_retry_after_seconds},
            )
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": masked_code},
        )


class RefuseNulCharacters(ValidationRule):
    """A document error for a string literal holding NUL (U+0000, e.g. written "\\u0000") or a lone surrogate.

    No field accepts them and no text column can store them (PostgreSQL refuses NUL in text; a lone
    UTF-16 surrogate is no character at all): left in, one failed the statement that received it and
    came back as an unexpected error. (In variables the HTTP layer refuses them.)
    """

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError("String values may not contain NUL characters (U+0000).", node))
        elif not node.value.isascii() and any("\ud800" <= ch <= "\udfff" for ch in node.value):
            self.report_error(GraphQLError("String values may not contain lone UTF-16 surrogates (U+D800 to U+DFFF).", node))
